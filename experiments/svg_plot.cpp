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
                 kPointFont = 10, kReferenceFont = 10;
constexpr double kPadding = 0.04;  // of the axis span, either side of the data
constexpr double kRotation = 40;   // degrees, of category labels too wide to lie flat
constexpr double kPi = 3.14159265358979323846;

// ---- text -------------------------------------------------------------------------------------

// Number of characters (UTF-8 code points) in s.
size_t text_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// Estimated width in pixels at font size `size`: ~0.6 em a glyph (DejaVu Sans; Arial is narrower,
// so estimates err on the roomy side).
double text_width(const std::string& s, double size) { return 0.6 * size * text_length(s); }
size_t chars_that_fit(double pixels, double size) {
    return static_cast<size_t>(std::max(1.0, pixels / (0.6 * size)));
}

// Byte offset of the code point number `chars` in s (s.size() when s is shorter).
size_t byte_offset(const std::string& s, size_t chars) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && n++ == chars) return i;
    return s.size();
}

// The first `chars` code points of s, the last one an ellipsis when something was cut.
std::string truncate_text(const std::string& s, size_t chars) {
    if (text_length(s) <= chars) return s;
    return s.substr(0, byte_offset(s, chars > 0 ? chars - 1 : 0)) + "\u2026";
}

// s on at most two lines of `chars`, broken after a space or punctuation where possible.
std::vector<std::string> wrap_two_lines(const std::string& s, size_t chars) {
    if (text_length(s) <= chars) return {s};
    const size_t limit = byte_offset(s, chars);
    size_t cut = std::string::npos;
    for (size_t i = limit; i-- > limit / 3;)
        if (std::string(" :=-_/,.").find(s[i]) != std::string::npos) {
            cut = i + 1;
            break;
        }
    if (cut == std::string::npos) cut = limit;
    std::string first = s.substr(0, cut), rest = s.substr(cut);
    while (!first.empty() && first.back() == ' ') first.pop_back();
    return {first, truncate_text(rest, chars)};
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

std::string attr(const char* name, double v) {
    return std::string(" ") + name + "=\"" + fmt(v) + "\"";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& extra = "") {
    return "<line" + attr("x1", x1) + attr("y1", y1) + attr("x2", x2) + attr("y2", y2) + extra +
           "/>";
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

// ---- geometry -----------------------------------------------------------------------------------

struct Point {
    double x, y;
};

struct Box {
    double x0, y0, x1, y1;
    bool overlaps(const Box& o) const {
        return x0 <= o.x1 && o.x0 <= x1 && y0 <= o.y1 && o.y0 <= y1;
    }
};

// Maps data to pixels on one axis.
struct Scale {
    double lo, hi, p0, p1;
    bool log;
    double t(double v) const { return log ? std::log10(v) : v; }
    double operator()(double v) const { return p0 + (t(v) - t(lo)) / (t(hi) - t(lo)) * (p1 - p0); }
};

// [lo, hi] widened by kPadding of its span (in decades on a log axis).
void pad(double& lo, double& hi, bool log) {
    if (log) {
        const double span = std::max(std::log10(hi / lo), 0.0);
        const double f = std::pow(10.0, kPadding * std::max(span, 0.5));
        lo /= f, hi *= f;
    } else if (hi > lo) {
        const double span = hi - lo;
        lo -= kPadding * span, hi += kPadding * span;
    }
}

const char* colour_of(const Series& s, size_t position) {
    const int index = s.color >= 0 ? s.color : static_cast<int>(position);
    return kPalette[index % kPaletteSize];
}

}  // namespace

// ---- public helpers -----------------------------------------------------------------------------

std::string escape_xml(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string format_number(double value, double step) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "\u221e" : "\u2212\u221e";
    const double s = step > 0 && std::isfinite(step) ? step : std::max(std::fabs(value), 1e-300);
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(s) + 1e-9)));
    char buf[48];
    if (decimals <= 5 && std::fabs(value) < 1e6)
        std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    else
        std::snprintf(buf, sizeof buf, "%.3g", value);
    return tidy_minus(buf);
}

