// The paper's claims as statistical tests on a sweep (docs/METHODS.md, "Claims as tests").
//
// A claim about a factor (temperature, init scale) is a trend test whose blocks are the runs
// that share every setting but that factor, the seed included: the seeds stay paired, and the
// permutation test shuffles the factor's levels within a block only (analysis/statistics.h
// trend_test). A claim comparing two conditions (T = lowest vs highest, a head normalisation vs
// none) is a sign-flip test on the paired differences, pairs again sharing every other setting
// and the seed. Verdicts at level alpha (default 0.05), one-sided in the claim's direction:
//   supported      p (claimed direction) < alpha
//   contradicted   p (opposite direction) < alpha
//   inconclusive   neither
//   not testable   the grid lacks what the test needs (the reason says what: "needs >= 3 seeds
//                  (has 1)", "needs 2+ temperatures", ...)
// A claim made of several tests (9: two results; 10: two results per head normalisation) is
// supported when every test is (an intersection-union test: its p is the largest), and
// contradicted when one is contradicted at alpha / m (Bonferroni over its m tests). Each claim is
// its own hypothesis at level alpha; Holm's adjustment over the testable claims is reported
// beside (p_holm) for a reader who wants family-wise control.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/run_results.h"
#include "analysis/statistics.h"

namespace kelvin::analysis {

enum class Verdict { supported, contradicted, inconclusive, not_testable };
const char* verdict_name(Verdict v);  // "supported", ..., "not testable"

struct ClaimOptions {
    double alpha = 0.05;
    double level = 0.95;  // of the effect sizes' intervals
    int min_seeds = 3;    // below this no claim is tested, whatever the test could reach
    PermutationOptions permutation;
};

// One test behind a claim.
struct ClaimTest {
    std::string result;     // the result tested, a name listed in experiments/record_results.h
    std::string factor;     // "temperature", "init_scale", "T=1 -> T=100", "none -> layernorm"
    std::string statistic;  // what the p-value is computed from
    std::string effect_name;
    int expected_sign = 1;  // the claimed direction of the effect
    Verdict verdict = Verdict::not_testable;
    std::string reason;     // why not testable, or a note (e.g. "equal in every pair")
    double effect = 0, effect_low = 0, effect_high = 0;  // mean over seeds, t interval
    double p_value = 1;     // one-sided, claimed direction
    double p_opposite = 1;  // one-sided, the other direction
    bool exact = true;
    double permutations = 0;
    double mc_standard_error = 0;
    int64_t units = 0;  // blocks or pairs
    int64_t seeds = 0;
    int min_seeds = 0;  // seeds this grid needs for the test (at least ClaimOptions::min_seeds)
    std::vector<std::string> runs;
};

struct ClaimResult {
    int number = 0;
    std::string statement;
    Verdict verdict = Verdict::not_testable;
    std::string reason;
    double p_value = 1;     // the claim's p (the largest of its tests' for several)
    double p_opposite = 1;  // Bonferroni over its tests for several
    double p_holm = 1;      // Holm over the testable claims (NaN when not testable)
    int min_seeds = 0;
    std::vector<ClaimTest> tests;
    std::vector<std::string> runs;  // every run any of its tests used, sorted
};

// Claims 1-10 of the issue "Results a reviewer would accept", always all ten, in order.
std::vector<ClaimResult> test_claims(const std::vector<RunResults>& runs, const ClaimOptions& options = {});

// claims.json: {"alpha", "level", "method", "claims": [{number, statement, verdict, reason,
// p_value, p_opposite, p_holm, min_seeds, runs, tests: [{result, factor, statistic,
// effect: {name, estimate, low, high}, expected_direction, verdict, reason, p_value, p_opposite,
// exact, permutations, mc_standard_error, units, seeds, min_seeds, runs}]}]}. NaN is null.
nlohmann::json claims_json(const std::vector<ClaimResult>& claims, const ClaimOptions& options = {});
// A Markdown table: claim, verdict, effect [interval], p, seeds / needed, reason.
std::string claims_markdown(const std::vector<ClaimResult>& claims);

}  // namespace kelvin::analysis
