// The SVG chart builder (ticks, log axes, escaping, empty and non-finite data) and the sweep
// report on a synthetic sweep folder: three temperatures, one run diverged without diagnostics,
// one run in progress; then, where Chromium is installed, the page as a browser renders it.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unistd.h>

#include "engine/device.h"
#include "experiments/demo.h"
#include "experiments/report.h"
#include "experiments/summary_table.h"
#include "experiments/svg_plot.h"
#include "tests/file_contents.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using kelvin::testing::read_text;
using kelvin::testing::write_text;
using namespace kelvin::plot;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

// A fresh folder under the system's temporary directory, removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() {
        static int counter = 0;
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path =
            fs::temp_directory_path() / ("kelvin-report-" + std::to_string(getpid()) + "-" +
                                         std::to_string(counter++) + "-" + std::to_string(stamp));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

const char* kOod = "fashion-mnist:classes=5-9";

json run_config(double t, int seed) {
    return {{"model", "mlp"},
            {"dataset", "fashion-mnist:classes=0-4"},
            {"temperature", t},
            {"seed", seed},
            {"epochs", 3},
            {"model_options",
             {{"init_scale", 1.0}, {"head_norm", "none"}, {"depth", 6}, {"width", 1024}}}};
}

// Plausible numbers: higher T, larger logits norm, lower rank, shorter tunnel.
json run_metrics(double t, double jitter = 0) {
    json epochs = json::array();
    for (int e = 1; e <= 3; ++e)
        epochs.push_back({{"epoch", e},
                          {"train_loss", 1.0 / e},
                          {"train_acc", 0.8 + 0.03 * e},
                          {"test_acc", 0.78 + 0.03 * e},
                          {"test_loss", 1.1 / e},
                          {"logits_norm", 2.0 * e * std::sqrt(t)},
                          {"logits_norm_frobenius", 200.0 * e * std::sqrt(t)},
                          {"seconds", 4.2}});
    return {
        {"status", "complete"},
        {"init", {{"logits_norm", 0.05}, {"test_acc", 0.1}}},
        {"epochs", epochs},
        {"final", {{"test_acc", 0.87 + jitter}, {"logits_norm", 6.0 * std::sqrt(t) * (1 + jitter)}, {"seconds", 12.6}}}};
}

// `jitter` (a seed's offset, small enough to keep every trend) makes the seeds differ.
json run_diagnostics(double t, double jitter = 0) {
    const int rank = t < 5 ? 4 : t < 50 ? 3 : 2;
    json spectrum = json::array();
    for (int i = 0; i < 5; ++i)
        spectrum.push_back(i < rank ? 100.0 * std::pow(0.4, i) : 1e-4 * std::pow(0.3, i - rank));
    json id = json::array(), ood = json::array(), layers = json::array();
    for (int l = 0; l < 7; ++l) {
        layers.push_back(l < 6 ? "hidden." + std::to_string(l) : "penultimate");
        const double reach = std::min(1.0, (l + 1) / (7.0 / std::log10(10 * t)));
        id.push_back(0.4 + 0.5 * reach);
        ood.push_back(0.75 - 0.05 * std::log10(t) * l / 6.0);
    }
    const double k = 1.0 / (1 + std::log10(t)) + jitter;
    auto detection = [&](double a) { return json{{kOod, {{"auroc", a + jitter}, {"fpr95", 1 - a}}}}; };
    json probe_ranks = json::array();
    for (int l = 0; l < 7; ++l)
        probe_ranks.push_back({{"name", layers[l]}, {"rank", l < 6 ? 100 : 40 - 10 * std::log10(t)}});
    return {
        {"temperature", t},
        {"accuracy", 0.87},
        {"rank",
         {{"logits", rank},
          {"softmax", 5},
          {"classes", 5},
          {"layers", probe_ranks},
          {"by_gamma", {{"logits", {{"0.01", rank - 1}, {"0.001", rank}, {"0.0001", rank}}}}}}},
        {"singular_values", {{"logits", spectrum}, {"softmax", spectrum}}},
        {"logits_norm", {{"mean", 6.0 * std::sqrt(t)}, {"frobenius", 600.0}, {"sigma_1", 100.0}}},
        {"probes", {{"layers", layers}, {"id", id}, {"ood", {{kOod, ood}}}}},
        {"kappa", k},
        {"rho", {{kOod, 0.05 * std::log10(10 * t) + jitter}}},
        {"ood_detection",
         {{"neco", detection(0.7 + 0.05 * std::log10(t))},
          {"msp", detection(0.7)},
          {"max_logit", detection(0.72)},
          // nlohmann writes NaN as null: the report must skip it.
          {"energy", detection(t == 10 ? kNaN : 0.71)}}},
        {"orthodev", {{kOod, 0.3 / (1 + std::log10(t)) + jitter}}},
        {"settings", {{"gamma", 1e-3}}}};
}

