// Every figure of the report as its own SVG and CSV file (report.h: write_figures), for papers.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/atomic_file.h"
#include "experiments/report.h"
#include "experiments/report_figures.h"
#include "experiments/run_record.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;
using plot::escape_xml;
using report::Figure;
using report::FigureGroup;

namespace {

// A file name from a title: ASCII letters and digits, anything else one '-'.
std::string slug(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        const bool keep = std::isalnum(c) && c < 128;
        if (keep) out += static_cast<char>(std::tolower(c));
        else if (!out.empty() && out.back() != '-') out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string csv_text(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string csv_number(double v) {
    if (!std::isfinite(v)) return "";
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    return text;
}

// The points a figure plots, one row each: series, x (its category label on a categorical
// axis), y, the point's label when it has one, and the 95% interval where the figure has one.
std::string figure_csv(const plot::PlotSpec& spec) {
    std::string out = "series," + csv_text(spec.x_label.empty() ? "x" : spec.x_label) + "," +
                      csv_text(spec.y_label.empty() ? "y" : spec.y_label) +
                      ",point_label,y_ci95_low,y_ci95_high,x_ci95_low,x_ci95_high\n";
    auto bound = [](const std::vector<double>& v, size_t i) {
        return i < v.size() ? csv_number(v[i]) : std::string();
    };
    for (const plot::Series& s : spec.series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            const double x = s.x[i];
            const bool category = !spec.x_category_labels.empty() && x >= 0 &&
                                  x < static_cast<double>(spec.x_category_labels.size());
            out += csv_text(s.label.empty() ? s.data_name : s.label) + "," +
                   (category ? csv_text(spec.x_category_labels[static_cast<size_t>(x)])
                             : csv_number(x)) +
                   "," + csv_number(s.y[i]) + "," +
                   (i < s.point_labels.size() ? csv_text(s.point_labels[i]) : "") + "," +
                   bound(s.y_low, i) + "," + bound(s.y_high, i) + "," + bound(s.x_low, i) + "," +
                   bound(s.x_high, i) + "\n";
        }
    return out;
}

// The figure as a standalone SVG file (namespaced, its caption as the description).
std::string figure_svg_file(const Figure& f) {
    std::string svg = plot::render_svg(f.spec);
    const size_t root = svg.find("<svg");
    if (root != std::string::npos) {
        svg.insert(root + 4, " xmlns=\"http://www.w3.org/2000/svg\"");
        const size_t open_end = svg.find('>', root);
        if (open_end != std::string::npos)
            svg.insert(open_end + 1, "<desc>" + escape_xml(f.caption) + "</desc>");
    }
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg + "\n";
}

}  // namespace

std::vector<std::string> write_figures(const std::string& dir) {
    int partial = 0;
    report::Sweep sweep = report::read_sweep(load_runs(dir, "report", &partial), partial);
    const fs::path folder = fs::path(dir) / "figures";
    fs::create_directories(folder);
    std::vector<std::string> written;
    const std::vector<FigureGroup> groups = report::figure_groups(sweep);
    for (size_t group = 0; group < groups.size(); ++group)
        for (const Figure& f : groups[group].figures) {
            const std::string stem =
                "group" + std::to_string(group + 1) + "-" + slug(f.spec.title);
            write_file_atomically((folder / (stem + ".svg")).string(), figure_svg_file(f));
            write_file_atomically((folder / (stem + ".csv")).string(), figure_csv(f.spec));
            written.push_back((folder / (stem + ".svg")).string());
        }
    return written;
}

}  // namespace kelvin::experiments
