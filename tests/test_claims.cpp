// analysis/claims.h, analysis/cell_summary.h and analysis/run_results.h on synthetic sweeps
// whose answers are known: trends the right way, the wrong way and absent; grids lacking seeds,
// temperatures, init scales or head normalisations.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "analysis/cell_summary.h"
#include "analysis/claims.h"
#include "analysis/detection_intervals.h"
#include "analysis/run_results.h"
#include "experiments/record_results.h"
#include "experiments/run_diagnostics.h"
#include "experiments/run_metrics.h"
#include "experiments/run_record.h"
#include "tests/cli_runner.h"
#include "engine/device.h"
#include "analysis/ood_metrics.h"

using namespace kelvin::analysis;

namespace {

using Results = std::map<std::string, double>;
struct Setting {
    double temperature = 1, init_scale = 1;
    std::string head_norm = "none";
    uint64_t seed = 1;
};
using Maker = std::function<Results(const Setting&)>;

// A small reproducible jitter in [-0.5, 0.5) per (setting, seed, salt): seeds differ, but
// never enough to hide the trends the makers build in.
double jitter(const Setting& s, int salt) {
    uint64_t h = s.seed * 0x9E3779B97F4A7C15ull + uint64_t(salt) * 0xBF58476D1CE4E5B9ull +
                 uint64_t(s.temperature * 1000) * 0x94D049BB133111EBull + uint64_t(s.init_scale * 1000) +
                 std::hash<std::string>{}(s.head_norm);
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return double(h % 1000) / 1000.0 - 0.5;
}

std::vector<RunResults> sweep(const std::vector<double>& temperatures, const std::vector<uint64_t>& seeds,
                              const Maker& make, const std::vector<double>& init_scales = {1},
                              const std::vector<std::string>& head_norms = {"none"}) {
    std::vector<RunResults> runs;
    for (const std::string& norm : head_norms)
        for (double init : init_scales)
            for (double t : temperatures)
                for (uint64_t seed : seeds) {
                    Setting s{t, init, norm, seed};
                    RunResults r;
                    r.id = "mlp_T" + std::to_string(int(t)) + "_i" + std::to_string(init) + "_" + norm + "_s" +
                           std::to_string(seed);
                    r.temperature = t;
                    r.init_scale = init;
                    r.head_norm = norm;
                    r.seed = seed;
                    r.other = {{"model", "mlp"}, {"dataset", "fashion-mnist:classes=0-4"}};
                    r.results = make(s);
                    runs.push_back(r);
                }
    return runs;
}

// The demo's pattern: the paper's direction for claims 1-5 and 8, the opposite for 6 and 7
// (what docs/REPRODUCTION.md saw), kappa flat.
Results demo_like(const Setting& s) {
    const double log_t = std::log10(s.temperature);
    const std::string ood = "/fashion-mnist:classes=5-9";
    return {{"rank_logits", s.temperature >= 100 ? 4 : 5},
            {"rank_softmax", 5},
            {"logits_norm", 10 * s.temperature * (1 + 0.1 * jitter(s, 1))},
            {"rho" + ood, 0.13 + 0.13 * log_t + 0.02 * jitter(s, 2)},
            {"kappa", 0.2},
            {"neco_auroc" + ood, 0.90 - 0.02 * log_t + 0.005 * jitter(s, 3)},
            {"orthodev" + ood, 0.56 + 0.12 * log_t + 0.01 * jitter(s, 4)},
            {"rank_probe_last", 185 - 80 * log_t + 5 * jitter(s, 5)},
            {"test_acc", 0.9 - 0.02 * log_t + 0.005 * jitter(s, 6)}};
}

const ClaimResult& claim(const std::vector<ClaimResult>& claims, int number) {
    REQUIRE(claims.size() == 10);
    REQUIRE(claims[number - 1].number == number);
    return claims[number - 1];
}

}  // namespace

