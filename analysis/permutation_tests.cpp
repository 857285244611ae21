// The permutation tests of analysis/statistics.h: the trend test with blocks kept together and
// the sign-flip test. Both statistics are sums over independent units (a block, a pair) of a
// contribution whose null distribution is uniform over a finite list (the block's k!
// permutations, the pair's two signs), so the exact null distribution is a convolution of the
// units' distributions. It runs over integer keys: Page's L is a sum of products of midranks,
// exactly 4 x an integer; a paired difference is rounded to a multiple of 2^-40 of the largest
// one (sums that are equal in exact arithmetic may then differ by one key per unit, and count
// as ties).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <string>

#include "analysis/statistics.h"
#include "engine/device.h"

namespace kelvin::analysis {
namespace {

constexpr double kKeyScale = 1099511627776.0;  // 2^40
constexpr int64_t kMaxListedPermutations = 40320;  // 8!: blocks of up to 8 runs are enumerated

struct NullUnit {
    int64_t observed = 0;
    std::vector<int64_t> values;  // every equally likely null value; empty if too many to list
    std::function<int64_t(std::mt19937_64&)> draw;
};

// Exact distribution of the sum of the units' contributions, or false when a unit cannot be
// listed or the support grows past max_support.
bool exact_distribution(const std::vector<NullUnit>& units, int64_t max_support,
                        std::map<int64_t, double>& distribution) {
    distribution = {{0, 1.0}};
    for (const NullUnit& unit : units) {
        if (unit.values.empty()) return false;
        std::map<int64_t, double> own;
        for (int64_t v : unit.values) own[v] += 1.0 / static_cast<double>(unit.values.size());
        std::map<int64_t, double> next;
        for (const auto& [sum, p] : distribution)
            for (const auto& [v, q] : own) next[sum + v] += p * q;
        if (static_cast<int64_t>(next.size()) > max_support) return false;
        distribution.swap(next);
    }
    return true;
}

// Sums within `tie` keys of the observed one count as equal to it (at least as extreme).
PermutationTest run_test(const std::vector<NullUnit>& units, double statistic, int64_t tie,
                         const PermutationOptions& options) {
    PermutationTest test;
    test.statistic = statistic;
    int64_t observed = 0;
    for (const NullUnit& u : units) observed += u.observed;
    std::map<int64_t, double> distribution;
    if (options.max_exact_support > 0 &&
        exact_distribution(units, options.max_exact_support, distribution)) {
        double greater = 0, less = 0;
        for (const auto& [sum, p] : distribution) {
            if (sum >= observed - tie) greater += p;
            if (sum <= observed + tie) less += p;
        }
        test.p_greater = std::min(1.0, greater);
        test.p_less = std::min(1.0, less);
        test.permutations = 1;
        for (const NullUnit& u : units) test.permutations *= static_cast<double>(u.values.size());
        return test;
    }
    KELVIN_CHECK(options.draws >= 1, "permutation test: Monte Carlo needs draws >= 1, got " +
                                         std::to_string(options.draws));
    std::mt19937_64 rng(options.seed);
    int64_t greater = 0, less = 0;
    for (int64_t d = 0; d < options.draws; ++d) {
        int64_t sum = 0;
        for (const NullUnit& u : units) sum += u.draw(rng);
        greater += sum >= observed - tie;
        less += sum <= observed + tie;
    }
    const double draws = static_cast<double>(options.draws);
    test.exact = false;
    test.permutations = draws;
    test.p_greater = (1.0 + greater) / (1.0 + draws);
    test.p_less = (1.0 + less) / (1.0 + draws);
    const double p = std::max(test.p_greater, test.p_less);
    test.mc_standard_error = std::sqrt(p * (1 - p) / draws);
    return test;
}

// 4 x Page's term of a block: 4 sum_i rank(level_i) midrank(value_i), an integer (midranks are
// multiples of 1/2) computed exactly in double for any realistic block.
int64_t page_key(const std::vector<double>& level_ranks, const std::vector<double>& values) {
    const std::vector<double> value_ranks = midranks(values);
    double sum = 0;
    for (size_t i = 0; i < values.size(); ++i) sum += level_ranks[i] * value_ranks[i];
    return std::llround(4 * sum);
}

NullUnit block_unit(const Block& block) {
    NullUnit unit;
    const std::vector<double> level_ranks = midranks(block.levels);
    unit.observed = page_key(level_ranks, block.values);
    const size_t k = block.values.size();
    int64_t permutations = 1;
    for (size_t i = 2; i <= k; ++i) permutations *= static_cast<int64_t>(i);
    if (k <= 8 && permutations <= kMaxListedPermutations) {
        std::vector<size_t> order(k);
        std::iota(order.begin(), order.end(), size_t{0});
        std::vector<double> shuffled(k);
        do {
            for (size_t i = 0; i < k; ++i) shuffled[i] = block.values[order[i]];
            unit.values.push_back(page_key(level_ranks, shuffled));
        } while (std::next_permutation(order.begin(), order.end()));
    }
    unit.draw = [level_ranks, values = block.values](std::mt19937_64& rng) {
        std::vector<double> shuffled = values;
        for (size_t i = shuffled.size() - 1; i > 0; --i)  // Fisher-Yates
            std::swap(shuffled[i], shuffled[draw_index(rng, i + 1)]);
        return page_key(level_ranks, shuffled);
    };
    return unit;
}

}  // namespace

PermutationTest trend_test(const std::vector<Block>& blocks, const PermutationOptions& options) {
    KELVIN_CHECK(!blocks.empty(), "trend_test: no blocks");
    std::vector<NullUnit> units;
    double statistic = 0;
    for (size_t b = 0; b < blocks.size(); ++b) {
        const Block& block = blocks[b];
        KELVIN_CHECK(block.levels.size() == block.values.size() && block.values.size() >= 2,
                     "trend_test: block " + std::to_string(b) + " needs 2+ runs with one level each, got " +
                         std::to_string(block.levels.size()) + " levels and " +
                         std::to_string(block.values.size()) + " values");
        for (double v : block.values)
            KELVIN_CHECK(std::isfinite(v), "trend_test: block " + std::to_string(b) + " has a non-finite value");
        units.push_back(block_unit(block));
        statistic += 0.25 * static_cast<double>(units.back().observed);
    }
    return run_test(units, statistic, 0, options);
}

PermutationTest sign_flip_test(const std::vector<double>& differences,
                               const PermutationOptions& options) {
    KELVIN_CHECK(!differences.empty(), "sign_flip_test: no differences");
    double scale = 0, statistic = 0;
    for (double d : differences) {
        KELVIN_CHECK(std::isfinite(d), "sign_flip_test: a difference is not finite");
        scale = std::max(scale, std::fabs(d));
        statistic += d;
    }
    std::vector<NullUnit> units;
    for (double d : differences) {
        const int64_t key = scale > 0 ? std::llround(d / scale * kKeyScale) : 0;
        NullUnit unit;
        unit.observed = key;
        unit.values = {key, -key};
        unit.draw = [key](std::mt19937_64& rng) { return draw_index(rng, 2) ? -key : key; };
        units.push_back(unit);
    }
    // Each key is rounded by at most half a unit: sums equal in exact arithmetic (a sign pattern
    // whose flipped differences cancel) differ by at most one key per pair.
    return run_test(units, statistic, static_cast<int64_t>(units.size()), options);
}

}  // namespace kelvin::analysis
