// analysis/statistics.h against SciPy and brute force (tests/golden/stats_fixtures.json, written
// by tests/golden/make_stats_fixtures.py) and against cases worked by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "analysis/statistics.h"
#include "engine/device.h"
#include "analysis/ood_metrics.h"

using namespace kelvin::analysis;
using json = nlohmann::json;

namespace {

const json& fixtures() {
    static const json j = [] {
        const std::string path = std::string(KELVIN_SOURCE_DIR) + "/tests/golden/stats_fixtures.json";
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot read " + path + " (tests/golden/make_stats_fixtures.py writes it)");
        return json::parse(in);
    }();
    return j;
}

std::vector<double> doubles(const json& j) { return j.get<std::vector<double>>(); }

// |a - b| within rel of |b| (or abs near zero).
void check_close(double a, double b, double rel, double abs_tol, const std::string& what) {
    INFO(what << ": got " << a << ", reference " << b);
    CHECK(std::fabs(a - b) <= std::max(abs_tol, rel * std::fabs(b)));
}

std::vector<Block> blocks_of(const json& j) {
    std::vector<Block> blocks;
    for (const json& b : j) blocks.push_back({doubles(b["levels"]), doubles(b["values"])});
    return blocks;
}

}  // namespace

TEST_CASE("statistics: t and normal quantiles, t cdf and the incomplete beta match SciPy") {
    for (const json& c : fixtures()["t_quantile"])
        check_close(student_t_quantile(c["p"], c["df"]), c["value"], 1e-11, 1e-14,
                    "t quantile p=" + c["p"].dump() + " df=" + c["df"].dump());
    for (const json& c : fixtures()["t_cdf"])
        check_close(student_t_cdf(c["t"], c["df"]), c["value"], 1e-10, 1e-14,
                    "t cdf t=" + c["t"].dump() + " df=" + c["df"].dump());
    for (const json& c : fixtures()["normal_quantile"])
        check_close(normal_quantile(c["p"]), c["value"], 1e-13, 1e-15, "normal quantile p=" + c["p"].dump());
    for (const json& c : fixtures()["incomplete_beta"])
        check_close(incomplete_beta(c["a"], c["b"], c["x"]), c["value"], 1e-11, 1e-14,
                    "I_x(a, b) a=" + c["a"].dump() + " b=" + c["b"].dump() + " x=" + c["x"].dump());
}

TEST_CASE("statistics: quantiles with closed forms (worked by hand)") {
    // df = 1 is the Cauchy distribution: t_p = tan(pi (p - 1/2)); df = 2: t_p = (2p - 1) / sqrt(2p(1 - p)).
    const double pi = 3.14159265358979323846;
    for (double p : {0.6, 0.9, 0.975, 0.995}) {
        CHECK(student_t_quantile(p, 1) == doctest::Approx(std::tan(pi * (p - 0.5))).epsilon(1e-12));
        CHECK(student_t_quantile(p, 2) == doctest::Approx((2 * p - 1) / std::sqrt(2 * p * (1 - p))).epsilon(1e-12));
    }
    CHECK(student_t_quantile(0.975, 1e7) == doctest::Approx(1.959963984540054).epsilon(1e-6));
    CHECK(normal_quantile(0.975) == doctest::Approx(1.959963984540054).epsilon(1e-13));
    CHECK(incomplete_beta(1, 1, 0.3) == doctest::Approx(0.3).epsilon(1e-14));  // uniform cdf
    CHECK_THROWS_AS(student_t_quantile(1.0, 3), kelvin::Error);
    CHECK_THROWS_AS(student_t_quantile(0.5, 0), kelvin::Error);
}

TEST_CASE("statistics: mean, sd and the t interval over seeds match SciPy; NaN runs left out") {
    for (const json& c : fixtures()["summaries"]) {
        const SeedSummary s = summarize(doubles(c["values"]));
        check_close(s.mean, c["mean"], 1e-13, 1e-15, "mean");
        check_close(s.sd, c["sd"], 1e-12, 1e-15, "sd");
        check_close(s.ci_low, c["ci_low"], 1e-11, 1e-13, "ci low");
        check_close(s.ci_high, c["ci_high"], 1e-11, 1e-13, "ci high");
    }
    // By hand: {2,4,4,4,5,5,7,9}: mean 5, sum of squares 32, sd sqrt(32 / 7).
    const double nan = std::nan("");
    SeedSummary s = summarize({2, 4, 4, 4, 5, 5, 7, nan, 9});
    CHECK(s.n == 8);
    CHECK(s.mean == 5.0);
    CHECK(s.sd == doctest::Approx(std::sqrt(32.0 / 7.0)).epsilon(1e-14));
    s = summarize({3.0});
    CHECK(s.n == 1);
    CHECK(s.mean == 3.0);
    CHECK(std::isnan(s.sd));
    CHECK(std::isnan(s.ci_low));
    // Two seeds {1.5, 2.5}: mean 2, sd 1/sqrt(2), half width t_{0.975,1} * 0.5 = 6.3531.
    s = summarize({1.5, 2.5});
    CHECK(s.ci_high - 2.0 == doctest::Approx(0.5 * 12.706204736174707).epsilon(1e-12));
}