TEST_CASE("claims: five seeds of a demo-like grid give verdicts for claims 1-8, the right ones") {
    const auto claims = test_claims(sweep({1, 10, 100}, {1, 2, 3, 4, 5}, demo_like));
    CHECK(claim(claims, 1).verdict == Verdict::supported);   // rank 5 -> 4 in all 5 pairs: p = 1/32
    CHECK(claim(claims, 1).p_value == doctest::Approx(1.0 / 32));
    CHECK(claim(claims, 1).tests[0].effect == doctest::Approx(-1.0));
    CHECK(claim(claims, 1).tests[0].factor == "T=1 -> T=100");
    CHECK(claim(claims, 2).verdict == Verdict::supported);
    CHECK(claim(claims, 3).verdict == Verdict::supported);
    CHECK(claim(claims, 3).p_value == doctest::Approx(std::pow(1.0 / 6, 5)));  // every block monotone
    CHECK(claim(claims, 3).tests[0].effect == doctest::Approx(1.0));
    CHECK(claim(claims, 4).verdict == Verdict::supported);
    CHECK(claim(claims, 5).verdict == Verdict::inconclusive);
    CHECK(claim(claims, 5).reason.find("does not change") != std::string::npos);
    CHECK(claim(claims, 6).verdict == Verdict::contradicted);  // NECO falls with T here
    CHECK(claim(claims, 7).verdict == Verdict::contradicted);  // OrthoDev rises with T here
    CHECK(claim(claims, 8).verdict == Verdict::supported);
    CHECK(claim(claims, 9).verdict == Verdict::not_testable);
    CHECK(claim(claims, 9).reason.find("needs 2+ init_scale values (has 1)") != std::string::npos);
    CHECK(claim(claims, 10).verdict == Verdict::not_testable);
    CHECK(claim(claims, 10).reason == "needs runs with a head_norm other than none");
    // Trend claims use every run: 5 blocks of 3 temperatures.
    CHECK(claim(claims, 4).tests[0].units == 5);
    CHECK(claim(claims, 4).runs.size() == 15);
    CHECK(claim(claims, 4).tests[0].exact);
    // Holm over the 8 testable claims: each adjusted p at least the raw one.
    for (int c = 1; c <= 8; ++c) CHECK(claim(claims, c).p_holm >= claim(claims, c).p_value);
    CHECK(std::isnan(claim(claims, 9).p_holm));
}

TEST_CASE("claims: a sweep with one seed still works and says which claims need more seeds") {
    const auto claims = test_claims(sweep({1, 10, 100}, {1}, demo_like));
    CHECK(claim(claims, 1).verdict == Verdict::not_testable);
    CHECK(claim(claims, 1).reason == "needs >= 5 seeds (has 1)");  // a pair per seed: 2^-5 < 0.05
    for (int c = 2; c <= 8; ++c) {
        CAPTURE(c);
        CHECK(claim(claims, c).verdict == Verdict::not_testable);
        CHECK(claim(claims, c).reason == "needs >= 3 seeds (has 1)");
        CHECK(claim(claims, c).min_seeds == 3);
    }
    // Two temperatures need 5 seeds for the trend test to reach p < 0.05 at all (2^-5).
    const auto two = test_claims(sweep({1, 100}, {1, 2, 3}, demo_like));
    CHECK(claim(two, 4).reason == "needs >= 5 seeds (has 3)");
    const auto json = claims_json(claims);
    CHECK(json["claims"].size() == 10);
    CHECK(json["claims"][3]["verdict"] == "not testable");
    CHECK(json["claims"][3]["p_value"].is_null());
    CHECK(json["claims"][3]["tests"][0]["effect"]["estimate"].is_null());
}

TEST_CASE("claims: one temperature, missing results and an empty grid are not testable, saying why") {
    auto claims = test_claims(sweep({1}, {1, 2, 3, 4, 5}, demo_like));
    CHECK(claim(claims, 1).reason == "needs 2+ temperatures (has 1)");
    CHECK(claim(claims, 4).reason == "needs 2+ temperature values (has 1)");
    claims = test_claims(sweep({1, 10, 100}, {1, 2, 3}, [](const Setting& s) {
        return Results{{"test_acc", 0.9}, {"logits_norm", s.temperature}};  // no diagnostics
    }));
    CHECK(claim(claims, 3).verdict == Verdict::supported);
    CHECK(claim(claims, 5).reason == "no run has the result kappa");
    claims = test_claims({});
    for (const ClaimResult& c : claims) CHECK(c.verdict == Verdict::not_testable);
}

