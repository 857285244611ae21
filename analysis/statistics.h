// The statistics behind kelvin's numbers over seeds and its tests of the paper's claims, written
// from the definitions (no statistics library): Student t intervals over seeds, a stratified
// percentile bootstrap and DeLong's interval for one run's AUROC / FPR95, Spearman's rank
// correlation, a trend test across the levels of a factor (temperature, init scale) that keeps
// the runs of one seed together, and a sign-flip test for paired differences.
//
// Every random procedure draws from std::mt19937_64 seeded by the caller, and maps its 64-bit
// output to an index as floor(x * n / 2^64) (never std::uniform_int_distribution, whose output
// is left to the standard library): the same seed gives the same numbers on every platform, and
// tests/golden/make_stats_fixtures.py replays the same draws in Python.
// docs/METHODS.md, "Claims as tests", says how these tests decide a verdict.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace kelvin::analysis {

// ---- distributions ------------------------------------------------------------------------------

// The regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1].
double incomplete_beta(double a, double b, double x);
// Student t with df > 0 degrees of freedom (df need not be an integer).
double student_t_cdf(double t, double df);
double student_t_quantile(double p, double df);  // p in (0, 1)
double normal_quantile(double p);                // p in (0, 1)

// ---- over seeds ---------------------------------------------------------------------------------

double mean(const std::vector<double>& values);
double sample_sd(const std::vector<double>& values);  // ddof 1; NaN below 2 values

// n, mean, sample sd and the Student t interval mean -/+ t_{(1+level)/2, n-1} sd / sqrt(n).
// Non-finite values are left out of all of them (a diverged run has no rank to average);
// n counts the values used. Below 2 values sd and the interval are NaN.
struct SeedSummary {
    int64_t n = 0;
    double mean = 0, sd = 0, ci_low = 0, ci_high = 0;
};
SeedSummary summarize(const std::vector<double>& values, double level = 0.95);

// ---- inside one run: AUROC and FPR95 over test samples ------------------------------------------

struct Interval {
    double estimate = 0, low = 0, high = 0;
};

// The q-quantile of values by linear interpolation between order statistics (numpy's default,
// Hyndman & Fan type 7).
double quantile(std::vector<double> values, double q);

// Stratified percentile bootstrap: each of `resamples` draws resamples the in-distribution and
// the OOD scores separately, with replacement and at their own sizes (so each draw keeps the
// class balance), and evaluates `metric` on them; the interval is the (1-level)/2 and
// (1+level)/2 quantiles of the draws, the estimate the metric on the data themselves. The draws
// come from mt19937_64(seed): in scores first, then OOD scores, draw after draw.
using ScoreMetric = std::function<double(const std::vector<double>& in_scores,
                                         const std::vector<double>& ood_scores)>;
Interval bootstrap_interval(const std::vector<double>& in_scores,
                            const std::vector<double>& ood_scores, const ScoreMetric& metric,
                            int64_t resamples, uint64_t seed, double level = 0.95);

// The same interval as bootstrap_interval with kelvin::auroc as the metric (the same draws, the
// same values: AUROC's ties-as-halves pair count is exact in double either way), but each
// resample costs O(n) instead of a sort: the scores are sorted once and a resample only counts
// how often it drew each one. diagnose computes it for every detector and OOD set, where the
// sort-per-resample version took seconds.
Interval bootstrap_auroc_interval(const std::vector<double>& in_scores,
                                  const std::vector<double>& ood_scores, int64_t resamples,
                                  uint64_t seed, double level = 0.95);

// DeLong's estimate of Var(AUROC) (DeLong, DeLong & Clarke-Pearson 1988), in-distribution as the
// positive class and ties counted 1/2, from the placement values computed by midranks
// (Sun & Xu 2014), and the normal interval AUROC -/+ z sqrt(var) clipped to [0, 1].
struct DelongResult {
    double auroc = 0, variance = 0, low = 0, high = 0;
};
DelongResult delong_auroc(const std::vector<double>& in_scores,
                          const std::vector<double>& ood_scores, double level = 0.95);

// ---- rank statistics and permutation tests ------------------------------------------------------

// Midranks (1-based; ties share the mean of their ranks).
std::vector<double> midranks(const std::vector<double>& values);
// Pearson's correlation of the midranks; NaN when either side is constant.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

// How a permutation p-value is found: exactly, by enumerating every permutation (the
// distribution of the statistic is built block by block), while the number of distinct
// values of the statistic stays at most max_exact_support; otherwise from `draws` random
// permutations drawn from mt19937_64(seed), p = (1 + #{stat >= observed}) / (1 + draws).
struct PermutationOptions {
    int64_t max_exact_support = 200'000;  // 0: always Monte Carlo
    int64_t draws = 20'000;
    uint64_t seed = 1;
};

// One-sided p-values of a permutation test in both directions. For Monte Carlo p-values
// mc_standard_error is sqrt(p (1 - p) / draws) of the larger-side p; 0 when exact.
struct PermutationTest {
    double statistic = 0;    // observed
    double p_greater = 1;    // P(stat >= observed) under the null
    double p_less = 1;       // P(stat <= observed) under the null
    bool exact = true;
    double permutations = 0;  // enumerated (exact) or drawn (Monte Carlo)
    double mc_standard_error = 0;
};

// A block is the runs that differ only in the factor tested (for a trend across temperatures:
// one seed with one setting of everything else); `levels` the factor's value of each run and
// `values` the result. Statistic: Page's L = sum over blocks of sum_i rank(level_i) x
// midrank(value_i) (Page 1963, with midranks for ties); for blocks of one size without ties it
// is an increasing affine function of the sum of the blocks' Spearman rho. Null: within each
// block the values are exchangeable across levels, so the permutations shuffle values within
// blocks only and the runs of a seed stay together. Large L: values rise with the level.
// Blocks need 2+ runs.
struct Block {
    std::vector<double> levels, values;
};
PermutationTest trend_test(const std::vector<Block>& blocks, const PermutationOptions& options = {});

// Sign-flip test on paired differences d_i (condition B minus condition A of pair i): statistic
// sum_i d_i; the null (d_i symmetric about 0) flips each sign independently, 2^n equally likely
// sign patterns (exact while their distinct sums stay within max_exact_support).
PermutationTest sign_flip_test(const std::vector<double>& differences,
                               const PermutationOptions& options = {});

// Holm's step-down adjustment of p-values (family-wise error control); NaNs are kept as NaN and
// left out of the family.
std::vector<double> holm_adjust(const std::vector<double>& p_values);

// floor(x * n / 2^64) for the next x of rng: an index in [0, n).
uint64_t draw_index(std::mt19937_64& rng, uint64_t n);

}  // namespace kelvin::analysis