// DIR with sweep.json, runs T=1, 10, 100 (seed 1, with diagnostics), a T=100 seed-2 run that
// diverged (no diagnostics) and a run still in progress.
void write_sweep(const fs::path& dir) {
    write_text(
        dir / "sweep.json",
        json{
            {"models", {"mlp"}}, {"temperatures", {1, 10, 100}}, {"seeds", {1, 2}}, {"ood", {kOod}}}
            .dump(2));
    for (double t : {1.0, 10.0, 100.0}) {
        const fs::path run = dir / "runs" / ("mlp_T" + std::to_string(int(t)) + "_s1");
        write_text(run / "config.json", run_config(t, 1).dump(2));
        write_text(run / "metrics.json", run_metrics(t).dump(2));
        write_text(run / "diagnostics.json", run_diagnostics(t).dump(2));
    }
    const fs::path diverged = dir / "runs" / "mlp_T100_s2";
    write_text(diverged / "config.json", run_config(100, 2).dump(2));
    json metrics = run_metrics(100);
    metrics["status"] = "diverged";
    metrics["diverged_at_step"] = 1234;
    metrics["diverged_loss"] = "nan";
    metrics.erase("final");
    write_text(diverged / "metrics.json", metrics.dump(2));
    const fs::path partial = dir / "runs" / "mlp_T1000_s1.partial";
    write_text(partial / "config.json", run_config(1000, 1).dump(2));
}

// DIR with sweep.json and runs T = 1, 10, 100 for `seeds` seeds, all complete and diagnosed.
void write_seeded_sweep(const fs::path& dir, int seeds) {
    json list = json::array();
    for (int s = 1; s <= seeds; ++s) list.push_back(s);
    write_text(dir / "sweep.json",
               json{{"models", {"mlp"}}, {"temperatures", {1, 10, 100}}, {"seeds", list}, {"ood", {kOod}}}
                   .dump(2));
    for (int s = 1; s <= seeds; ++s)
        for (double t : {1.0, 10.0, 100.0}) {
            const double jitter = 0.004 * ((s * 7) % 5 - 2);  // -0.008 .. 0.008
            const fs::path run =
                dir / "runs" / ("mlp_T" + std::to_string(int(t)) + "_s" + std::to_string(s));
            write_text(run / "config.json", run_config(t, s).dump(2));
            write_text(run / "metrics.json", run_metrics(t, jitter).dump(2));
            write_text(run / "diagnostics.json", run_diagnostics(t, jitter).dump(2));
        }
}

// The SVG elements of a page, one string each.
std::vector<std::string> plots_of(const std::string& html) {
    std::vector<std::string> out;
    for (size_t at = html.find("<svg class=\"plot\""); at != std::string::npos;
         at = html.find("<svg class=\"plot\"", at + 1))
        out.push_back(html.substr(at, html.find("</svg>", at) - at));
    return out;
}

}  // namespace

// ---- svg_plot -----------------------------------------------------------------------------------

TEST_CASE("svg axis: linear ticks step by 1, 2 or 5 x 10^k and stay inside the range") {
    Axis a = linear_axis(-0.04, 1.04);
    CHECK(a.lo == doctest::Approx(-0.04));
    CHECK(a.hi == doctest::Approx(1.04));
    REQUIRE(a.ticks.size() == 6);
    CHECK(a.ticks[0] == 0.0);
    CHECK(a.ticks[1] == doctest::Approx(0.2));
    CHECK(a.labels[1] == "0.2");
    CHECK(a.labels[5] == "1.0");

    Axis b = linear_axis(-13.0, 47.0);
    CHECK(b.ticks[1] - b.ticks[0] == doctest::Approx(10.0));
    CHECK(b.labels[0] == "\u221210");  // typographic minus
    CHECK(b.labels[1] == "0");
    for (double t : b.ticks) CHECK((t >= -13.0 && t <= 47.0));

    Axis c = linear_axis(1234.0, 1234.0);  // a constant series
    CHECK(c.lo < 1234.0);
    CHECK(c.hi > 1234.0);
    CHECK(c.ticks.size() >= 2);

    Axis epochs = linear_axis(-0.12, 3.12, 6, true);  // whole numbers only
    CHECK(epochs.ticks == std::vector<double>{0, 1, 2, 3});
}

