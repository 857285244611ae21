// The SVG chart builder. Layout is computed from estimated text widths (no font metrics are
// available offline), with margins sized to the longest tick label and legend entry.
#include "experiments/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kelvin::plot {

namespace {

constexpr const char* kFont =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
constexpr double kTickFont = 11, kLabelFont = 12, kTitleFont = 14, kLegendFont = 11,
                 kPointFont = 10;

// Number of characters (UTF-8 code points) in s.
size_t text_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// Estimated width in pixels of s at font size `size`: an average sans-serif glyph is ~0.6 em (DejaVu Sans; Arial is narrower).
double text_width(const std::string& s, double size) { return 0.6 * size * text_length(s); }

// The first `chars` code points of s, with an ellipsis when something was cut.
std::string truncate_text(const std::string& s, size_t chars) {
    if (text_length(s) <= chars) return s;
    std::string out;
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if ((c & 0xC0) != 0x80 && ++n > (chars > 0 ? chars - 1 : 0)) break;
        out += s[i];
    }
    return out + "\u2026";
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

// "-" to the typographic minus sign, and "-0" to "0".
std::string tidy_minus(std::string s) {
    if (s.empty() || s[0] != '-') return s;
    if (s.find_first_not_of("-0.") == std::string::npos) return s.substr(1);
    return "\u2212" + s.substr(1);
}

std::string superscript(int exponent) {
    static const char* digits[] = {"\u2070", "\u00b9", "\u00b2", "\u00b3", "\u2074",
                                   "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
    std::string out = exponent < 0 ? "\u207b" : "";
    for (char c : std::to_string(std::abs(exponent))) out += digits[c - '0'];
    return out;
}

// 1, 2 or 5 x 10^k, the smallest not below raw.
double nice_step(double raw) {
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / magnitude;
    const double nice = f <= 1.0 + 1e-9 ? 1 : f <= 2.0 + 1e-9 ? 2 : f <= 5.0 + 1e-9 ? 5 : 10;
    return nice * magnitude;
}

struct Point {
    double x, y;
};

}  // namespace

std::string escape_xml(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string format_number(double value, double step) {
    if (!std::isfinite(value)) return std::isnan(value) ? "NaN" : (value > 0 ? "\u221e" : "\u2212\u221e");
    const double s = step > 0 && std::isfinite(step) ? step : std::max(std::fabs(value), 1e-300);
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(s) + 1e-9)));
    char buf[48];
    if (decimals <= 5 && std::fabs(value) < 1e6) {
        std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    } else {
        std::snprintf(buf, sizeof buf, "%.3g", value);
    }
    return tidy_minus(buf);
}

Axis linear_axis(double lo, double hi, int target) {
    Axis axis;
    if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
    if (lo > hi) std::swap(lo, hi);
    if (hi - lo <= 1e-12 * std::max(std::fabs(lo), std::fabs(hi))) {
        const double d = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
        lo -= d;
        hi += d;
    }
    const double step = nice_step((hi - lo) / std::max(1, target));
    const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
    axis.lo = first * step;
    axis.hi = last * step;
    for (double k = first; k <= last + 0.5; k += 1) {
        double v = k * step;
        if (std::fabs(v) < step * 1e-9) v = 0;
        axis.ticks.push_back(v);
        axis.labels.push_back(format_number(v, step));
    }
    return axis;
}