TEST_CASE("statistics: midranks and Spearman's rho match SciPy") {
    for (const json& c : fixtures()["midranks"]) {
        const std::vector<double> got = midranks(doubles(c["values"])), want = doubles(c["ranks"]);
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == want[i]);
    }
    for (const json& c : fixtures()["spearman"])
        check_close(spearman(doubles(c["x"]), doubles(c["y"])), c["rho"], 1e-12, 1e-14, "spearman");
    CHECK(spearman({1, 2, 3}, {30, 20, 10}) == doctest::Approx(-1.0));
    CHECK(std::isnan(spearman({1, 2, 3}, {4, 4, 4})));
}

TEST_CASE("statistics: mt19937_64 and the index map are the ones the Python fixtures replay") {
    const json& c = fixtures()["mt19937_64"];
    std::mt19937_64 rng(c["seed"].get<uint64_t>());
    for (const json& v : c["first"]) CHECK(rng() == std::stoull(v.get<std::string>()));
    std::mt19937_64 five(c["draw_index"]["seed"].get<uint64_t>());
    CHECK(draw_index(five, c["draw_index"]["n"].get<uint64_t>()) == c["draw_index"]["values"][0].get<uint64_t>());
}

TEST_CASE("statistics: DeLong's AUROC variance and the seeded bootstrap match the reference") {
    const ScoreMetric auroc = [](const auto& in, const auto& ood) { return kelvin::auroc(in, ood); };
    const ScoreMetric fpr95 = [](const auto& in, const auto& ood) { return kelvin::fpr_at_95_tpr(in, ood); };
    for (const json& c : fixtures()["score_sets"]) {
        const std::vector<double> in = doubles(c["in"]), ood = doubles(c["ood"]);
        const DelongResult d = delong_auroc(in, ood);
        check_close(d.auroc, c["auroc"], 1e-13, 1e-15, "DeLong AUROC");
        check_close(d.variance, c["delong"]["variance"], 1e-11, 1e-16, "DeLong variance");
        check_close(d.low, c["delong"]["low"], 1e-11, 1e-14, "DeLong low");
        check_close(d.high, c["delong"]["high"], 1e-11, 1e-14, "DeLong high");
        const json& b = c["bootstrap"];
        const int64_t resamples = b["resamples"];
        const uint64_t seed = b["seed"];
        const Interval a = bootstrap_interval(in, ood, auroc, resamples, seed);
        check_close(a.estimate, c["auroc"], 1e-13, 1e-15, "bootstrap estimate");
        check_close(a.low, b["auroc"][0], 1e-12, 1e-14, "bootstrap AUROC low");
        check_close(a.high, b["auroc"][1], 1e-12, 1e-14, "bootstrap AUROC high");
        const Interval f = bootstrap_interval(in, ood, fpr95, resamples, seed);
        check_close(f.estimate, c["fpr95"], 1e-13, 1e-15, "FPR95");
        check_close(f.low, b["fpr95"][0], 1e-12, 1e-14, "bootstrap FPR95 low");
        check_close(f.high, b["fpr95"][1], 1e-12, 1e-14, "bootstrap FPR95 high");
        // The counting version diagnose uses gives the very same interval.
        const Interval fast = bootstrap_auroc_interval(in, ood, resamples, seed);
        CHECK(fast.estimate == a.estimate);
        CHECK(fast.low == a.low);
        CHECK(fast.high == a.high);
        // Another seed gives another (close) interval: the seed is used.
        const Interval other = bootstrap_interval(in, ood, auroc, resamples, seed + 1);
        CHECK((other.low != a.low || other.high != a.high));
    }
}

TEST_CASE("statistics: the counting bootstrap of AUROC is the sorting one, ties and all") {
    const ScoreMetric auroc = [](const auto& in, const auto& ood) { return kelvin::auroc(in, ood); };
    std::mt19937_64 rng(11);
    for (int trial = 0; trial < 4; ++trial) {
        // Scores rounded to a coarse grid, so that many tie within and across the two sets.
        std::vector<double> in(300 + 50 * trial), ood(200 + 70 * trial);
        std::normal_distribution<double> normal;
        for (double& v : in) v = std::round(4 * (normal(rng) + 0.7)) / 4;
        for (double& v : ood) v = std::round(4 * normal(rng)) / 4;
        const Interval slow = bootstrap_interval(in, ood, auroc, 200, 5 + trial);
        const Interval fast = bootstrap_auroc_interval(in, ood, 200, 5 + trial);
        CHECK(fast.estimate == slow.estimate);
        CHECK(fast.low == slow.low);
        CHECK(fast.high == slow.high);
    }
    CHECK_THROWS_WITH(bootstrap_auroc_interval({1.0, std::nan("")}, {0.0}, 10, 1),
                      doctest::Contains("a score is NaN"));
}

