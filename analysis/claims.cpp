#include "analysis/claims.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <tuple>

namespace kelvin::analysis {
namespace {

using json = nlohmann::json;
using Runs = std::vector<const RunResults*>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- grouping runs ------------------------------------------------------------------------------

enum class Factor { temperature, init_scale, head_norm };

const char* factor_name(Factor f) {
    return f == Factor::temperature ? "temperature" : f == Factor::init_scale ? "init_scale" : "head_norm";
}

double level_of(const RunResults& r, Factor f) {
    return f == Factor::temperature ? r.temperature : r.init_scale;
}

// Every setting of a run but `factor`: runs with the same key form a block (or a pair).
using Key = std::tuple<std::map<std::string, std::string>, std::string, double, double, uint64_t>;
Key key_without(const RunResults& r, Factor f) {
    return {r.other, f == Factor::head_norm ? "" : r.head_norm,
            f == Factor::init_scale ? 0.0 : r.init_scale,
            f == Factor::temperature ? 0.0 : r.temperature, r.seed};
}

Runs having(const Runs& runs, const std::string& name) {
    Runs out;
    for (const RunResults* r : runs)
        if (result_value(*r, name)) out.push_back(r);
    return out;
}

void join_ids(const Runs& runs, std::vector<std::string>& into) {
    for (const RunResults* r : runs) into.push_back(r->id);
}

// ---- shared pieces of a test --------------------------------------------------------------------

// The fewest seeds for which the exact one-sided p-value can fall below alpha, each seed adding
// a null distribution of exp(log_null_per_seed) equally likely arrangements.
int seeds_needed(double alpha, double log_null_per_seed, int floor) {
    if (log_null_per_seed <= 0) return std::numeric_limits<int>::max();
    const int n = static_cast<int>(std::ceil(std::log(1.0 / alpha) / log_null_per_seed - 1e-12));
    return std::max(floor, n);
}

bool enough_seeds(ClaimTest& t, const std::map<uint64_t, double>& log_null_by_seed,
                  const ClaimOptions& options) {
    double smallest = std::numeric_limits<double>::infinity();
    for (const auto& [seed, log_null] : log_null_by_seed) smallest = std::min(smallest, log_null);
    t.seeds = static_cast<int64_t>(log_null_by_seed.size());
    t.min_seeds = seeds_needed(options.alpha, smallest, options.min_seeds);
    if (t.seeds >= t.min_seeds) return true;
    t.verdict = Verdict::not_testable;
    t.reason = "needs >= " + std::to_string(t.min_seeds) + " seeds (has " + std::to_string(t.seeds) + ")";
    return false;
}

// Effect: the per-seed mean of the units' contributions, summarised over seeds (t interval).
void set_effect(ClaimTest& t, const std::map<uint64_t, std::vector<double>>& by_seed, double level) {
    std::vector<double> per_seed;
    for (const auto& [seed, values] : by_seed) per_seed.push_back(mean(values));
    const SeedSummary s = summarize(per_seed, level);
    t.effect = s.mean;
    t.effect_low = s.ci_low;
    t.effect_high = s.ci_high;
}

void decide(ClaimTest& t, const PermutationTest& p, double alpha) {
    t.p_value = t.expected_sign > 0 ? p.p_greater : p.p_less;
    t.p_opposite = t.expected_sign > 0 ? p.p_less : p.p_greater;
    t.exact = p.exact;
    t.permutations = p.permutations;
    t.mc_standard_error = p.mc_standard_error;
    t.verdict = t.p_value < alpha      ? Verdict::supported
                : t.p_opposite < alpha ? Verdict::contradicted
                                       : Verdict::inconclusive;
}

ClaimTest not_testable(ClaimTest t, const std::string& reason) {
    t.verdict = Verdict::not_testable;
    t.reason = reason;
    return t;
}

// ---- the three kinds of test --------------------------------------------------------------------

// A trend of `name` along `factor`, blocks sharing every other setting and the seed.
ClaimTest trend_claim(const Runs& runs, Factor factor, const std::string& name, int sign,
                      const ClaimOptions& options) {
    ClaimTest t;
    t.result = name;
    t.factor = factor_name(factor);
    t.expected_sign = sign;
    t.statistic = "Page's L over blocks: sum of rank(" + t.factor + ") x midrank(" + name + ")";
    t.effect_name = "mean within-seed Spearman rho";
    const Runs with = having(runs, name);
    if (with.empty()) return not_testable(t, "no run has the result " + name);
    std::set<double> levels;
    for (const RunResults* r : with) levels.insert(level_of(*r, factor));
    if (levels.size() < 2)
        return not_testable(t, "needs 2+ " + t.factor + " values (has " + std::to_string(levels.size()) + ")");
    std::map<Key, Runs> groups;
    for (const RunResults* r : with) groups[key_without(*r, factor)].push_back(r);
    std::vector<Block> blocks;
    std::map<uint64_t, double> log_null;
    std::map<uint64_t, std::vector<double>> rho_by_seed;
    for (const auto& [key, members] : groups) {
        if (members.size() < 2) continue;
        Block b;
        for (const RunResults* r : members) {
            b.levels.push_back(level_of(*r, factor));
            b.values.push_back(*result_value(*r, name));
        }
        const uint64_t seed = members.front()->seed;
        log_null[seed] += std::lgamma(static_cast<double>(members.size()) + 1);
        const double rho = spearman(b.levels, b.values);
        rho_by_seed[seed].push_back(std::isnan(rho) ? 0.0 : rho);
        blocks.push_back(std::move(b));
        join_ids(members, t.runs);
    }
    if (blocks.empty())
        return not_testable(t, "needs runs that differ only in " + t.factor + " (same seed and other settings)");
    t.units = static_cast<int64_t>(blocks.size());
    if (!enough_seeds(t, log_null, options)) return t;
    set_effect(t, rho_by_seed, options.level);
    decide(t, trend_test(blocks, options.permutation), options.alpha);
    if (t.effect == 0 && t.effect_low == t.effect_high)
        t.reason = "the value does not change with " + t.factor + " in any block";
    return t;
}

// Differences value(B) - value(A) of units sharing every setting but `factor` and the seed;
// `role` says which condition a run is in (0: A, 1: B, -1: neither).
ClaimTest paired_claim(const Runs& runs, Factor factor, const std::function<int(const RunResults&)>& role,
                       const std::string& name, int sign, const std::string& label,
                       const ClaimOptions& options) {
    ClaimTest t;
    t.result = name;
    t.factor = label;
    t.expected_sign = sign;
    t.statistic = "sum of paired differences of " + name + " (" + label + "), sign-flip test";
    t.effect_name = "mean paired difference";
    std::map<Key, std::pair<const RunResults*, const RunResults*>> pairs;
    for (const RunResults* r : having(runs, name)) {
        const int which = role(*r);
        if (which < 0) continue;
        auto& slot = pairs[key_without(*r, factor)];
        (which == 0 ? slot.first : slot.second) = r;
    }
    std::vector<double> differences;
    std::map<uint64_t, double> log_null;
    std::map<uint64_t, std::vector<double>> d_by_seed;
    for (const auto& [key, pair] : pairs) {
        if (!pair.first || !pair.second) continue;
        const double d = *result_value(*pair.second, name) - *result_value(*pair.first, name);
        differences.push_back(d);
        log_null[pair.first->seed] += std::log(2.0);
        d_by_seed[pair.first->seed].push_back(d);
        join_ids({pair.first, pair.second}, t.runs);
    }
    if (differences.empty())
        return not_testable(t, "needs pairs of runs (" + label + ") with " + name +
                                   " that share every other setting and the seed");
    t.units = static_cast<int64_t>(differences.size());
    if (!enough_seeds(t, log_null, options)) return t;
    set_effect(t, d_by_seed, options.level);
    decide(t, sign_flip_test(differences, options.permutation), options.alpha);
    if (std::all_of(differences.begin(), differences.end(), [](double d) { return d == 0; }))
        t.reason = "equal in every pair";
    return t;
}

// Claim 2: d = rank_softmax - rank_logits of every run, a sign-flip test of d against 0.
ClaimTest softmax_restores_rank(const Runs& runs, const ClaimOptions& options) {
    ClaimTest t;
    t.result = "rank_softmax - rank_logits";
    t.factor = "every run";
    t.expected_sign = 1;
    t.statistic = "sum over runs of rank_softmax - rank_logits, sign-flip test";
    t.effect_name = "mean rank_softmax - rank_logits";
    std::vector<double> differences;
    std::map<uint64_t, double> log_null;
    std::map<uint64_t, std::vector<double>> d_by_seed;
    for (const RunResults* r : having(having(runs, "rank_softmax"), "rank_logits")) {
        const double d = *result_value(*r, "rank_softmax") - *result_value(*r, "rank_logits");
        differences.push_back(d);
        log_null[r->seed] += std::log(2.0);
        d_by_seed[r->seed].push_back(d);
        t.runs.push_back(r->id);
    }
    if (differences.empty()) return not_testable(t, "no run has both rank_softmax and rank_logits");
    t.units = static_cast<int64_t>(differences.size());
    if (!enough_seeds(t, log_null, options)) return t;
    set_effect(t, d_by_seed, options.level);
    decide(t, sign_flip_test(differences, options.permutation), options.alpha);
    if (std::all_of(differences.begin(), differences.end(), [](double d) { return d == 0; }))
        t.reason = "equal in every run: the grid shows no rank deficit for softmax to restore";
    return t;
}

// ---- the claims ---------------------------------------------------------------------------------

Runs without_head_norm(const std::vector<RunResults>& runs) {
    Runs out;
    for (const RunResults& r : runs)
        if (r.head_norm == "none") out.push_back(&r);
    return out;
}

std::string number_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// Claim 1: lowest against highest temperature of the runs without head normalisation.
ClaimTest rank_deficit(const Runs& runs, const ClaimOptions& options) {
    std::set<double> temperatures;
    for (const RunResults* r : having(runs, "rank_logits")) temperatures.insert(r->temperature);
    if (temperatures.size() < 2) {
        ClaimTest t;
        t.result = "rank_logits";
        t.factor = "temperature";
        return not_testable(t, "needs 2+ temperatures (has " + std::to_string(temperatures.size()) + ")");
    }
    const double low = *temperatures.begin(), high = *temperatures.rbegin();
    auto role = [=](const RunResults& r) { return r.temperature == low ? 0 : r.temperature == high ? 1 : -1; };
    return paired_claim(runs, Factor::temperature, role, "rank_logits", -1,
                        "T=" + number_text(low) + " -> T=" + number_text(high), options);
}

// Claim 10: at the grid's highest temperature, each head normalisation against none.
std::vector<ClaimTest> head_norm_tests(const std::vector<RunResults>& all, const ClaimOptions& options) {
    double high = -std::numeric_limits<double>::infinity();
    std::set<std::string> norms;
    for (const RunResults& r : all) {
        high = std::max(high, r.temperature);
        if (r.head_norm != "none") norms.insert(r.head_norm);
    }
    ClaimTest missing;
    missing.factor = "head_norm";
    if (norms.empty()) return {not_testable(missing, "needs runs with a head_norm other than none")};
    if (!(high > 1)) return {not_testable(missing, "needs a temperature above 1")};
    Runs runs;
    for (const RunResults& r : all) runs.push_back(&r);
    std::vector<ClaimTest> tests;
    for (const std::string& norm : norms) {
        auto role = [=](const RunResults& r) {
            if (r.temperature != high) return -1;
            return r.head_norm == "none" ? 0 : r.head_norm == norm ? 1 : -1;
        };
        const std::string label = "none -> " + norm + " at T=" + number_text(high);
        tests.push_back(paired_claim(runs, Factor::head_norm, role, "rho", -1, label, options));
        tests.push_back(paired_claim(runs, Factor::head_norm, role, "rank_probe_last", 1, label, options));
    }
    return tests;
}

// A claim's verdict from its tests (see claims.h).
void combine(ClaimResult& c, double alpha) {
    const size_t m = c.tests.size();
    std::set<std::string> runs;
    bool all_supported = true, any_contradicted = false, untestable = false;
    c.p_value = 0;
    double smallest_opposite = 1;
    for (const ClaimTest& t : c.tests) {
        runs.insert(t.runs.begin(), t.runs.end());
        c.min_seeds = std::max(c.min_seeds, t.min_seeds);
        if (t.verdict == Verdict::not_testable) {
            untestable = true;
            c.reason += (c.reason.empty() ? "" : "; ") + (m > 1 ? t.result + ": " : "") + t.reason;
            continue;
        }
        c.p_value = std::max(c.p_value, t.p_value);
        smallest_opposite = std::min(smallest_opposite, t.p_opposite);
        all_supported = all_supported && t.p_value < alpha;
        any_contradicted = any_contradicted || t.p_opposite < alpha / double(m);
    }
    c.runs.assign(runs.begin(), runs.end());
    if (untestable) {
        c.verdict = Verdict::not_testable;
        c.p_value = c.p_opposite = c.p_holm = kNaN;
        return;
    }
    c.p_opposite = std::min(1.0, double(m) * smallest_opposite);
    c.verdict = all_supported ? Verdict::supported
                : any_contradicted ? Verdict::contradicted
                                   : Verdict::inconclusive;
    if (m == 1) c.reason = c.tests.front().reason;
}

}  // namespace

const char* verdict_name(Verdict v) {
    switch (v) {
        case Verdict::supported: return "supported";
        case Verdict::contradicted: return "contradicted";
        case Verdict::inconclusive: return "inconclusive";
        case Verdict::not_testable: return "not testable";
    }
    return "?";
}

std::vector<ClaimResult> test_claims(const std::vector<RunResults>& runs, const ClaimOptions& options) {
    const Runs plain = without_head_norm(runs);
    auto claim = [&](int number, const std::string& statement, std::vector<ClaimTest> tests) {
        ClaimResult c;
        c.number = number;
        c.statement = statement;
        c.tests = std::move(tests);
        if (plain.empty() && number != 10)
            for (ClaimTest& t : c.tests)
                t = not_testable(t, "needs runs without head normalisation (head_norm none)");
        combine(c, options.alpha);
        return c;
    };
    auto trend = [&](const std::string& name, int sign) {
        return trend_claim(plain, Factor::temperature, name, sign, options);
    };
    std::vector<ClaimResult> claims = {
        claim(1, "The rank of the logits is lower at high T than at T = 1 (rank-deficit bias)",
              {rank_deficit(plain, options)}),
        claim(2, "The rank of softmax(M/T) is at least the rank of M (softmax restores the rank)",
              {softmax_restores_rank(plain, options)}),
        claim(3, "The final logits norm grows with T", {trend("logits_norm", 1)}),
        claim(4, "rho (OOD generalisation drop) grows with T", {trend("rho", 1)}),
        claim(5, "kappa (effective depth) falls with T", {trend("kappa", -1)}),
        claim(6, "NECO's AUROC grows with T", {trend("neco_auroc", 1)}),
        claim(7, "OrthoDev falls with T", {trend("orthodev", -1)}),
        claim(8, "The rank of the last probe point's features falls with T", {trend("rank_probe_last", -1)}),
        claim(9, "A smaller init scale acts like a higher T (rho falls and the last probe point's rank "
                 "grows with the init scale)",
              {trend_claim(plain, Factor::init_scale, "rho", -1, options),
               trend_claim(plain, Factor::init_scale, "rank_probe_last", 1, options)}),
        claim(10, "A head normalisation reduces the collapse at high T (lower rho, higher last probe "
                  "point rank than without)",
              head_norm_tests(runs, options)),
    };
    std::vector<double> p;
    for (const ClaimResult& c : claims) p.push_back(c.verdict == Verdict::not_testable ? kNaN : c.p_value);
    const std::vector<double> holm = holm_adjust(p);
    for (size_t i = 0; i < claims.size(); ++i) claims[i].p_holm = holm[i];
    return claims;
}

}  // namespace kelvin::analysis