Axis linear_axis(double lo, double hi, int target, bool integer) {
    Axis axis;
    if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
    if (lo > hi) std::swap(lo, hi);
    if (hi - lo <= 1e-12 * std::max(std::fabs(lo), std::fabs(hi))) {
        const double d = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
        lo -= d, hi += d;
    }
    axis.lo = lo, axis.hi = hi;
    // The 1-2-5 step whose tick count is closest to the target.
    const double span = hi - lo, raw = span / std::max(1, target);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (std::fabs(span / (m * magnitude) - target) < std::fabs(span / step - target))
            step = m * magnitude;
    if (integer) step = std::max(step, 1.0);
    for (double k = std::ceil(lo / step - 1e-9); k <= std::floor(hi / step + 1e-9); k += 1) {
        double v = k * step;
        if (std::fabs(v) < step * 1e-9) v = 0;
        axis.ticks.push_back(v);
        axis.labels.push_back(format_number(v, step));
    }
    return axis;
}

Axis log_axis(double lo, double hi) {
    if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) lo = 1, hi = 10;
    if (lo > hi) std::swap(lo, hi);
    if (hi / lo < 1 + 1e-9) lo /= std::sqrt(10.0), hi *= std::sqrt(10.0);
    Axis axis;
    axis.lo = lo, axis.hi = hi;
    const int d0 = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
    const int d1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
    const int every = std::max(1, (d1 - d0 + 5) / 6);  // at most ~7 labelled decades
    auto inside = [&](double v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); };
    std::vector<double> values;
    for (int d = d0; d <= d1; ++d)
        if (((d % every) + every) % every == 0) values.push_back(std::pow(10.0, d));
    if (values.size() < 3)
        for (int d = d0 - 1; d <= d1; ++d)
            for (double m : {2.0, 5.0})
                if (inside(m * std::pow(10.0, d))) values.push_back(m * std::pow(10.0, d));
    if (values.size() < 2) return linear_axis(lo, hi, 4);
    std::sort(values.begin(), values.end());
    if (every == 1 && d1 - d0 <= 6)
        for (int d = d0 - 1; d <= d1; ++d)
            for (int m = 2; m <= 9; ++m) {
                const double v = m * std::pow(10.0, d);
                if (inside(v) && std::find(values.begin(), values.end(), v) == values.end())
                    axis.minor.push_back(v);
            }
    // Plain numbers while they stay short, powers of ten otherwise.
    const bool plain = values.front() >= 1e-3 && values.back() <= 1e4;
    for (double v : values) {
        axis.ticks.push_back(v);
        const int e = static_cast<int>(std::floor(std::log10(v) + 1e-9));
        if (plain) {
            axis.labels.push_back(format_number(v, std::pow(10.0, e)));
        } else {
            const long mantissa = std::lround(v / std::pow(10.0, e));
            axis.labels.push_back((mantissa == 1 ? "" : std::to_string(mantissa) + "\u00d7") +
                                  "10" + superscript(e));
        }
    }
    return axis;
}

// ---- the chart ----------------------------------------------------------------------------------

namespace {

// What the drawing stages share: the spec, its drawable points, the axes and the pixel layout.
struct Layout {
    const PlotSpec& spec;
    double W = 0, H = 0;
    bool categorical = false, log_x = false, log_y = false;
    // The drawable points of each series, in runs split at skipped points.
    std::vector<std::vector<std::vector<size_t>>> runs = {};
    bool any_point = false;
    Axis x_axis = {}, y_axis = {};
    std::vector<size_t> legend = {};  // the series with a label
    double legend_width = 0;
    bool rotate = false;  // category labels rotated
    size_t label_every = 1;
    double px0 = 0, px1 = 0, py0 = 0, py1 = 0;
    Scale sx{0, 1, 0, 1, false}, sy{0, 1, 0, 1, false};