TEST_CASE("svg axis: log ticks sit on powers of ten") {
    Axis a = log_axis(0.05, 13.9);
    REQUIRE(a.ticks.size() == 3);
    CHECK(a.labels[0] == "0.1");
    CHECK(a.labels[1] == "1");
    CHECK(a.labels[2] == "10");
    CHECK(!a.minor.empty());

    Axis wide = log_axis(1e-9, 1.0);  // many decades: every k-th labelled, powers written out
    CHECK(wide.ticks.size() <= 7);
    CHECK(wide.ticks.size() >= 4);
    CHECK(wide.labels.front() == "10\u207b\u2078");
    CHECK(wide.labels.back() == "10\u2070");

    Axis narrow = log_axis(1.5, 30.0);  // two powers of ten: 2 and 5 x 10^k labelled too
    CHECK(narrow.labels == std::vector<std::string>{"2", "5", "10", "20"});

    Axis single = log_axis(10.0, 10.0);
    CHECK(single.lo < 10.0);
    CHECK(single.hi > 10.0);
    CHECK(single.ticks.size() >= 2);
}

TEST_CASE("svg plot: structure, title, escaping") {
    PlotSpec spec;
    spec.title = "rank <logits> & \"softmax\"";
    spec.x_label = "T";
    spec.y_label = "rank";
    spec.log_x = true;
    Series a{"a & b"}, b{"<c>"};
    a.x = {1, 10, 100};
    a.y = {4, 3, 2};
    b.x = {1, 10, 100};
    b.y = {5, 5, 5};
    b.dashed = true;
    spec.series = {a, b};
    spec.hlines = {{4, "C - 1"}};
    const std::string svg = render_svg(spec);
    CHECK(svg.rfind("<svg class=\"plot\"", 0) == 0);
    CHECK(count(svg, "<title>rank &lt;logits&gt; &amp; &quot;softmax&quot;</title>") == 1);
    CHECK(count(svg, "class=\"series\"") == 2);
    CHECK(count(svg, "stroke-dasharray=\"6 4\"") == 2);  // the dashed series and its legend line
    CHECK(svg.find("a &amp; b") != std::string::npos);
    CHECK(svg.find("&lt;c&gt;") != std::string::npos);
    CHECK(svg.find("<c>") == std::string::npos);
    CHECK(svg.find("C - 1") != std::string::npos);
    CHECK(escape_xml("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;");
}

TEST_CASE("svg plot: empty plots say no data; non-finite points are skipped") {
    PlotSpec empty;
    empty.title = "nothing";
    std::string svg = render_svg(empty);
    CHECK(count(svg, "class=\"no-data\"") == 1);
    CHECK(count(svg, "class=\"series\"") == 0);

    Series only_nan{"nan"};
    only_nan.x = {1, 2};
    only_nan.y = {kNaN, std::numeric_limits<double>::infinity()};
    empty.series = {only_nan};
    CHECK(count(render_svg(empty), "class=\"no-data\"") == 1);

    PlotSpec spec;
    spec.title = "gaps";
    spec.log_y = true;
    Series s{"s"};
    s.x = {1, 2, 3, 4, 5};
    s.y = {1, kNaN, 3, 0, 5};  // NaN, and 0 on a log axis, break the line
    spec.series = {s};
    svg = render_svg(spec);
    CHECK(count(svg, "class=\"series\"") == 1);
    CHECK(count(svg, "class=\"no-data\"") == 0);
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);
    const size_t path = svg.find("<path d=\"");
    REQUIRE(path != std::string::npos);
    const std::string d = svg.substr(path, svg.find('"', path + 9) - path);
    CHECK(count(d, "M") == 3);          // three runs: {1}, {3}, {5}
    CHECK(count(svg, "<circle") >= 3);  // isolated points get markers

    PlotSpec single;
    single.title = "one point";
    Series p{"p"};
    p.x = {7};
    p.y = {0.5};
    single.series = {p};
    svg = render_svg(single);
    CHECK(count(svg, "<circle") == 1);
    CHECK(svg.find("nan") == std::string::npos);
}

