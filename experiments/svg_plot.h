// A small SVG line/scatter chart builder for the HTML report: one function from a plot
// description to an <svg> element, with "nice" ticks, log axes, a colour-blind-safe palette and a
// legend. No dependencies, no JavaScript; the output is meant to be inlined into HTML5 (it carries
// no xmlns attribute; add xmlns="http://www.w3.org/2000/svg" to save it as a standalone file).
//
// What a test can count: the root is <svg class="plot"> with a <title>; every series that has at
// least one drawable point is one <g class="series"> (holding its <path> and markers), or
// <g class="series faint"> for a faint one; an interval is a <path class="band"> or
// <path class="error-bars">; an empty plot shows a "no data" text with class="no-data".
#pragma once

#include <limits>
#include <string>
#include <vector>

namespace kelvin::plot {

// Okabe & Ito's colour-blind-safe palette, reordered so that the first colours are the most
// distinct on white (yellow last). Series take colours in order unless they name one.
inline constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                           "#E69F00", "#56B4E9", "#000000", "#F0E442"};
inline constexpr int kPaletteSize = 8;

// A series with a label but no drawable point still gets its legend entry, which makes a style
// key ("dashed: OOD") possible.
struct Series {
    std::string label;             // legend text; empty: not in the legend
    std::vector<double> x{}, y{};  // same length; a point with a non-finite coordinate (or a
                                   // non-positive one on a log axis) is skipped and breaks the line
    bool dashed = false;
    bool lines = true;     // false: markers only (a scatter)
    bool markers = false;  // a dot at every point (isolated points always get one)
    std::vector<std::string> point_labels{};  // optional, one per point, drawn beside the marker
    int color = -1;  // index into kPalette (mod its size); -1: the series' position
    // An interval per point (e.g. the 95% t interval over seeds): empty, or one bound per point
    // (a non-finite bound: no interval there). A line series draws it as a translucent band,
    // a scatter as error bars (x_low/x_high as horizontal bars). Drawn as <path class="band">
    // or <path class="error-bars"> inside the series' group.
    std::vector<double> y_low{}, y_high{}, x_low{}, x_high{};
    // A faint series (one seed among several, under its mean): thin and translucent, in
    // <g class="series faint">; give it no label so that it stays out of the legend.
    bool faint = false;
    std::string data_name{};  // the series' name in a figure's CSV when it has no label
};

// A dashed horizontal reference line across the plot. Its label goes at one end, above or below
// the line, wherever it covers the least data and no other label.
struct ReferenceLine {
    double y = 0;
    std::string label;
};

struct PlotSpec {
    std::string title, x_label, y_label;
    bool log_x = false, log_y = false;
    // Linear ticks at whole numbers only (epochs, ranks).
    bool x_integer = false, y_integer = false;
    std::vector<Series> series;
    std::vector<ReferenceLine> hlines;
    // When non-empty, x is categorical: a series' x values are indices into these labels.
    std::vector<std::string> x_category_labels;
    // Values each axis must reach (NaN: none), e.g. y_min = 0, y_max = 1 for an accuracy.
    double x_min = std::numeric_limits<double>::quiet_NaN();
    double x_max = std::numeric_limits<double>::quiet_NaN();
    double y_min = std::numeric_limits<double>::quiet_NaN();
    double y_max = std::numeric_limits<double>::quiet_NaN();
};

// The drawn range of each axis spans the data, the x/y_min/max values and the reference lines,
// plus 4% either side (of the decades, on a log axis) so that no point sits on the frame; ticks
// fall inside it.
std::string render_svg(const PlotSpec& spec, int width = 560, int height = 360);

// ---- the pieces, exposed for tests and for other writers of HTML --------------------------------

// Escapes & < > " ' for XML/HTML text and attribute values.
std::string escape_xml(const std::string& text);

struct Axis {
    double lo = 0, hi = 1;            // the drawn range
    std::vector<double> ticks;        // labelled tick positions, ascending, within [lo, hi]
    std::vector<std::string> labels;  // one per tick
    std::vector<double> minor;        // unlabelled ticks (log axes: m x 10^k)
};

// Linear axis over [lo, hi] with about `target` ticks at multiples of 1, 2 or 5 x 10^k (at least
// 1 when `integer`). A degenerate range (lo == hi) is widened around the value.
Axis linear_axis(double lo, double hi, int target = 5, bool integer = false);
// Log10 axis over [lo, hi] (both > 0): ticks at powers of ten (every k-th when there are many),
// with 2 and 5 x 10^k added when fewer than three powers fall inside, and linear ticks when even
// those are fewer than two.
Axis log_axis(double lo, double hi);
// A tick label: the shortest of fixed or scientific notation that shows `step`'s precision.
std::string format_number(double value, double step);

}  // namespace kelvin::plot
