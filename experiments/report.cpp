// The sweep report: the page assembled from its sections (report_claims.h, report_tables.h,
// report_figures.h) over the runs of one sweep folder, written with claims.json and the figure
// files; one HTML page with no external resources.
#include "experiments/report.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/cell_summary.h"
#include "analysis/claims.h"
#include "engine/atomic_file.h"
#include "experiments/report_claims.h"
#include "experiments/report_figures.h"
#include "experiments/report_format.h"
#include "experiments/report_sweep.h"
#include "experiments/report_tables.h"
#include "experiments/run_files.h"
#include "experiments/run_record.h"
#include "experiments/summary_table.h"
#include "experiments/svg_plot.h"

namespace kelvin::experiments {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using plot::escape_xml;
using namespace report;

// The page's CSS lives in experiments/report.css, embedded at build time (CMakeLists.txt).
constexpr const char* kStyle =
#include "report_style.inc"
    ;

struct Page {
    std::string html;
    json claims;  // claims.json
};

// The page's title, what it was made from, and the sweep's configuration.
std::string page_head(const fs::path& root, const Sweep& sweep) {
    size_t complete = 0, diagnosed = 0;
    for (const Run& r : sweep.runs) complete += r.complete(), diagnosed += r.diagnosed();
    std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    o += "<title>kelvin sweep report</title>\n<style>" + std::string(kStyle) + "</style>\n";
    o += "</head>\n<body>\n<main>\n<h1>Temperature sweep report</h1>\n";
    o += "<p class=\"meta\">Generated " + utc_now() + " by kelvin from <code>" +
         escape_xml(fs::absolute(root).string()) + "</code>. " + std::to_string(sweep.runs.size()) +
         " finished run" + (sweep.runs.size() == 1 ? "" : "s") + " (" + std::to_string(complete) +
         " complete, " + std::to_string(diagnosed) + " with diagnostics)";
    if (sweep.partial)
        o += "; " + std::to_string(sweep.partial) + " in progress (.partial, not shown)";
    o += ".</p>\n";
    o += "<p>Softmax with temperature T, <code>softmax(z/T)</code>, enters only the training "
         "loss. This page shows how T changes the rank of the logits, their norm, the probe "
         "accuracy across layers (the tunnel), and out-of-distribution detection and "
         "generalisation. Where a temperature has several seeds, each plot shows the <b>mean "
         "over seeds with its 95% interval</b> (a band, or error bars) and each seed faintly; "
         "the legend says how many seeds. The tables give every cell over seeds and every "
         "run.</p>\n";
    if (fs::exists(root / "sweep.json"))
        o += "<details><summary>Sweep configuration (sweep.json)</summary><pre>" +
             escape_xml(read_json(root / "sweep.json", "report").dump(2)) + "</pre></details>\n";
    else
        o += "<p class=\"meta\">No sweep.json in this folder.</p>\n";
    return o;
}

std::string plots_html(Sweep& sweep) {
    if (sweep.runs.empty()) return "<p>Nothing to plot.</p>\n";
    std::string o;
    const std::vector<FigureGroup> groups = figure_groups(sweep);
    for (const FigureGroup& group : groups) {
        if (groups.size() > 1) o += "<h3>" + escape_xml(group.title) + "</h3>\n";
        o += "<div class=\"plots\">\n";
        for (const Figure& f : group.figures)
            o += "<figure>\n" + plot::render_svg(f.spec) + "<figcaption>" + escape_xml(f.caption) +
                 "</figcaption>\n</figure>\n";
        o += "</div>\n";
    }
    return o;
}

Page build_page(const std::string& dir) {
    const fs::path root(dir);
    int partial = 0;
    std::vector<RunRecord> records = load_runs(root, "report", &partial);
    // The tables and the claims from the same records as summary.csv and summary_by_cell.csv.
    const SummaryTable table = summary_table(records);
    const std::vector<analysis::RunResults> results = complete_run_results(records);
    const std::vector<analysis::CellSummary> cells = analysis::summarize_by_cell(results);
    const analysis::ClaimOptions claim_options;
    const std::vector<analysis::ClaimResult> claims = analysis::test_claims(results, claim_options);
    Sweep sweep = read_sweep(std::move(records), partial);
    for (const auto& [name, why] : table.left_out)
        sweep.notes.add(name, why + ", so not in the tables");

    std::string o = page_head(root, sweep);
    o += "<h2 id=\"claims\">Claims</h2>\n" + claims_html(claims, claim_options.alpha);
    o += tables_html(table, cells, sweep);
    o += "<h2>Plots</h2>\n" + plots_html(sweep);  // adds to the notes: before them
    o += "<h2>Left out</h2>\n" + sweep.notes.html();
    o += "</main>\n</body>\n</html>\n";
    return {o, analysis::claims_json(claims, claim_options)};
}

}  // namespace

std::string report_html(const std::string& dir) { return build_page(dir).html; }

std::string write_report(const std::string& dir) {
    const Page page = build_page(dir);
    const std::string path = (fs::path(dir) / "report.html").string();
    write_file_atomically((fs::path(dir) / "claims.json").string(), page.claims.dump(2) + "\n");
    write_file_atomically(path, page.html);
    write_figures(dir);
    return path;
}

}  // namespace kelvin::experiments