TEST_CASE("svg plot: categorical x axis and point labels") {
    PlotSpec spec;
    spec.title = "tunnel";
    spec.x_category_labels = {"hidden.0", "hidden.1", "hidden.2", "penultimate"};
    Series s{"T = 1"};
    s.x = {0, 1, 2, 3};
    s.y = {0.5, 0.7, 0.8, 0.8};
    s.point_labels = {"", "", "", "end"};
    spec.series = {s};
    const std::string svg = render_svg(spec);
    for (const auto& label : spec.x_category_labels)
        CHECK(svg.find(">" + label + "<") != std::string::npos);
    CHECK(svg.find(">end<") != std::string::npos);
}

TEST_CASE("svg plot: intervals as bands and error bars, faint series, bounds a log axis cannot show") {
    PlotSpec spec;
    spec.title = "intervals";
    spec.log_y = true;
    Series line{"mean"};
    line.x = {1, 2, 3, 4};
    line.y = {2, 3, 4, 5};
    line.y_low = {1, kNaN, 3, -1};  // no interval at x = 2; a bound below 0 on a log axis
    line.y_high = {3, kNaN, 5, 6};
    Series scatter{"points"};
    scatter.lines = false;
    scatter.x = {1, 2};
    scatter.y = {1, 2};
    scatter.y_low = {0.5, 1.5}, scatter.y_high = {1.5, 2.5};
    scatter.x_low = {0.8, kNaN}, scatter.x_high = {1.2, kNaN};
    Series faint;
    faint.faint = true;
    faint.x = {1, 4}, faint.y = {2.5, 4.5};
    spec.series = {faint, line, scatter};
    const std::string svg = render_svg(spec);
    // x = 1 stands alone (x = 2 has none): a bar; x = 3..4 one band; the scatter's bars.
    CHECK(count(svg, "class=\"band\"") == 1);
    CHECK(count(svg, "class=\"error-bars\"") == 2);
    const size_t band = svg.find("class=\"band\"");
    const std::string band_path = svg.substr(band, svg.find("/>", band) - band);
    CHECK(count(band_path, "Z") == 1);
    CHECK(count(band_path, "L") == 3);  // 2 upper + 2 lower points
    CHECK(band_path.find("nan") == std::string::npos);
    CHECK(count(svg, "class=\"series faint\"") == 1);
    CHECK(count(svg, "class=\"series\"") == 2);
    CHECK(count(svg, "class=\"legend-entry\"") == 2);  // the faint series has no label
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);
}

TEST_CASE("svg plot: a crowded legend counts what it could not show") {
    PlotSpec spec;
    spec.title = "many series";
    for (int i = 0; i < 40; ++i) {
        Series s;
        s.label = "series number " + std::to_string(i);
        s.x = {0, 1};
        s.y = {double(i), double(i + 1)};
        spec.series.push_back(s);
    }
    const std::string svg = render_svg(spec, 400, 240);
    CHECK(count(svg, "class=\"series\"") == 40);
    CHECK(svg.find(" more</text>") != std::string::npos);
    CHECK(count(svg, "class=\"legend-entry\"") < 40);
}

// ---- the report ---------------------------------------------------------------------------------