Axis log_axis(double lo, double hi) {
    Axis axis;
    if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) lo = 1, hi = 10;
    if (lo > hi) std::swap(lo, hi);
    int d0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
    int d1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
    if (d1 <= d0) {  // a single value on a power of ten: one decade either side
        d0 -= 1;
        d1 += 1;
    }
    const int decades = d1 - d0;
    const int every = (decades + 5) / 6;  // at most ~7 labelled decades
    d1 = d0 + every * ((decades + every - 1) / every);
    axis.lo = std::pow(10.0, d0);
    axis.hi = std::pow(10.0, d1);
    std::vector<double> values;
    for (int d = d0; d <= d1; ++d) {
        const double p = std::pow(10.0, d);
        if ((d - d0) % every == 0) values.push_back(p);
        if (d == d1) break;
        if (every == 1 && decades <= 2) {
            values.push_back(2 * p);
            values.push_back(5 * p);
        }
        if (every == 1 && decades <= 6)
            for (int m = 2; m <= 9; ++m)
                if (!(decades <= 2 && (m == 2 || m == 5))) axis.minor.push_back(m * p);
    }
    std::sort(values.begin(), values.end());
    // Plain numbers while they stay short, powers of ten otherwise.
    const bool plain = axis.lo >= 1e-3 && axis.hi <= 1e4;
    for (double v : values) {
        axis.ticks.push_back(v);
        if (plain) {
            axis.labels.push_back(format_number(v, v));
        } else {
            const int e = static_cast<int>(std::floor(std::log10(v) + 1e-9));
            const int mantissa = static_cast<int>(std::lround(v / std::pow(10.0, e)));
            axis.labels.push_back((mantissa == 1 ? "" : std::to_string(mantissa) + "\u00d7") +
                                  "10" + superscript(e));
        }
    }
    return axis;
}

