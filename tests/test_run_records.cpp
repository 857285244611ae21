// Run records written by kelvin before issue 10 (tests/fixtures/sweep-before-issue10: a one-run
// sweep made by the main branch's binary with tests/fixtures/.../sweep-config.json, weights
// left out) still load, summarise, report and resume with the current reader; the typed
// readers and writers of metrics.json and diagnostics.json (experiments/run_metrics.h,
// run_diagnostics.h) give back every byte of the files kelvin wrote before they were typed
// (tests/fixtures/records-current: one run of scripts/compare-results.py's sweep, made by the
// binary of 4bfbca9, weights left out).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/report.h"
#include "experiments/run_diagnostics.h"
#include "experiments/run_files.h"
#include "experiments/run_metrics.h"
#include "experiments/run_record.h"
#include "experiments/sweep.h"
#include "tests/cli_runner.h"
#include "tests/file_contents.h"

using namespace kelvin;
using namespace kelvin::experiments;
namespace fs = std::filesystem;

namespace {

const fs::path kFixture = fs::path(KELVIN_SOURCE_DIR) / "tests/fixtures/sweep-before-issue10";
const fs::path kCurrentRun = fs::path(KELVIN_SOURCE_DIR) /
                             "tests/fixtures/records-current/runs/"
                             "mlp_fashion-mnist-classes-0-4_T10_init1_none_s1";

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
          doctest::skip(!kelvin::testing::kHaveFashionMnist)) {
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

TEST_CASE("run records: the typed metrics.json and diagnostics.json write back the bytes kelvin wrote") {
    using kelvin::testing::read_bytes;
    using kelvin::testing::read_json;
    const std::string metrics = read_bytes(kCurrentRun / kMetricsFile);
    const std::string diagnostics = read_bytes(kCurrentRun / kDiagnosticsFile);
    REQUIRE(!metrics.empty());
    REQUIRE(!diagnostics.empty());
    CHECK(metrics_file_text(metrics_from_json(read_json(kCurrentRun / kMetricsFile))) == metrics);
    CHECK(diagnostics_file_text(diagnostics_from_json(read_json(kCurrentRun / kDiagnosticsFile))) ==
          diagnostics);
    // The records from before issue 10 lack parts (no checkpoint, digests or intervals): those
    // stay absent, and the rest comes back as it was.
    const fs::path old_run = kFixture / "runs/mlp_fashion-mnist-classes-0-4_T0.1_init1_none_s3";
    CHECK(metrics_file_text(metrics_from_json(read_json(old_run / kMetricsFile))) ==
          read_bytes(old_run / kMetricsFile));
    CHECK(diagnostics_file_text(diagnostics_from_json(read_json(old_run / kDiagnosticsFile))) ==
          read_bytes(old_run / kDiagnosticsFile));
}

TEST_CASE("run records: the typed records hold what the files say, and tie the results to the weights") {
    const RunRecord r = load_run(kCurrentRun, "report");
    REQUIRE(r.metrics.has_value());
    REQUIRE(r.diagnostics.has_value());
    CHECK(r.stale_diagnostics.empty());
    const Metrics& m = *r.metrics;
    CHECK(m.status == kStatusComplete);
    REQUIRE(m.epochs.size() == 2);
    CHECK(m.epochs[1].epoch == 2);
    REQUIRE(m.final.has_value());
    REQUIRE(m.checkpoint.has_value());
    CHECK(m.final->weights_digest == m.checkpoint->weights_digest);
    CHECK(m.epochs[1].weights_digest == m.checkpoint->weights_digest);
    CHECK(m.final->step == m.checkpoint->step);
    REQUIRE(m.track.has_value());
    CHECK(m.track->front().step == 0);
    CHECK(m.init.has_value());
    const Diagnostics& d = *r.diagnostics;
    REQUIRE(d.weights.has_value());
    CHECK(d.weights->weights_digest == m.checkpoint->weights_digest);
    CHECK(d.weights->step == m.checkpoint->step);
    CHECK(d.rank.classes == 5);
    CHECK(d.probes.layers.size() == d.probes.id.size());
    const std::string set = "fashion-mnist:classes=5-9";
    for (const OodDetector& detector : kOodDetectors) {
        INFO(detector.key);
        const DetectionRecord& record = d.ood_detection.at(detector.key).at(set);
        REQUIRE(record.auroc_delong.has_value());
        REQUIRE(record.auroc_bootstrap.has_value());
        REQUIRE(record.fpr95_bootstrap.has_value());
        CHECK(record.auroc_bootstrap->low <= record.auroc);
        CHECK(record.auroc <= record.auroc_bootstrap->high);
        REQUIRE(record.interval_method.has_value());
        CHECK(record.interval_method->resamples == 1000);
    }
    CHECK(d.rho.count(set) == 1);
    CHECK(d.orthodev.count(set) == 1);
    // Before issue 10: no weights, so the diagnostics are judged by the run status they recorded.
    const RunRecord old = load_run(kFixture / "runs/mlp_fashion-mnist-classes-0-4_T0.1_init1_none_s3", "report");
    REQUIRE(old.diagnostics.has_value());
    CHECK(!old.diagnostics->weights.has_value());
    CHECK(!old.metrics->checkpoint.has_value());
    CHECK(old.diagnostics->settings.run_status == kStatusComplete);
    CHECK(!old.diagnostics->ood_detection.at("neco").begin()->second.auroc_delong.has_value());
}

TEST_CASE("run records: the readers are lenient as before, and the writers leave absent parts out") {
    // A hand-made metrics.json (tests/test_sweep_worker.cpp writes such files): the value of
    // another type reads as NaN, which a JSON file holds as null.
    const Metrics m = metrics_from_json(nlohmann::json::parse(
        R"({"status": "complete", "final": {"test_acc": "high", "steps": 3}})"));
    CHECK(m.status == kStatusComplete);
    CHECK(m.epochs.empty());
    REQUIRE(m.final.has_value());
    CHECK(std::isnan(m.final->test_acc));
    CHECK(m.final->steps == 3);
    CHECK(!m.final->weights_digest.has_value());
    CHECK(!m.track.has_value());
    const nlohmann::json running = {{"status", "running"}, {"epochs", nlohmann::json::array()}};
    CHECK(metrics_to_json(metrics_from_json(running)) == running);
    // Not even an object: nothing in it, and no exception (the summary shows the run's status
    // as empty, as it always did).
    CHECK(metrics_from_json(nlohmann::json::array()).status.empty());
    CHECK(diagnostics_from_json(nlohmann::json("text")).rho.empty());
}