    bool usable_x(double v) const { return std::isfinite(v) && (!log_x || v > 0); }
    bool usable_y(double v) const { return std::isfinite(v) && (!log_y || v > 0); }
};

constexpr size_t kRotatedChars = 16;

struct Bounds {
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
};

Bounds collect_runs(Layout& L) {
    Bounds b;
    L.runs.assign(L.spec.series.size(), {});
    for (size_t s = 0; s < L.spec.series.size(); ++s) {
        const Series& series = L.spec.series[s];
        std::vector<size_t> current;
        for (size_t i = 0; i < std::min(series.x.size(), series.y.size()); ++i) {
            const double x = series.x[i], y = series.y[i];
            if (L.usable_x(x) && L.usable_y(y)) {
                current.push_back(i);
                b.x_lo = std::min(b.x_lo, x), b.x_hi = std::max(b.x_hi, x);
                b.y_lo = std::min(b.y_lo, y), b.y_hi = std::max(b.y_hi, y);
            } else if (!current.empty()) {
                L.runs[s].push_back(std::move(current));
                current.clear();
            }
        }
        if (!current.empty()) L.runs[s].push_back(std::move(current));
        // The intervals of the drawable points widen the axes too.
        auto widen = [&](const std::vector<double>& bounds, bool is_x) {
            for (const auto& run : L.runs[s])
                for (size_t i : run) {
                    if (i >= bounds.size()) continue;
                    const double v = bounds[i];
                    if (is_x && L.usable_x(v)) b.x_lo = std::min(b.x_lo, v), b.x_hi = std::max(b.x_hi, v);
                    if (!is_x && L.usable_y(v)) b.y_lo = std::min(b.y_lo, v), b.y_hi = std::max(b.y_hi, v);
                }
        };
        widen(series.y_low, false), widen(series.y_high, false);
        widen(series.x_low, true), widen(series.x_high, true);
    }
    L.any_point = b.x_lo <= b.x_hi;
    return b;
}

void make_axes(Layout& L, Bounds b) {
    const PlotSpec& spec = L.spec;
    for (const ReferenceLine& ref : spec.hlines)
        if (L.usable_y(ref.y)) b.y_lo = std::min(b.y_lo, ref.y), b.y_hi = std::max(b.y_hi, ref.y);
    if (L.usable_y(spec.y_min)) b.y_lo = std::min(b.y_lo, spec.y_min);
    if (L.usable_y(spec.y_max)) b.y_hi = std::max(b.y_hi, spec.y_max);
    if (L.usable_x(spec.x_min)) b.x_lo = std::min(b.x_lo, spec.x_min);
    if (L.usable_x(spec.x_max)) b.x_hi = std::max(b.x_hi, spec.x_max);
    pad(b.y_lo, b.y_hi, L.log_y);
    for (const Series& series : spec.series)  // room above the top point for its label
        if (!series.point_labels.empty() && !L.log_y) {
            b.y_hi += 0.05 * (b.y_hi - b.y_lo);
            break;
        }
    L.y_axis = L.log_y ? log_axis(b.y_lo, b.y_hi) : linear_axis(b.y_lo, b.y_hi, 5, spec.y_integer);
    if (L.categorical) {
        L.x_axis.lo = std::min(-0.5, b.x_lo - 0.5);
        L.x_axis.hi =
            std::max(static_cast<double>(spec.x_category_labels.size()) - 0.5, b.x_hi + 0.5);
        for (size_t i = 0; i < spec.x_category_labels.size(); ++i) {
            L.x_axis.ticks.push_back(static_cast<double>(i));
            L.x_axis.labels.push_back(spec.x_category_labels[i]);
        }
    } else {
        pad(b.x_lo, b.x_hi, L.log_x);
        L.x_axis = L.log_x ? log_axis(b.x_lo, b.x_hi)
                           : linear_axis(b.x_lo, b.x_hi, 6, spec.x_integer);
    }
}

// Margins from the text they hold; category labels horizontal when they fit, else rotated (and
// every k-th when crowded).
void make_margins(Layout& L) {
    const PlotSpec& spec = L.spec;
    for (size_t s = 0; s < spec.series.size(); ++s)
        if (!spec.series[s].label.empty()) L.legend.push_back(s);
    for (size_t s : L.legend)
        L.legend_width = std::max(L.legend_width, text_width(spec.series[s].label, kLegendFont) + 34);
    L.legend_width = std::min(L.legend_width, 0.3 * L.W);
    double y_tick_width = 0;
    for (const std::string& label : L.y_axis.labels)
        y_tick_width = std::max(y_tick_width, text_width(label, kTickFont));
    const double left = 10 + kLabelFont + 10 + y_tick_width + 8;
    const double right = L.legend.empty() ? 16 : L.legend_width + 20;
    const double top = 34;
    const double plot_w = std::max(40.0, L.W - left - right);
    double x_tick_height = kTickFont + 6;
    if (L.categorical && L.any_point) {
        const size_t n = L.x_axis.labels.size();
        double widest = 0;
        for (const std::string& label : L.x_axis.labels)
            widest = std::max(widest, text_width(label, kTickFont));
        if ((widest + 8) * n > plot_w) {
            L.rotate = true;
            L.label_every = static_cast<size_t>(std::ceil((kTickFont + 4) * n / plot_w));
            widest = std::min(widest, text_width(std::string(kRotatedChars, 'x'), kTickFont));
            x_tick_height = widest * std::sin(kRotation * kPi / 180) + kTickFont + 4;
        }
    }
    const double bottom = 8 + x_tick_height + kLabelFont + 12;
    L.px0 = left, L.px1 = left + plot_w, L.py0 = top, L.py1 = std::max(top + 40, L.H - bottom);
    L.sx = Scale{L.x_axis.lo, L.x_axis.hi, L.px0, L.px1, L.log_x};
    L.sy = Scale{L.y_axis.lo, L.y_axis.hi, L.py1, L.py0, L.log_y};
}

std::string frame_svg(const Layout& L, int width, int height) {
    std::string o;
    o += "<svg class=\"plot\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
         std::to_string(height) + "\" role=\"img\" font-family=\"" + kFont + "\">\n";
    o += "<title>" + escape_xml(L.spec.title) + "</title>\n";
    o += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    const double size = text_width(L.spec.title, kTitleFont) > L.W - 16 ? 12 : kTitleFont;
    o += "<text class=\"plot-title\"" + attr("x", L.W / 2) + " y=\"21\" text-anchor=\"middle\"" +
         attr("font-size", size) + " font-weight=\"600\" fill=\"#222\">" +
         escape_xml(truncate_text(L.spec.title, chars_that_fit(L.W - 16, size))) + "</text>\n";
    o += "<rect" + attr("x", L.px0) + attr("y", L.py0) + attr("width", L.px1 - L.px0) +
         attr("height", L.py1 - L.py0) + " fill=\"none\" stroke=\"#c8c8c8\"/>\n";
    if (!L.any_point)
        o += "<text class=\"no-data\"" + attr("x", (L.px0 + L.px1) / 2) +
             attr("y", (L.py0 + L.py1) / 2) +
             " text-anchor=\"middle\" font-size=\"13\" fill=\"#888\">no data</text>\n";
    return o;
}

std::string grid_svg(const Layout& L) {
    const double px0 = L.px0, px1 = L.px1, py0 = L.py0, py1 = L.py1;
    std::string o = "<g class=\"grid\" stroke=\"#ececec\">\n";
    for (double v : L.y_axis.ticks) o += line(px0, L.sy(v), px1, L.sy(v)) + "\n";
    for (double v : L.x_axis.ticks) o += line(L.sx(v), py0, L.sx(v), py1) + "\n";
    o += "</g>\n<g class=\"axes\" stroke=\"#444\">\n";
    o += line(px0, py1, px1, py1) + line(px0, py0, px0, py1) + "\n";
    for (double v : L.y_axis.ticks) o += line(px0 - 5, L.sy(v), px0, L.sy(v));
    for (double v : L.y_axis.minor) o += line(px0 - 3, L.sy(v), px0, L.sy(v));
    for (double v : L.x_axis.ticks) o += line(L.sx(v), py1, L.sx(v), py1 + 5);
    for (double v : L.x_axis.minor) o += line(L.sx(v), py1, L.sx(v), py1 + 3);
    o += "\n</g>\n<g class=\"tick-labels\"" + attr("font-size", kTickFont) + " fill=\"#333\">\n";
    for (size_t i = 0; i < L.y_axis.ticks.size(); ++i)
        o += "<text" + attr("x", px0 - 8) + attr("y", L.sy(L.y_axis.ticks[i]) + 4) +
             " text-anchor=\"end\">" + escape_xml(L.y_axis.labels[i]) + "</text>\n";
    for (size_t i = 0; i < L.x_axis.ticks.size(); i += L.label_every) {
        const double x = L.sx(L.x_axis.ticks[i]);
        const std::string& label = L.x_axis.labels[i];
        if (L.rotate) {
            const double y = py1 + 13;
            o += "<text" + attr("x", x + 3) + attr("y", y) +
                 " text-anchor=\"end\" transform=\"rotate(-" + fmt(kRotation) + " " + fmt(x + 3) +
                 " " + fmt(y) + ")\">" + escape_xml(truncate_text(label, kRotatedChars)) +
                 "</text>\n";
        } else {
            o += "<text" + attr("x", x) + attr("y", py1 + 8 + kTickFont) +
                 " text-anchor=\"middle\">" + escape_xml(label) + "</text>\n";
        }
    }
    return o + "</g>\n";
}

// The series as pixel polylines, sampled every few pixels, to keep labels off the data.
std::vector<Point> ink_of(const Layout& L) {
    std::vector<Point> ink;
    const PlotSpec& spec = L.spec;
    for (size_t s = 0; s < spec.series.size(); ++s)
        for (const auto& run : L.runs[s])
            for (size_t k = 0; k < run.size(); ++k) {
                const Point b{L.sx(spec.series[s].x[run[k]]), L.sy(spec.series[s].y[run[k]])};
                if (k == 0 || !spec.series[s].lines) {
                    ink.push_back(b);
                    continue;
                }
                const Point a{L.sx(spec.series[s].x[run[k - 1]]),
                              L.sy(spec.series[s].y[run[k - 1]])};
                const int steps = std::max(1, static_cast<int>(std::hypot(b.x - a.x, b.y - a.y) / 3));
                for (int i = 1; i <= steps; ++i)
                    ink.push_back({a.x + (b.x - a.x) * i / steps, a.y + (b.y - a.y) * i / steps});
            }
    return ink;
}

// Reference lines into `o`; their labels (returned) go on top of the series, drawn last. A
// label takes the right or left end, above or below its line: the first place clear of data
// and of other labels, else the least crowded.
std::string reference_lines_svg(const Layout& L, std::string& o) {
    const std::vector<Point> ink = ink_of(L);
    std::string reference_labels;
    std::vector<Box> placed;
    for (const ReferenceLine& ref : L.spec.hlines) {
        if (!L.usable_y(ref.y)) continue;
        const double y = L.sy(ref.y), px0 = L.px0, px1 = L.px1;
        o += "<g class=\"reference\">" +
             line(px0, y, px1, y, " stroke=\"#666\" stroke-dasharray=\"4 3\"") + "</g>\n";
        if (ref.label.empty()) continue;
        const double w = text_width(ref.label, kReferenceFont), h = kReferenceFont + 2;
        const Box candidates[] = {{px1 - 4 - w, y - 2 - h, px1 - 4, y - 2},
                                  {px0 + 4, y - 2 - h, px0 + 4 + w, y - 2},
                                  {px1 - 4 - w, y + 2, px1 - 4, y + 2 + h},
                                  {px0 + 4, y + 2, px0 + 4 + w, y + 2 + h}};
        double best_cost = INFINITY;
        Box best = candidates[0];
        for (const Box& box : candidates) {
            if (box.y0 < L.py0 || box.y1 > L.py1) continue;
            double cost = 0;
            const Box near{box.x0 - 3, box.y0 - 3, box.x1 + 3, box.y1 + 3};
            for (const Point& p : ink) cost += near.overlaps({p.x, p.y, p.x, p.y}) ? 1 : 0;
            for (const Box& other : placed) cost += box.overlaps(other) ? 1000 : 0;
            if (cost < best_cost) best_cost = cost, best = box;
        }
        placed.push_back(best);
        reference_labels +=
            "<text class=\"reference-label\"" + attr("x", best.x0) + attr("y", best.y1 - 2) +
            attr("font-size", kReferenceFont) +
            " fill=\"#555\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">" +
            escape_xml(ref.label) + "</text>\n";
    }
    return reference_labels;
}

size_t series_index(const Layout& L, const Series& series) {
    return static_cast<size_t>(&series - L.spec.series.data());
}

// A bound at point i in pixels, clamped into the drawn range (a t interval of a positive
// quantity can reach below zero, which a log axis cannot show); NaN when there is none.
double bound_px(const std::vector<double>& bounds, size_t i, const Scale& scale, const Axis& axis,
                bool log) {
    if (i >= bounds.size() || !std::isfinite(bounds[i])) return NAN;
    double v = bounds[i];
    if (log && v <= 0) v = axis.lo;
    return scale(std::clamp(v, axis.lo, axis.hi));
}

// A line series' interval as bands, one closed path per stretch of points that have both
// bounds (a lone point gets a vertical bar); a scatter's as error bars with caps.
std::string interval_svg(const Layout& L, const Series& series, const std::string& colour) {
    if (series.y_low.empty() && series.x_low.empty()) return "";
    auto ylo = [&](size_t i) { return bound_px(series.y_low, i, L.sy, L.y_axis, L.log_y); };
    auto yhi = [&](size_t i) { return bound_px(series.y_high, i, L.sy, L.y_axis, L.log_y); };
    auto xlo = [&](size_t i) { return bound_px(series.x_low, i, L.sx, L.x_axis, L.log_x); };
    auto xhi = [&](size_t i) { return bound_px(series.x_high, i, L.sx, L.x_axis, L.log_x); };
    std::string band, bars;
    for (const auto& run : L.runs[series_index(L, series)]) {
        std::vector<size_t> stretch;
        auto flush = [&] {
            if (stretch.size() >= 2 && series.lines) {
                std::string d;
                for (size_t k = 0; k < stretch.size(); ++k)
                    d += (k ? "L" : "M") + fmt(L.sx(series.x[stretch[k]])) + "," + fmt(yhi(stretch[k])) + " ";
                for (size_t k = stretch.size(); k-- > 0;)
                    d += "L" + fmt(L.sx(series.x[stretch[k]])) + "," + fmt(ylo(stretch[k])) + " ";
                band += d + "Z ";
            } else {
                for (size_t i : stretch) {
                    const double x = L.sx(series.x[i]);
                    bars += "M" + fmt(x) + "," + fmt(ylo(i)) + "L" + fmt(x) + "," + fmt(yhi(i)) +
                            "M" + fmt(x - 3) + "," + fmt(ylo(i)) + "L" + fmt(x + 3) + "," + fmt(ylo(i)) +
                            "M" + fmt(x - 3) + "," + fmt(yhi(i)) + "L" + fmt(x + 3) + "," + fmt(yhi(i)) + " ";
                }
            }
            stretch.clear();
        };
        for (size_t i : run) {
            if (std::isfinite(ylo(i)) && std::isfinite(yhi(i))) stretch.push_back(i);
            else flush();
            if (std::isfinite(xlo(i)) && std::isfinite(xhi(i))) {
                const double y = L.sy(series.y[i]);
                bars += "M" + fmt(xlo(i)) + "," + fmt(y) + "L" + fmt(xhi(i)) + "," + fmt(y) +
                        "M" + fmt(xlo(i)) + "," + fmt(y - 3) + "L" + fmt(xlo(i)) + "," + fmt(y + 3) +
                        "M" + fmt(xhi(i)) + "," + fmt(y - 3) + "L" + fmt(xhi(i)) + "," + fmt(y + 3) + " ";
            }
        }
        flush();
    }
    std::string o;
    if (!band.empty()) {
        band.pop_back();
        o += "<path class=\"band\" d=\"" + band + "\" fill=\"" + colour +
             "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
    }
    if (!bars.empty()) {
        bars.pop_back();
        o += "<path class=\"error-bars\" d=\"" + bars + "\" fill=\"none\" stroke=\"" + colour +
             "\" stroke-width=\"1.2\" stroke-opacity=\"0.8\"/>\n";
    }
    return o;
}

std::string series_svg(const Layout& L, size_t s) {
    const Series& series = L.spec.series[s];
    const std::string colour = colour_of(series, s);
    std::string o = std::string("<g class=\"series") + (series.faint ? " faint" : "") +
                    "\" data-label=\"" + escape_xml(series.label) + "\"" +
                    (series.faint ? " opacity=\"0.3\"" : "") + ">\n";
    o += interval_svg(L, series, colour);
    if (series.lines) {
        std::string d;
        for (const auto& run : L.runs[s])
            for (size_t k = 0; k < run.size(); ++k)
                d += (k == 0 ? "M" : "L") + fmt(L.sx(series.x[run[k]])) + "," +
                     fmt(L.sy(series.y[run[k]])) + " ";
        d.pop_back();
        o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colour +
             "\" stroke-width=\"" + (series.faint ? "1" : "2") +
             "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" +
             (series.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
    }
    for (const auto& run : L.runs[s]) {
        const bool dot = series.markers || !series.lines || run.size() == 1;
        for (size_t i : run) {
            const double x = L.sx(series.x[i]), y = L.sy(series.y[i]);
            if (dot)
                o += "<circle" + attr("cx", x) + attr("cy", y) + (series.faint ? " r=\"2\"" : " r=\"3.5\"") +
                     " fill=\"" + colour +
                     "\" stroke=\"#fff\" stroke-width=\"1\"/>\n";
            if (i < series.point_labels.size() && !series.point_labels[i].empty()) {
                const std::string& label = series.point_labels[i];
                const bool flip = x + 7 + text_width(label, kPointFont) > L.px1;
                o += "<text" + attr("x", flip ? x - 7 : x + 7) + attr("y", y - 6) +
                     attr("font-size", kPointFont) + " fill=\"#222\" text-anchor=\"" +
                     (flip ? "end" : "start") +
                     "\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">" +
                     escape_xml(label) + "</text>\n";
            }
        }
    }
    return o + "</g>\n";
}

std::string axis_labels_svg(const Layout& L) {
    std::string o;
    if (!L.spec.x_label.empty())
        o += "<text class=\"x-label\"" + attr("x", (L.px0 + L.px1) / 2) + attr("y", L.H - 10) +
             " text-anchor=\"middle\"" + attr("font-size", kLabelFont) + " fill=\"#222\">" +
             escape_xml(L.spec.x_label) + "</text>\n";
    if (!L.spec.y_label.empty()) {
        const double x = 10 + kLabelFont - 2, y = (L.py0 + L.py1) / 2;
        const size_t fits = chars_that_fit(L.py1 - L.py0 + 30, kLabelFont);
        o += "<text class=\"y-label\"" + attr("x", x) + attr("y", y) + " transform=\"rotate(-90 " +
             fmt(x) + " " + fmt(y) + ")\" text-anchor=\"middle\"" + attr("font-size", kLabelFont) +
             " fill=\"#222\">" + escape_xml(truncate_text(L.spec.y_label, fits)) + "</text>\n";
    }
    return o;
}

std::string legend_entry_svg(const Series& series, const std::string& colour, double lx,
                             double y, const std::vector<std::string>& lines, size_t fits,
                             double line_height) {
    std::string o = "<g class=\"legend-entry\">";
    const bool band = std::any_of(series.y_low.begin(), series.y_low.end(),
                                  [](double v) { return std::isfinite(v); });
    if (series.lines && band)  // the band's swatch behind the line
        o += "<rect" + attr("x", lx) + attr("y", y - 5) + " width=\"22\" height=\"10\" fill=\"" +
             colour + "\" fill-opacity=\"0.18\"/>";
    if (series.lines)
        o += line(lx, y, lx + 22, y,
                  std::string(" stroke=\"") + colour + "\" stroke-width=\"2\"" +
                      (series.dashed ? " stroke-dasharray=\"6 4\"" : ""));
    if (series.markers || !series.lines)
        o += "<circle" + attr("cx", lx + 11) + attr("cy", y) + " r=\"3.5\" fill=\"" + colour +
             "\"/>";
    o += "<text" + attr("x", lx + 28) + attr("y", y + 4) + ">";
    if (text_length(series.label) > fits) o += "<title>" + escape_xml(series.label) + "</title>";
    for (size_t k = 0; k < lines.size(); ++k)
        o += "<tspan" + attr("x", lx + 28) + attr("y", y + 4 + k * line_height) + ">" +
             escape_xml(lines[k]) + "</tspan>";
    return o + "</text></g>\n";
}

// The legend, right of the plot area; long labels wrap to two lines.
std::string legend_svg(const Layout& L) {
    if (L.legend.empty()) return "";
    const double lx = L.px1 + 12, line_height = kLegendFont + 3, gap = 5;
    const size_t fits = chars_that_fit(L.legend_width - 30, kLegendFont);
    std::string o = "<g class=\"legend\"" + attr("font-size", kLegendFont) + " fill=\"#222\">\n";
    double y = L.py0 + 8;
    size_t shown = 0;
    for (; shown < L.legend.size(); ++shown) {
        const Series& series = L.spec.series[L.legend[shown]];
        const std::vector<std::string> lines = wrap_two_lines(series.label, fits);
        const double needed =
            lines.size() * line_height + (shown + 1 < L.legend.size() ? line_height : 0);
        if (y + needed > L.H - 6) break;  // keep room for "+ k more"
        o += legend_entry_svg(series, colour_of(series, L.legend[shown]), lx, y, lines, fits,
                              line_height);
        y += lines.size() * line_height + gap;
    }
    if (shown < L.legend.size())
        o += "<text" + attr("x", lx) + attr("y", y + 4) + " fill=\"#666\">+ " +
             std::to_string(L.legend.size() - shown) + " more</text>\n";
    return o + "</g>\n";
}

}  // namespace

std::string render_svg(const PlotSpec& spec, int width, int height) {
    Layout L{spec};
    L.W = width, L.H = height;
    L.categorical = !spec.x_category_labels.empty();
    L.log_x = spec.log_x && !L.categorical, L.log_y = spec.log_y;
    const Bounds bounds = collect_runs(L);
    if (L.any_point) make_axes(L, bounds);
    make_margins(L);

    std::string o = frame_svg(L, width, height);
    if (L.any_point) o += grid_svg(L);
    const std::string reference_labels = L.any_point ? reference_lines_svg(L, o) : "";
    for (size_t s = 0; s < spec.series.size(); ++s)
        if (!L.runs[s].empty()) o += series_svg(L, s);
    o += reference_labels;
    o += axis_labels_svg(L);
    o += legend_svg(L);
    return o + "</svg>\n";
}

}  // namespace kelvin::plot