std::string render_svg(const PlotSpec& spec, int width, int height) {
    const double W = width, H = height;
    const bool categorical = !spec.x_category_labels.empty();
    const bool log_x = spec.log_x && !categorical, log_y = spec.log_y;
    auto usable_x = [&](double v) { return std::isfinite(v) && (!log_x || v > 0); };
    auto usable_y = [&](double v) { return std::isfinite(v) && (!log_y || v > 0); };

    // ---- the drawable points of each series, split at skipped points ----
    std::vector<std::vector<std::vector<size_t>>> runs(spec.series.size());
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    bool any_point = false;
    for (size_t s = 0; s < spec.series.size(); ++s) {
        const Series& series = spec.series[s];
        const size_t n = std::min(series.x.size(), series.y.size());
        std::vector<size_t> current;
        for (size_t i = 0; i < n; ++i) {
            const double x = series.x[i], y = series.y[i];
            if (usable_x(x) && usable_y(y)) {
                current.push_back(i);
                x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
                y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
                any_point = true;
            } else if (!current.empty()) {
                runs[s].push_back(std::move(current));
                current.clear();
            }
        }
        if (!current.empty()) runs[s].push_back(std::move(current));
    }

    // ---- axes ----
    Axis x_axis, y_axis;
    if (any_point) {
        for (const ReferenceLine& line : spec.hlines)
            if (usable_y(line.y)) y_lo = std::min(y_lo, line.y), y_hi = std::max(y_hi, line.y);
        if (usable_y(spec.y_min)) y_lo = std::min(y_lo, spec.y_min);
        if (usable_y(spec.y_max)) y_hi = std::max(y_hi, spec.y_max);
        if (usable_x(spec.x_min)) x_lo = std::min(x_lo, spec.x_min);
        if (usable_x(spec.x_max)) x_hi = std::max(x_hi, spec.x_max);
        y_axis = log_y ? log_axis(y_lo, y_hi) : linear_axis(y_lo, y_hi);
        if (categorical) {
            x_axis.lo = -0.5;
            x_axis.hi = static_cast<double>(spec.x_category_labels.size()) - 0.5;
            for (size_t i = 0; i < spec.x_category_labels.size(); ++i) {
                x_axis.ticks.push_back(static_cast<double>(i));
                x_axis.labels.push_back(spec.x_category_labels[i]);
            }
            x_axis.lo = std::min(x_axis.lo, x_lo - 0.5);
            x_axis.hi = std::max(x_axis.hi, x_hi + 0.5);
        } else {
            x_axis = log_x ? log_axis(x_lo, x_hi) : linear_axis(x_lo, x_hi);
        }
    }

    // ---- layout ----
    std::vector<size_t> legend;
    for (size_t s = 0; s < spec.series.size(); ++s)
        if (!spec.series[s].label.empty()) legend.push_back(s);
    double legend_width = 0;
    for (size_t s : legend)
        legend_width = std::max(legend_width, text_width(spec.series[s].label, kLegendFont) + 34);
    legend_width = std::min(legend_width, 0.36 * W);
    double y_tick_width = 0;
    for (const std::string& label : y_axis.labels)
        y_tick_width = std::max(y_tick_width, text_width(label, kTickFont));
    const double left = 12 + kLabelFont + 8 + y_tick_width + 6;
    const double right = legend.empty() ? 16 : legend_width + 22;
    const double top = 36;
    double plot_w = W - left - right;

    // Category labels: horizontal when they fit, else rotated; every k-th when crowded.
    bool rotate = false;
    size_t label_every = 1;
    double x_tick_height = kTickFont + 6;
    if (categorical && any_point) {
        const size_t n = x_axis.labels.size();
        double widest = 0;
        for (const std::string& label : x_axis.labels)
            widest = std::max(widest, text_width(label, kTickFont));
        if ((widest + 8) * n > plot_w) {
            rotate = true;
            label_every = std::max<size_t>(1, static_cast<size_t>(std::ceil((kTickFont + 3) * n / plot_w)));
            widest = std::min(widest, text_width(std::string(18, 'x'), kTickFont));
            x_tick_height = widest * std::sin(40 * M_PI / 180) + kTickFont + 6;
        }
    }
    const double bottom = 10 + x_tick_height + kLabelFont + 10;
    const double px0 = left, px1 = left + plot_w, py0 = top, py1 = H - bottom;

    auto tx = [&](double t) { return log_x ? std::log10(t) : t; };
    auto ty = [&](double t) { return log_y ? std::log10(t) : t; };
    auto map_x = [&](double x) {
        return px0 + (tx(x) - tx(x_axis.lo)) / (tx(x_axis.hi) - tx(x_axis.lo)) * (px1 - px0);
    };
    auto map_y = [&](double y) {
        return py1 - (ty(y) - ty(y_axis.lo)) / (ty(y_axis.hi) - ty(y_axis.lo)) * (py1 - py0);
    };

    // ---- drawing ----
    std::string o;
    o += "<svg class=\"plot\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
         std::to_string(height) + "\" role=\"img\" font-family=\"" + kFont + "\">\n";
    o += "<title>" + escape_xml(spec.title) + "</title>\n";
    o += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    {
        double size = kTitleFont;
        std::string title = spec.title;
        if (text_width(title, size) > W - 16) size = 12;
        const size_t fits = static_cast<size_t>((W - 16) / (0.6 * size));
        o += "<text class=\"plot-title\" x=\"" + fmt(W / 2) + "\" y=\"22\" text-anchor=\"middle\" "
             "font-size=\"" + fmt(size) + "\" font-weight=\"600\" fill=\"#222\">" +
             escape_xml(truncate_text(title, fits)) + "</text>\n";
    }
    o += "<rect x=\"" + fmt(px0) + "\" y=\"" + fmt(py0) + "\" width=\"" + fmt(px1 - px0) +
         "\" height=\"" + fmt(py1 - py0) + "\" fill=\"none\" stroke=\"#c8c8c8\"/>\n";

    if (!any_point) {
        o += "<text class=\"no-data\" x=\"" + fmt((px0 + px1) / 2) + "\" y=\"" + fmt((py0 + py1) / 2) +
             "\" text-anchor=\"middle\" font-size=\"13\" fill=\"#888\">no data</text>\n";
    } else {
        // Grid and ticks.
        o += "<g class=\"grid\" stroke=\"#ececec\" stroke-width=\"1\">\n";
        for (double v : y_axis.ticks) {
            const double y = map_y(v);
            o += "<line x1=\"" + fmt(px0) + "\" x2=\"" + fmt(px1) + "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) + "\"/>\n";
        }
        for (double v : x_axis.ticks) {
            const double x = map_x(v);
            o += "<line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" + fmt(py0) + "\" y2=\"" + fmt(py1) + "\"/>\n";
        }
        o += "</g>\n<g class=\"axes\" stroke=\"#444\" stroke-width=\"1\">\n";
        o += "<line x1=\"" + fmt(px0) + "\" x2=\"" + fmt(px1) + "\" y1=\"" + fmt(py1) + "\" y2=\"" + fmt(py1) + "\"/>\n";
        o += "<line x1=\"" + fmt(px0) + "\" x2=\"" + fmt(px0) + "\" y1=\"" + fmt(py0) + "\" y2=\"" + fmt(py1) + "\"/>\n";
        for (double v : y_axis.ticks)
            o += "<line x1=\"" + fmt(px0 - 5) + "\" x2=\"" + fmt(px0) + "\" y1=\"" + fmt(map_y(v)) + "\" y2=\"" + fmt(map_y(v)) + "\"/>\n";
        for (double v : y_axis.minor)
            o += "<line x1=\"" + fmt(px0 - 3) + "\" x2=\"" + fmt(px0) + "\" y1=\"" + fmt(map_y(v)) + "\" y2=\"" + fmt(map_y(v)) + "\"/>\n";
        for (double v : x_axis.ticks)
            o += "<line x1=\"" + fmt(map_x(v)) + "\" x2=\"" + fmt(map_x(v)) + "\" y1=\"" + fmt(py1) + "\" y2=\"" + fmt(py1 + 5) + "\"/>\n";
        for (double v : x_axis.minor)
            o += "<line x1=\"" + fmt(map_x(v)) + "\" x2=\"" + fmt(map_x(v)) + "\" y1=\"" + fmt(py1) + "\" y2=\"" + fmt(py1 + 3) + "\"/>\n";
        o += "</g>\n<g class=\"tick-labels\" font-size=\"" + fmt(kTickFont) + "\" fill=\"#333\">\n";
        for (size_t i = 0; i < y_axis.ticks.size(); ++i)
            o += "<text x=\"" + fmt(px0 - 8) + "\" y=\"" + fmt(map_y(y_axis.ticks[i]) + 4) +
                 "\" text-anchor=\"end\">" + escape_xml(y_axis.labels[i]) + "</text>\n";
        for (size_t i = 0; i < x_axis.ticks.size(); ++i) {
            if (i % label_every != 0) continue;
            const double x = map_x(x_axis.ticks[i]), y = py1 + 8 + kTickFont;
            if (rotate) {
                const std::string& full = x_axis.labels[i];
                o += "<text x=\"" + fmt(x + 3) + "\" y=\"" + fmt(py1 + 12) + "\" text-anchor=\"end\" transform=\"rotate(-40 " +
                     fmt(x + 3) + " " + fmt(py1 + 12) + ")\">" + escape_xml(truncate_text(full, 18)) + "</text>\n";
            } else {
                o += "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" text-anchor=\"middle\">" +
                     escape_xml(x_axis.labels[i]) + "</text>\n";
            }
        }
        o += "</g>\n";

        // Reference lines.
        for (const ReferenceLine& line : spec.hlines) {
            if (!usable_y(line.y)) continue;
            const double y = map_y(line.y);
            o += "<g class=\"reference\"><line x1=\"" + fmt(px0) + "\" x2=\"" + fmt(px1) + "\" y1=\"" + fmt(y) +
                 "\" y2=\"" + fmt(y) + "\" stroke=\"#666\" stroke-width=\"1\" stroke-dasharray=\"4 3\"/>";
            if (!line.label.empty())
                o += "<text x=\"" + fmt(px1 - 4) + "\" y=\"" + fmt(y - 4) +
                     "\" text-anchor=\"end\" font-size=\"10\" fill=\"#555\" stroke=\"#fff\" stroke-width=\"3\" "
                     "paint-order=\"stroke\">" + escape_xml(line.label) + "</text>";
            o += "</g>\n";
        }

        // Series.
        for (size_t s = 0; s < spec.series.size(); ++s) {
            if (runs[s].empty()) continue;
            const Series& series = spec.series[s];
            const int index = series.color >= 0 ? series.color : static_cast<int>(s);
            const std::string colour = kPalette[index % kPaletteSize];
            o += "<g class=\"series\" data-label=\"" + escape_xml(series.label) + "\">\n";
            if (series.lines) {
                std::string d;
                for (const auto& run : runs[s])
                    for (size_t k = 0; k < run.size(); ++k)
                        d += (k == 0 ? "M" : "L") + fmt(map_x(series.x[run[k]])) + "," +
                             fmt(map_y(series.y[run[k]])) + " ";
                if (!d.empty()) d.pop_back();
                o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colour +
                     "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" +
                     (series.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
            }
            for (const auto& run : runs[s]) {
                const bool dot = series.markers || !series.lines || run.size() == 1;
                for (size_t i : run) {
                    const double x = map_x(series.x[i]), y = map_y(series.y[i]);
                    if (dot)
                        o += "<circle cx=\"" + fmt(x) + "\" cy=\"" + fmt(y) + "\" r=\"3.5\" fill=\"" + colour +
                             "\" stroke=\"#fff\" stroke-width=\"1\"/>\n";
                    if (i < series.point_labels.size() && !series.point_labels[i].empty()) {
                        const std::string& text = series.point_labels[i];
                        const bool flip = x + 7 + text_width(text, kPointFont) > px1;
                        o += "<text x=\"" + fmt(flip ? x - 7 : x + 7) + "\" y=\"" + fmt(y - 6) + "\" font-size=\"" +
                             fmt(kPointFont) + "\" fill=\"#222\" text-anchor=\"" + (flip ? "end" : "start") +
                             "\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">" + escape_xml(text) +
                             "</text>\n";
                    }
                }
            }
            o += "</g>\n";
        }
    }

    // Axis labels.
    if (!spec.x_label.empty())
        o += "<text class=\"x-label\" x=\"" + fmt((px0 + px1) / 2) + "\" y=\"" + fmt(H - 10) +
             "\" text-anchor=\"middle\" font-size=\"" + fmt(kLabelFont) + "\" fill=\"#222\">" +
             escape_xml(spec.x_label) + "</text>\n";
    if (!spec.y_label.empty()) {
        const double x = 12 + kLabelFont - 2, y = (py0 + py1) / 2;
        o += "<text class=\"y-label\" x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" transform=\"rotate(-90 " + fmt(x) +
             " " + fmt(y) + ")\" text-anchor=\"middle\" font-size=\"" + fmt(kLabelFont) + "\" fill=\"#222\">" +
             escape_xml(spec.y_label) + "</text>\n";
    }

    // Legend, right of the plot area; entries that do not fit are counted in a last line.
    if (!legend.empty()) {
        const double lx = px1 + 14;
        const double available = H - py0 - 8;
        const double line_height = std::max(13.0, std::min(18.0, available / legend.size()));
        size_t shown = std::min(legend.size(), static_cast<size_t>(available / line_height));
        if (shown < legend.size() && shown > 0) --shown;  // room for "+ k more"
        const size_t fits = static_cast<size_t>(std::max(4.0, (legend_width - 34) / (0.6 * kLegendFont)));
        o += "<g class=\"legend\" font-size=\"" + fmt(kLegendFont) + "\" fill=\"#222\">\n";
        for (size_t k = 0; k < shown; ++k) {
            const Series& series = spec.series[legend[k]];
            const int index = series.color >= 0 ? series.color : static_cast<int>(legend[k]);
            const std::string colour = kPalette[index % kPaletteSize];
            const double y = py0 + 8 + k * line_height;
            o += "<g class=\"legend-entry\">";
            if (series.lines)
                o += "<line x1=\"" + fmt(lx) + "\" x2=\"" + fmt(lx + 22) + "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) +
                     "\" stroke=\"" + colour + "\" stroke-width=\"2\"" +
                     (series.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
            if (series.markers || !series.lines)
                o += "<circle cx=\"" + fmt(lx + 11) + "\" cy=\"" + fmt(y) + "\" r=\"3.5\" fill=\"" + colour + "\"/>";
            o += "<text x=\"" + fmt(lx + 28) + "\" y=\"" + fmt(y + 4) + "\">";
            if (text_length(series.label) > fits) o += "<title>" + escape_xml(series.label) + "</title>";
            o += escape_xml(truncate_text(series.label, fits)) + "</text></g>\n";
        }
        if (shown < legend.size())
            o += "<text x=\"" + fmt(lx) + "\" y=\"" + fmt(py0 + 12 + shown * line_height) + "\" fill=\"#666\">+ " +
                 std::to_string(legend.size() - shown) + " more</text>\n";
        o += "</g>\n";
    }
    o += "</svg>\n";
    return o;
}

}  // namespace kelvin::plot