TEST_CASE("report: a self-contained page with every plot, a row per run, and what was left out") {
    TempDir dir;
    write_sweep(dir.path);
    const std::string path = kelvin::experiments::write_report(dir.path.string());
    CHECK(path == (dir.path / "report.html").string());
    const std::string html = read_text(path);

    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(count(html, "<svg class=\"plot\"") >= 6);
    CHECK(count(html, "<svg class=\"plot\"") == count(html, "</svg>"));
    // Nothing fetched: no scripts, no stylesheets or images by reference, no URLs at all.
    for (const char* bad :
         {"http://", "https://", "<script", "<link", "url(", "<img", "@import", "src="})
        CHECK_MESSAGE(html.find(bad) == std::string::npos, bad);
    CHECK(count(html, "<tr class=\"run") == 4);
    CHECK(html.find("mlp_T100_s2") != std::string::npos);
    CHECK(html.find("diverged") != std::string::npos);
    CHECK(html.find("step 1234") != std::string::npos);
    CHECK(html.find("T1000") == std::string::npos);  // the .partial run is not shown
    CHECK(html.find("1 in progress") != std::string::npos);
    CHECK(html.find("Energy AUROC on fashion-mnist:classes=5-9 missing or not finite") !=
          std::string::npos);
    CHECK(html.find("<details>") != std::string::npos);
    CHECK(html.find("C \u2212 1 = 4") != std::string::npos);
    CHECK(html.find("nan<") == std::string::npos);
    // Every drawn series, per plot: ranks 2, norms 3, spectra 3, tunnel 3 + 3, scatter 1, AUROC 3
    // + 1.
    CHECK(count(html, "class=\"series\"") == 2 + 3 + 3 + 6 + 1 + 4);
}

TEST_CASE("report: runs with --track-every records get the step-by-step dynamics plots") {
    TempDir dir;
    write_sweep(dir.path);
    CHECK(kelvin::experiments::report_html(dir.path.string()).find("Training dynamics") ==
          std::string::npos);  // none without track records
    // T = 1 and T = 100 tracked every 10 steps; T = 10 not tracked.
    for (double t : {1.0, 100.0}) {
        const fs::path run = dir.path / "runs" / ("mlp_T" + std::to_string(int(t)) + "_s1");
        json metrics = run_metrics(t);
        for (int step = 0; step <= 50; step += 10)
            metrics["track"].push_back({{"step", step},
                                        {"rank", step < 30 ? 1 : 4},
                                        {"logits_norm", 0.05 * std::pow(t, step / 50.0)},
                                        {"loss", step < 30 ? std::log(5.0) : 0.5},
                                        {"accuracy", step < 30 ? 0.2 : 0.8}});
        write_text(run / "metrics.json", metrics.dump());
    }
    const std::string html = kelvin::experiments::report_html(dir.path.string());
    for (const char* title : {"Training dynamics: loss", "Training dynamics: logits norm",
                              "Training dynamics: rank of the logits"})
        CHECK_MESSAGE(html.find(title) != std::string::npos, title);
    CHECK(html.find("ln C = 1.61 (uniform)") != std::string::npos);
    // The 19 series of the first test's plots, then two lines (T = 1, 100) in each dynamics plot.
    CHECK(count(html, "class=\"series\"") == 19 + 3 * 2);
}

TEST_CASE("report: a sweep with several groups gets a section per group") {
    TempDir dir;
    write_sweep(dir.path);
    json config = run_config(10, 1);
    config["model_options"]["init_scale"] = 0.1;
    const fs::path run = dir.path / "runs" / "mlp_T10_init0.1_s1";
    write_text(run / "config.json", config.dump());
    write_text(run / "metrics.json", run_metrics(10).dump());
    write_text(run / "diagnostics.json", run_diagnostics(10).dump());
    const std::string html = kelvin::experiments::report_html(dir.path.string());
    CHECK(count(html, "<h3>") == 2);
    CHECK(html.find("init scale 0.1") != std::string::npos);
    CHECK(count(html, "<svg class=\"plot\"") >= 12);
}