TEST_CASE("claims: a trend the wrong way is contradicted, no trend is inconclusive") {
    auto reversed = [](const Setting& s) {
        Results r = demo_like(s);
        r["rank_probe_last"] = 50 + 60 * std::log10(s.temperature) + 5 * jitter(s, 9);
        r["logits_norm"] = 100 / s.temperature;
        return r;
    };
    auto claims = test_claims(sweep({1, 10, 100}, {1, 2, 3, 4, 5}, reversed));
    CHECK(claim(claims, 8).verdict == Verdict::contradicted);
    CHECK(claim(claims, 8).p_opposite == doctest::Approx(std::pow(1.0 / 6, 5)));
    CHECK(claim(claims, 3).verdict == Verdict::contradicted);
    // Seed s puts its maximum at a different temperature each time: no trend.
    auto flat = [](const Setting& s) {
        Results r = demo_like(s);
        const int position = int(std::round(std::log10(s.temperature)));  // 0, 1, 2
        r["rank_probe_last"] = double((position + s.seed) % 3);
        return r;
    };
    claims = test_claims(sweep({1, 10, 100}, {1, 2, 3, 4, 5, 6}, flat));
    CHECK(claim(claims, 8).verdict == Verdict::inconclusive);
    CHECK(claim(claims, 8).p_value > 0.2);
}

TEST_CASE("claims: blocks keep seeds and other settings paired (two models, same pattern)") {
    auto runs = sweep({1, 10, 100}, {1, 2, 3}, demo_like);
    auto more = sweep({1, 10, 100}, {1, 2, 3}, demo_like);
    for (RunResults& r : more) {
        r.other["model"] = "vgg11";
        r.id += "_vgg";
    }
    runs.insert(runs.end(), more.begin(), more.end());
    const auto claims = test_claims(runs);
    CHECK(claim(claims, 4).tests[0].units == 6);  // 2 models x 3 seeds
    CHECK(claim(claims, 4).tests[0].seeds == 3);
    CHECK(claim(claims, 4).verdict == Verdict::supported);
    CHECK(claim(claims, 4).p_value == doctest::Approx(std::pow(1.0 / 6, 6)));
}

TEST_CASE("claims: init scale acts like temperature (claim 9), both ways") {
    auto like_temperature = [](const Setting& s) {
        Results r = demo_like(s);
        r.erase("rho/fashion-mnist:classes=5-9");
        r["rho/ood"] = 0.3 - 0.12 * std::log2(s.init_scale) + 0.01 * jitter(s, 7);
        r["rank_probe_last"] = 185 + 150 * std::log2(s.init_scale) + 5 * jitter(s, 8);
        return r;
    };
    auto claims = test_claims(sweep({1}, {1, 2, 3, 4, 5}, like_temperature, {0.5, 1, 2}));
    CHECK(claim(claims, 9).verdict == Verdict::supported);
    CHECK(claim(claims, 9).tests.size() == 2);
    CHECK(claim(claims, 9).tests[0].effect == doctest::Approx(-1.0));
    CHECK(claim(claims, 9).tests[1].effect == doctest::Approx(1.0));
    auto opposite = [&](const Setting& s) {
        Results r = like_temperature(s);
        r["rank_probe_last"] = 400 - r["rank_probe_last"];
        return r;
    };
    claims = test_claims(sweep({1}, {1, 2, 3, 4, 5}, opposite, {0.5, 1, 2}));
    CHECK(claim(claims, 9).verdict == Verdict::contradicted);
}

TEST_CASE("claims: head normalisation at high T (claim 10) against none, per normalisation") {
    auto collapse_without_norm = [](const Setting& s) {
        Results r = demo_like(s);
        r.erase("rho/fashion-mnist:classes=5-9");
        const bool collapses = s.temperature > 1 && s.head_norm == "none";
        r["rho/ood"] = (collapses ? 0.4 : 0.12) + 0.01 * jitter(s, 10);
        r["rank_probe_last"] = (collapses ? 10 : 150) + 5 * jitter(s, 11);
        return r;
    };
    const std::vector<std::string> norms = {"none", "layernorm", "normalized_logits"};
    auto claims = test_claims(sweep({1, 100}, {1, 2, 3, 4, 5}, collapse_without_norm, {1}, norms));
    const ClaimResult& c = claim(claims, 10);
    CHECK(c.verdict == Verdict::supported);
    REQUIRE(c.tests.size() == 4);  // (rho, rank) x (layernorm, normalized_logits)
    CHECK(c.tests[0].factor == "none -> layernorm at T=100");
    CHECK(c.tests[0].effect < -0.2);
    CHECK(c.tests[1].effect > 100);
    CHECK(c.runs.size() == 15);  // 5 seeds x 3 norms at T = 100
    CHECK(claims_markdown(claims).find("rank_probe_last (none -> normalized_logits at T=100) ") !=
          std::string::npos);
    // LayerNorm making it worse: one test the wrong way. With 5 seeds its p (1/32) is not below
    // alpha / 4 (Bonferroni over the claim's 4 tests), so inconclusive; with 7 (1/128) contradicted.
    auto worse = [&](const Setting& s) {
        Results r = collapse_without_norm(s);
        if (s.head_norm == "layernorm" && s.temperature > 1) r["rho/ood"] = 0.6 + 0.01 * jitter(s, 12);
        return r;
    };
    claims = test_claims(sweep({1, 100}, {1, 2, 3, 4, 5}, worse, {1}, norms));
    CHECK(claim(claims, 10).verdict == Verdict::inconclusive);
    claims = test_claims(sweep({1, 100}, {1, 2, 3, 4, 5, 6, 7}, worse, {1}, norms));
    CHECK(claim(claims, 10).verdict == Verdict::contradicted);
    // Only T = 1: the claim is about high T.
    claims = test_claims(sweep({1}, {1, 2, 3, 4, 5}, collapse_without_norm, {1}, norms));
    CHECK(claim(claims, 10).reason == "needs a temperature above 1");
}