TEST_CASE("statistics: exact trend and sign-flip p-values match full enumeration") {
    for (const json& c : fixtures()["trend"]) {
        const PermutationTest t = trend_test(blocks_of(c["blocks"]));
        CHECK(t.exact);
        CHECK(t.permutations == c["permutations"].get<double>());
        check_close(t.statistic, c["statistic"], 1e-12, 1e-12, "trend statistic");
        check_close(t.p_greater, c["p_greater"], 1e-12, 1e-14, "trend p_greater");
        check_close(t.p_less, c["p_less"], 1e-12, 1e-14, "trend p_less");
    }
    for (const json& c : fixtures()["sign_flip"]) {
        const PermutationTest t = sign_flip_test(doubles(c["differences"]));
        CHECK(t.exact);
        check_close(t.statistic, c["statistic"], 1e-12, 1e-12, "sign-flip statistic");
        check_close(t.p_greater, c["p_greater"], 1e-12, 1e-14, "sign-flip p_greater");
        check_close(t.p_less, c["p_less"], 1e-12, 1e-14, "sign-flip p_less");
    }
}

TEST_CASE("statistics: hand-worked permutation p-values") {
    // Three seeds, each strictly increasing over three temperatures: Page's term 1*1 + 2*2 + 3*3
    // = 14 per block, the largest possible, reached only by the identity: p = (1/6)^3.
    std::vector<Block> up(3, Block{{1, 10, 100}, {1, 2, 3}});
    PermutationTest t = trend_test(up);
    CHECK(t.statistic == 42.0);
    CHECK(t.p_greater == doctest::Approx(1.0 / 216).epsilon(1e-12));
    CHECK(t.p_less == doctest::Approx(1.0));
    // Differences {1, 2, 3}: only the all-plus pattern sums to 6 or more: p = 1/8.
    t = sign_flip_test({1, 2, 3});
    CHECK(t.p_greater == doctest::Approx(0.125));
    CHECK(t.p_less == doctest::Approx(1.0));
    // All differences zero: no evidence either way.
    t = sign_flip_test({0, 0, 0});
    CHECK(t.p_greater == 1.0);
    CHECK(t.p_less == 1.0);
    // A block with ties, {5, 5, 4} over T = 1, 10, 100: midranks 2.5, 2.5, 1, term 10.5, the
    // smallest of its three distinct arrangements (10.5, 12, 13.5), each with probability 1/3.
    t = trend_test({Block{{1, 10, 100}, {5, 5, 4}}});
    CHECK(t.statistic == 10.5);
    CHECK(t.p_less == doctest::Approx(1.0 / 3));
    CHECK(t.p_greater == doctest::Approx(1.0));
    CHECK_THROWS_AS(trend_test({Block{{1}, {2}}}), kelvin::Error);
}

TEST_CASE("statistics: Monte Carlo permutation p-values lie within 3 standard errors of the exact ones") {
    for (const json& c : fixtures()["trend"]) {
        PermutationOptions mc;
        mc.max_exact_support = 0;  // force Monte Carlo
        mc.draws = 20000;
        mc.seed = 12345;
        const PermutationTest t = trend_test(blocks_of(c["blocks"]), mc);
        CHECK_FALSE(t.exact);
        const double p = c["p_greater"], se = std::sqrt(p * (1 - p) / mc.draws);
        INFO("exact " << p << ", Monte Carlo " << t.p_greater << ", se " << se);
        CHECK(std::fabs(t.p_greater - p) <= 3 * se + 1.0 / mc.draws);
        // Deterministic given the seed.
        CHECK(trend_test(blocks_of(c["blocks"]), mc).p_greater == t.p_greater);
    }
    for (const json& c : fixtures()["sign_flip"]) {
        PermutationOptions mc;
        mc.max_exact_support = 0;
        mc.seed = 99;
        const PermutationTest t = sign_flip_test(doubles(c["differences"]), mc);
        const double p = c["p_less"], se = std::sqrt(p * (1 - p) / mc.draws);
        INFO("exact " << p << ", Monte Carlo " << t.p_less);
        CHECK(std::fabs(t.p_less - p) <= 3 * se + 1.0 / mc.draws);
    }
    // A support cap smaller than the distribution falls back to Monte Carlo by itself.
    PermutationOptions small;
    small.max_exact_support = 3;
    CHECK_FALSE(trend_test(blocks_of(fixtures()["trend"][2]["blocks"]), small).exact);
}

TEST_CASE("statistics: Holm's adjustment") {
    // p = {0.01, 0.04, 0.03, NaN}: sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 0.04).
    const std::vector<double> adj = holm_adjust({0.01, 0.04, 0.03, std::nan("")});
    CHECK(adj[0] == doctest::Approx(0.03));
    CHECK(adj[2] == doctest::Approx(0.06));
    CHECK(adj[1] == doctest::Approx(0.06));
    CHECK(std::isnan(adj[3]));
}