TEST_CASE("report: with 5 seeds every plot draws means with intervals and each seed; claims 1-8 get verdicts") {
    TempDir dir;
    write_seeded_sweep(dir.path, 5);
    kelvin::experiments::write_summary(dir.path.string());
    const std::string html = read_text(kelvin::experiments::write_report(dir.path.string()));
    const std::vector<std::string> plots = plots_of(html);
    REQUIRE(plots.size() >= 6);
    for (const std::string& plot : plots) {
        INFO(plot.substr(0, plot.find("</title>")));
        CHECK(count(plot, "class=\"band\"") + count(plot, "class=\"error-bars\"") > 0);
        CHECK(count(plot, "class=\"series faint\"") > 0);
        CHECK(plot.find("n = 5") != std::string::npos);
    }
    // The claims come first, then the tables over seeds and per run.
    const size_t claims = html.find("<h2 id=\"claims\">Claims</h2>");
    REQUIRE(claims != std::string::npos);
    CHECK(claims < html.find("Summary over seeds"));
    CHECK(html.find("Summary over seeds") < html.find("<h2>Every run</h2>"));
    CHECK(html.find("<h2>Every run</h2>") < html.find("<h2>Plots</h2>"));
    CHECK(count(html, "<tr class=\"run") == 15);
    CHECK(count(html, "<tr class=\"cell\"") == 3);
    CHECK(html.find("(n = 5)") != std::string::npos);

    const json j = json::parse(read_text(dir.path / "claims.json"));
    REQUIRE(j["claims"].size() == 10);
    for (const json& c : j["claims"]) {
        INFO("claim " << c["number"] << ": " << c["reason"]);
        if (c["number"].get<int>() <= 8) {
            // The synthetic sweep follows the paper in every seed, claim 2 included.
            CHECK(c["verdict"] == "supported");
            CHECK(c["p_value"].get<double>() < 0.05);
            CHECK(c["runs"].size() >= 10);  // claim 1 pairs T = 1 with T = 100 only
            const json& t = c["tests"][0];
            CHECK(t["seeds"] == 5);
            CHECK(t["effect"]["low"].is_number());
            CHECK(t["effect"]["low"].get<double>() <= t["effect"]["estimate"].get<double>());
        } else {
            CHECK(c["verdict"] == "not testable");  // no init-scale or head-norm axis
            CHECK(!c["reason"].get<std::string>().empty());
        }
    }
    CHECK(count(html, "<td class=\"verdict supported\">") >= 8);

    // summary_by_cell: one row per temperature, n = 5 and the t interval around the mean.
    std::ifstream csv(dir.path / "summary_by_cell.csv");
    std::string header, line;
    std::getline(csv, header);
    std::vector<std::string> rows;
    while (std::getline(csv, line)) rows.push_back(line);
    CHECK(rows.size() == 3);
    CHECK(header.find("ci95_low(test_acc)") != std::string::npos);
    CHECK(header.find("mean(neco_auroc/fashion-mnist:classes=5-9)") != std::string::npos);
    CHECK(rows[0].find("1 2 3 4 5") != std::string::npos);
    const std::string md = read_text(dir.path / "summary_by_cell.md");
    CHECK(md.find("(5) |") != std::string::npos);
    CHECK(count(read_text(dir.path / "summary.csv"), "\n") == 16);  // still one row per run
}

TEST_CASE("report: a sweep with one seed still works and says which claims need more seeds") {
    TempDir dir;
    write_sweep(dir.path);  // one complete seed per temperature
    kelvin::experiments::write_summary(dir.path.string());
    const std::string html = read_text(kelvin::experiments::write_report(dir.path.string()));
    const json j = json::parse(read_text(dir.path / "claims.json"));
    REQUIRE(j["claims"].size() == 10);
    for (const json& c : j["claims"]) {
        INFO("claim " << c["number"]);
        CHECK(c["verdict"] == "not testable");
        if (c["number"].get<int>() <= 8)
            CHECK(c["reason"].get<std::string>().find("seeds (has 1)") != std::string::npos);
    }
    // Trends over 3 temperatures need 3 seeds; a sign-flip test of paired differences 5
    // (2^5 = 32 sign patterns reach p < 0.05).
    CHECK(html.find("needs &gt;= 3 seeds (has 1)") != std::string::npos);
    CHECK(html.find("needs &gt;= 5 seeds (has 1)") != std::string::npos);
    CHECK(html.find("10 not testable") != std::string::npos);
    CHECK(count(html, "class=\"band\"") == 0);  // nothing to draw an interval from
    CHECK(html.find("(n = 1)") != std::string::npos);
    CHECK(read_text(dir.path / "summary_by_cell.md").find("(n=1)") != std::string::npos);
}

TEST_CASE("demo: its closing text gives the means over seeds and the claims table") {
    TempDir dir;
    write_seeded_sweep(dir.path, 3);
    const std::string text = kelvin::experiments::demo_tables(dir.path.string());
    INFO(text);
    // One line per temperature with n = 3 and an interval; ten claims, the trends (3-8)
    // decided with 3 seeds, the paired ones (1, 2) saying they need 5.
    CHECK(text.find("\nmlp      100   3  ") != std::string::npos);
    CHECK(count(text, "\u00b1") >= 3 * 7);
    CHECK(count(text, "\n1   not testable") == 1);
    CHECK(text.find("needs >= 5 seeds (has 3)") != std::string::npos);
    for (int c = 3; c <= 8; ++c)
        CHECK_MESSAGE(text.find("\n" + std::to_string(c) + "   supported") != std::string::npos, c);
    CHECK(text.find("\n10  not testable") != std::string::npos);
}