TEST_CASE("claims: claims.json and the Markdown table carry verdicts, effects and runs") {
    const auto claims = test_claims(sweep({1, 10, 100}, {1, 2, 3, 4, 5}, demo_like));
    const nlohmann::json j = claims_json(claims);
    CHECK(j["alpha"] == 0.05);
    CHECK(j["claims"][0]["verdict"] == "supported");
    CHECK(j["claims"][0]["runs"].size() == 10);
    const auto& test = j["claims"][3]["tests"][0];
    CHECK(test["result"] == "rho");
    CHECK(test["expected_direction"] == "increasing");
    CHECK(test["effect"]["low"].get<double>() <= test["effect"]["estimate"].get<double>());
    CHECK(test["exact"] == true);
    const std::string md = claims_markdown(claims);
    CHECK(md.find("| 6 | NECO's AUROC grows with T | contradicted |") != std::string::npos);
    CHECK(md.find("needs 2+ init_scale values (has 1)") != std::string::npos);
}

TEST_CASE("cell summary: one row per cell with n, mean, sd and the t interval over seeds") {
    auto runs = sweep({1, 10}, {1, 2, 3}, [](const Setting& s) {
        return Results{{"test_acc", 0.8 + 0.01 * double(s.seed)}, {"kappa", s.seed == 2 ? std::nan("") : 0.2}};
    });
    const auto cells = summarize_by_cell(runs);
    REQUIRE(cells.size() == 2);
    CHECK(cells[0].cell.temperature == 1);
    CHECK(cells[0].seeds == std::vector<uint64_t>{1, 2, 3});
    const SeedSummary acc = cells[0].results.at("test_acc");
    CHECK(acc.n == 3);
    CHECK(acc.mean == doctest::Approx(0.82));
    CHECK(acc.sd == doctest::Approx(0.01));
    CHECK(acc.ci_high - acc.mean == doctest::Approx(4.302652729911275 * 0.01 / std::sqrt(3.0)).epsilon(1e-10));
    CHECK(cells[0].results.at("kappa").n == 2);  // the NaN run is left out
    const std::string csv = cells_csv(cells);
    CHECK(csv.rfind("dataset,model,head_norm,init_scale,temperature,seeds,n(kappa),mean(kappa),sd(kappa),"
                    "ci95_low(kappa),ci95_high(kappa),n(test_acc),mean(test_acc)",
                    0) == 0);
    CHECK(csv.find("fashion-mnist:classes=0-4,mlp,none,1,1,1 2 3,2,0.2,0,0.2,0.2,3,0.82,0.01,") != std::string::npos);
    const std::string md = cells_markdown(cells, {"test_acc"});
    CHECK(md.find("| fashion-mnist:classes=0-4 | mlp | none | 1 | 10 | 1 2 3 | 0.82 [0.7952, 0.8448] (3) |") !=
          std::string::npos);
    runs.push_back(runs.front());
    runs.back().id = "copy";
    CHECK_THROWS_WITH_AS(summarize_by_cell(runs), doctest::Contains("same settings and seed 1"), kelvin::Error);
}

