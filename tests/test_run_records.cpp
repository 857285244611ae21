// Run records written by kelvin before issue 10 (tests/fixtures/sweep-before-issue10: a one-run
// sweep made by the main branch's binary with tests/fixtures/.../sweep-config.json, weights
// left out) still load, summarise, report and resume with the current reader.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/report.h"
#include "experiments/run_record.h"
#include "experiments/sweep.h"
#include "tests/cli_runner.h"

using namespace kelvin;
using namespace kelvin::experiments;
namespace fs = std::filesystem;

namespace {

const fs::path kFixture = fs::path(KELVIN_SOURCE_DIR) / "tests/fixtures/sweep-before-issue10";

std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream s(line);
        std::string cell;
        while (std::getline(s, cell, ',')) cells.push_back(cell);
        rows.push_back(cells);
    }
    return rows;
}

}  // namespace

TEST_CASE("run records: a sweep folder written before issue 10 loads through load_runs") {
    kelvin::testing::TempDir dir("old-records");
    fs::copy(kFixture, dir.path, fs::copy_options::recursive);
    int partial = -1;
    const std::vector<RunRecord> runs = load_runs(dir.path, "report", &partial);
    REQUIRE(runs.size() == 1);
    CHECK(partial == 0);
    const RunRecord& r = runs[0];
    REQUIRE_MESSAGE(r.config.has_value(), r.config_error);
    CHECK(r.config->model == "mlp");
    CHECK(r.config->dataset == "fashion-mnist:classes=0-4");
    CHECK(r.config->temperature == 0.1f);  // written as 0.10000000149011612
    CHECK(r.config->lr == 0.05f);
    CHECK(r.config->flip);  // written as horizontal_flip
    CHECK(r.config->seed == 3);
    CHECK(r.config->model_options.depth == 2);
    CHECK(r.status() == "complete");
    CHECK(r.has_diagnostics());
}

TEST_CASE("run records: the summary of an old sweep folder is the one it had") {
    kelvin::testing::TempDir dir("old-summary");
    fs::copy(kFixture, dir.path, fs::copy_options::recursive);
    write_summary(dir.path.string());
    const auto before = read_csv(kFixture / "summary.csv");
    const auto after = read_csv(dir.path / "summary.csv");
    REQUIRE(before.size() == 2);
    REQUIRE(after.size() == before.size());
    REQUIRE(after[0] == before[0]);  // the columns
    for (size_t i = 0; i < before[0].size(); ++i) {
        const std::string& column = before[0][i];
        INFO("column " << column);
        if (column == "temperature") {
            // The one change: the setting as typed, not its float32 expansion (README).
            CHECK(before[1][i] == "0.10000000149011612");
            CHECK(after[1][i] == "0.1");
        } else {
            CHECK(after[1][i] == before[1][i]);
        }
    }
    CHECK(report_html(dir.path.string()).find(before[1][0]) != std::string::npos);
}

TEST_CASE("run records: an old sweep folder resumes under its old sweep.json" *
          doctest::skip(!fs::exists("/usr/share/datasets/fashion-mnist"))) {
    // sweep.json holds horizontal_flip and float32 expansions (lr 0.05000000074505806); the
    // same configuration must be recognised as the same sweep, and its finished run kept.
    kelvin::testing::TempDir dir("old-resume");
    fs::copy(kFixture, dir.path, fs::copy_options::recursive);
    const auto r = kelvin::testing::run_kelvin("sweep --config " +
                                               (kFixture / "sweep-config.json").string() +
                                               " --out " + dir.path.string());
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("finished earlier, kept") != std::string::npos);
}

TEST_CASE("report: every figure of the page is also written as its own SVG and CSV") {
    kelvin::testing::TempDir dir("figures");
    fs::copy(kFixture, dir.path, fs::copy_options::recursive);
    const std::string html = report_html(dir.path.string());
    size_t figures_on_page = 0;
    for (size_t at = html.find("<figure>"); at != std::string::npos; at = html.find("<figure>", at + 1))
        ++figures_on_page;
    write_report(dir.path.string());
    const std::vector<std::string> svgs = write_figures(dir.path.string());
    REQUIRE(figures_on_page > 0);
    CHECK(svgs.size() == figures_on_page);
    size_t rows = 0;
    for (const std::string& svg_path : svgs) {
        INFO(svg_path);
        std::ifstream svg_in(svg_path);
        std::stringstream svg;
        svg << svg_in.rdbuf();
        CHECK(svg.str().find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
        CHECK(svg.str().find("<desc>") != std::string::npos);
        const fs::path csv_path = fs::path(svg_path).replace_extension(".csv");
        REQUIRE(fs::exists(csv_path));
        const auto csv = read_csv(csv_path);
        REQUIRE(!csv.empty());
        CHECK(csv[0].front() == "series");
        rows += csv.size() - 1;
    }
    CHECK(rows > 0);  // the fixture's run has ranks, norms, spectra, probes and AUROCs to plot
    // The ranks figure of the fixture's one run: rank(logits) at T = 0.1 is diagnostics' 5.
    bool found = false;
    for (const std::string& svg_path : svgs) {
        if (svg_path.find("rank") == std::string::npos) continue;
        for (const auto& row : read_csv(fs::path(svg_path).replace_extension(".csv")))
            found = found || (row.size() >= 3 && row[0] == "rank(logits) (n = 1)" && row[2] == "5");
    }
    CHECK(found);
}