TEST_CASE("report: errors name the folder or the file") {
    TempDir dir;
    try {
        kelvin::experiments::report_html(dir.path.string());
        FAIL("expected an error for a folder without runs/");
    } catch (const kelvin::Error& e) {
        CHECK(std::string(e.what()).find("runs") != std::string::npos);
    }
    write_sweep(dir.path);
    write_text(dir.path / "runs" / "mlp_T10_s1" / "metrics.json", "{\"status\": \"complete\", ");
    try {
        kelvin::experiments::report_html(dir.path.string());
        FAIL("expected an error for a malformed metrics.json");
    } catch (const kelvin::Error& e) {
        CHECK(std::string(e.what()).find("mlp_T10_s1/metrics.json") != std::string::npos);
    }
}

TEST_CASE("report: with no finished run yet, the page still opens") {
    TempDir dir;
    fs::create_directories(dir.path / "runs" / "mlp_T1_s1.partial");
    const std::string html = kelvin::experiments::report_html(dir.path.string());
    CHECK(html.find("No finished runs yet") != std::string::npos);
}

// Chromium parses the page offline: every plot and every series path reaches the DOM, and the
// screenshot is a real picture (set KELVIN_REPORT_KEEP=DIR to keep the page and the picture).
TEST_CASE("report: renders in headless Chromium" *
          doctest::skip(!fs::exists("/usr/bin/chromium"))) {
    TempDir dir;
    write_seeded_sweep(dir.path, 5);
    const std::string html = read_text(kelvin::experiments::write_report(dir.path.string()));
    const fs::path out = dir.path / "rendered";
    const std::string command =
        std::string("bash '") + KELVIN_SOURCE_DIR + "/scripts/render-report.sh' '" +
        (dir.path / "report.html").string() + "' '" + out.string() + "' 1200,3000";
    REQUIRE(std::system(command.c_str()) == 0);
    const std::string dom = read_text(out / "dom.html");
    CHECK(count(dom, "<svg class=\"plot\"") == count(html, "<svg class=\"plot\""));
    CHECK(count(dom, "class=\"series\"") == count(html, "class=\"series\""));
    CHECK(count(dom, "<path d=\"M") == count(html, "<path d=\"M"));
    CHECK(count(dom, "<tr class=\"run") == 15);
    // The Claims section at the top, with a verdict per claim, and the intervals of the plots.
    CHECK(dom.find("<h2 id=\"claims\">Claims</h2>") < dom.find("<h2>Plots</h2>"));
    CHECK(count(dom, "<tr class=\"claim ") == 10);
    CHECK(count(dom, "<td class=\"verdict supported\">") >= 8);
    CHECK(count(dom, "class=\"band\"") == count(html, "class=\"band\""));
    CHECK(count(dom, "class=\"band\"") > 0);
    CHECK(count(dom, "class=\"error-bars\"") == count(html, "class=\"error-bars\""));
    CHECK(count(dom, "class=\"series faint\"") == count(html, "class=\"series faint\""));
    // The script's own counts of the parsed page agree.
    const std::string counts = read_text(out / "counts.txt");
    CHECK(counts.find("claims 10\n") != std::string::npos);
    CHECK(counts.find("bands " + std::to_string(count(html, "class=\"band\"")) + "\n") !=
          std::string::npos);
    CHECK(counts.find("plots " + std::to_string(count(html, "<svg class=\"plot\"")) + "\n") !=
          std::string::npos);
    const auto png_size = fs::file_size(out / "screenshot.png");
    CHECK(png_size > 50 * 1024);
    const std::string png = read_text(out / "screenshot.png");
    CHECK(png.compare(1, 3, "PNG") == 0);
    if (const char* keep = std::getenv("KELVIN_REPORT_KEEP")) {  // for a person to look at
        fs::create_directories(keep);
        for (const fs::path& f : {dir.path / "report.html", out / "screenshot.png"})
            fs::copy_file(f, fs::path(keep) / f.filename(), fs::copy_options::overwrite_existing);
    }
}