TEST_CASE("run results: the names the claims use, read from metrics.json and diagnostics.json") {
    const nlohmann::json metrics = {{"final", {{"test_acc", 0.9}, {"logits_norm", 10.3}, {"logits_norm_init", 0.085}}}};
    const nlohmann::json diagnostics = {
        {"rank", {{"logits", 5}, {"softmax", 5},
                  {"by_gamma", {{"logits", {{"0.01", 4}, {"0.001", 5}}}, {"softmax", {{"0.01", 5}}}}},
                  {"layers", {{{"name", "fc1"}, {"rank", 504}}, {{"name", "fc5"}, {"rank", 185}}}}}},
        {"logits_norm", {{"mean", 9.9}, {"frobenius", 700.0}, {"sigma_1", 650.0}}},
        {"accuracy", 0.91},
        {"probes", {{"layers", {"fc1", "fc5"}}, {"id", {0.905, 0.91}}, {"ood", {{"fm:5-9", {0.94, 0.82}}}}}},
        {"kappa", 0.2},
        {"rho", {{"fm:5-9", 0.13}, {"svhn", 0.33}}},
        {"ood_detection", {{"neco", {{"fm:5-9", {{"auroc", 0.903}, {"fpr95", 0.5}}}, {"svhn", {{"auroc", 0.8}, {"fpr95", 0.6}}}}}}},
        {"orthodev", {{"fm:5-9", 0.56}}}};
    namespace ex = kelvin::experiments;
    const ex::Metrics typed_metrics = ex::metrics_from_json(metrics);
    const ex::Diagnostics typed_diagnostics = ex::diagnostics_from_json(diagnostics);
    RunResults run;
    run.results = ex::record_results(&typed_metrics, &typed_diagnostics);
    const std::map<std::string, double> want = {
        {"test_acc", 0.9}, {"logits_norm", 10.3}, {"logits_norm_init", 0.085}, {"logits_sigma_1", 650},
        {"logits_frobenius", 700}, {"rank_logits", 5}, {"rank_softmax", 5}, {"rank_logits/gamma=0.01", 4},
        {"rank_logits/gamma=0.001", 5}, {"rank_softmax/gamma=0.01", 5}, {"rank_probe/fc1", 504},
        {"rank_probe/fc5", 185}, {"rank_probe_last", 185}, {"probe_id/fc1", 0.905}, {"probe_id/fc5", 0.91},
        {"probe_id_last", 0.91}, {"probe_ood/fm:5-9/fc1", 0.94}, {"probe_ood/fm:5-9/fc5", 0.82}, {"kappa", 0.2},
        {"rho/fm:5-9", 0.13}, {"rho/svhn", 0.33}, {"neco_auroc/fm:5-9", 0.903}, {"neco_fpr95/fm:5-9", 0.5},
        {"neco_auroc/svhn", 0.8}, {"neco_fpr95/svhn", 0.6}, {"orthodev/fm:5-9", 0.56}};
    CHECK(run.results == want);
    CHECK(*result_value(run, "rho") == doctest::Approx(0.23));  // mean over the OOD sets
    CHECK(*result_value(run, "neco_auroc") == doctest::Approx(0.8515));
    CHECK_FALSE(result_value(run, "msp_auroc").has_value());
    // Without metrics.json (a checkpoint trained elsewhere) diagnose's own numbers stand in.
    const auto alone = ex::record_results(nullptr, &typed_diagnostics);
    CHECK(alone.at("test_acc") == 0.91);
    CHECK(alone.at("logits_norm") == 9.9);
    CHECK(ex::record_results(nullptr, nullptr).empty());
    const nlohmann::json config = {{"model", "mlp"}, {"dataset", "fashion-mnist:classes=0-4"}, {"temperature", 100.0},
                                   {"seed", 3}, {"model_options", {{"init_scale", 0.5}, {"head_norm", "layernorm"}}}};
    ex::RunRecord record;
    record.name = "mlp_T100_s3";
    record.config = ex::config_from_json(config);
    record.metrics = typed_metrics;
    record.diagnostics = typed_diagnostics;
    const RunResults r = ex::run_results_of(record);
    CHECK(r.id == "mlp_T100_s3");
    CHECK(r.temperature == 100.0);
    CHECK(r.seed == 3);
    CHECK(r.init_scale == 0.5);
    CHECK(r.head_norm == "layernorm");
    CHECK(r.other == std::map<std::string, std::string>{{"model", "mlp"}, {"dataset", "fashion-mnist:classes=0-4"}});
    CHECK(r.results == want);
}

TEST_CASE("detection intervals: DeLong and the bootstrap agree on a large sample and hold the value") {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    std::vector<double> in(800), ood(600);
    for (double& v : in) v = normal(rng) + 1.0;
    for (double& v : ood) v = normal(rng);
    const ScoreMetric fpr95 = [](const auto& a, const auto& b) { return kelvin::fpr_at_95_tpr(a, b); };
    DetectionIntervalOptions options;
    options.resamples = 400;
    const DetectionIntervals j = detection_intervals(in, ood, fpr95, options);
    const double value = kelvin::auroc(in, ood);
    const DelongResult& delong = j.auroc_delong;
    const Interval& boot = j.auroc_bootstrap;
    CHECK(delong.low < value);
    CHECK(value < delong.high);
    CHECK(std::fabs(delong.low - boot.low) < 0.01);
    CHECK(std::fabs(delong.high - boot.high) < 0.01);
    const Interval& fpr = j.fpr95_bootstrap;
    CHECK(fpr.low <= kelvin::fpr_at_95_tpr(in, ood));
    CHECK(kelvin::fpr_at_95_tpr(in, ood) <= fpr.high);
}

TEST_CASE("run results: every result the claims use is found in what kelvin train --diagnose writes" *
          doctest::skip(!kelvin::testing::kHaveFashionMnist)) {
    kelvin::testing::TempDir tmp("claims-records");
    const std::filesystem::path out = tmp.path / "run";
    const auto r = kelvin::testing::run_kelvin(
        "train --dataset fashion-mnist:classes=0-4 --depth 3 --width 32 --batch-size 50 --train-subset 1000 "
        "--eval-batch-size 500 --lr 0.05 --epochs 1 --temperature 10 --seed 2 --out " + out.string() +
        " --diagnose --ood fashion-mnist:classes=5-9 --samples 400 --probe-train-samples 400 --probe-epochs 2");
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    auto read = [&](const char* name) {
        std::ifstream in(out / name);
        return nlohmann::json::parse(in);
    };
    const RunResults run = kelvin::experiments::run_results_of(kelvin::experiments::load_run(out, ""));
    CHECK(run.temperature == 10.0);
    CHECK(run.seed == 2);
    CHECK(run.head_norm == "none");
    CHECK(run.other.at("dataset") == "fashion-mnist:classes=0-4");
    for (const char* name : {"test_acc", "logits_norm", "logits_norm_init", "logits_sigma_1", "rank_logits",
                             "rank_softmax", "rank_logits/gamma=0.01", "rank_probe_last", "probe_id_last", "kappa",
                             "rho", "neco_auroc", "neco_fpr95", "msp_auroc", "max_logit_auroc", "energy_auroc",
                             "orthodev", "rho/fashion-mnist:classes=5-9"})
        CHECK_MESSAGE(result_value(run, name).has_value(), name);
    // Two hidden layers: two probe points, each with a rank and in-distribution and OOD accuracies.
    int ranks = 0, ood_probes = 0;
    for (const auto& [name, value] : run.results) {
        ranks += name.rfind("rank_probe/", 0) == 0;
        ood_probes += name.rfind("probe_ood/fashion-mnist:classes=5-9/", 0) == 0;
    }
    CHECK(ranks == 2);
    CHECK(ood_probes == 2);
    // diagnose writes each detector's 95% intervals over test samples beside its value.
    const nlohmann::json detection = read("diagnostics.json")["ood_detection"];
    for (const char* method : {"neco", "msp", "max_logit", "energy"}) {
        INFO(method);
        const nlohmann::json& d = detection[method]["fashion-mnist:classes=5-9"];
        const double auroc = d["auroc"].get<double>(), fpr95 = d["fpr95"].get<double>();
        for (const char* how : {"delong", "bootstrap"}) {
            const auto bounds = d["auroc_interval"][how].get<std::vector<double>>();
            REQUIRE(bounds.size() == 2);
            CHECK(bounds[0] <= auroc);
            CHECK(auroc <= bounds[1]);
            CHECK(bounds[0] < bounds[1]);  // 400 + 400 samples: a real spread
        }
        const auto fpr = d["fpr95_interval"]["bootstrap"].get<std::vector<double>>();
        CHECK(fpr[0] <= fpr95);
        CHECK(fpr95 <= fpr[1]);
        CHECK(d["interval_method"]["resamples"] == 1000);
    }
    // One run: every claim is there, none testable, and each says why.
    for (const ClaimResult& c : test_claims({run})) {
        CHECK(c.verdict == Verdict::not_testable);
        CHECK_FALSE(c.reason.empty());
    }
}
