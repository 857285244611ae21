// The writers of analysis/claims.h: claims.json and the Markdown claims table.
#include <cmath>
#include <cstdio>

#include "analysis/claims.h"

namespace kelvin::analysis {
namespace {

using json = nlohmann::json;

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string direction_text(const ClaimTest& t) {
    if (t.effect_name == "mean within-seed Spearman rho")
        return t.expected_sign > 0 ? "increasing" : "decreasing";
    return t.expected_sign > 0 ? "positive" : "negative";
}

json test_json(const ClaimTest& t) {
    const bool tested = t.verdict != Verdict::not_testable;
    return {{"result", t.result},
            {"factor", t.factor},
            {"statistic", t.statistic},
            {"expected_direction", direction_text(t)},
            {"effect", {{"name", t.effect_name},
                        {"estimate", tested ? number_or_null(t.effect) : json(nullptr)},
                        {"low", tested ? number_or_null(t.effect_low) : json(nullptr)},
                        {"high", tested ? number_or_null(t.effect_high) : json(nullptr)}}},
            {"verdict", verdict_name(t.verdict)},
            {"reason", t.reason},
            {"p_value", tested ? number_or_null(t.p_value) : json(nullptr)},
            {"p_opposite", tested ? number_or_null(t.p_opposite) : json(nullptr)},
            {"exact", t.exact},
            {"permutations", t.permutations},
            {"mc_standard_error", t.mc_standard_error},
            {"units", t.units},
            {"seeds", t.seeds},
            {"min_seeds", t.min_seeds},
            {"runs", t.runs}};
}

std::string fixed(double v, const char* format = "%.3g") {
    if (!std::isfinite(v)) return "-";
    char buf[40];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

std::string effect_text(const ClaimTest& t) {
    if (t.verdict == Verdict::not_testable) return "";
    std::string s = fixed(t.effect);
    if (std::isfinite(t.effect_low)) s += " [" + fixed(t.effect_low) + ", " + fixed(t.effect_high) + "]";
    return s;
}

}  // namespace

json claims_json(const std::vector<ClaimResult>& claims, const ClaimOptions& options) {
    json out = {{"alpha", options.alpha},
                {"level", options.level},
                {"method",
                 "docs/METHODS.md, Claims as tests: one-sided permutation tests (trends: Spearman's rho "
                 "within blocks of runs sharing every other setting and the seed, levels permuted "
                 "within blocks; paired comparisons: sign-flip test), exact by enumeration or Monte "
                 "Carlo (" + std::to_string(options.permutation.draws) + " draws, seed " +
                     std::to_string(options.permutation.seed) +
                     "); effect intervals Student t over seeds; p_holm: Holm over the testable claims"},
                {"claims", json::array()}};
    for (const ClaimResult& c : claims) {
        json tests = json::array();
        for (const ClaimTest& t : c.tests) tests.push_back(test_json(t));
        out["claims"].push_back({{"number", c.number},
                                 {"statement", c.statement},
                                 {"verdict", verdict_name(c.verdict)},
                                 {"reason", c.reason},
                                 {"p_value", number_or_null(c.p_value)},
                                 {"p_opposite", number_or_null(c.p_opposite)},
                                 {"p_holm", number_or_null(c.p_holm)},
                                 {"min_seeds", c.min_seeds},
                                 {"runs", c.runs},
                                 {"tests", tests}});
    }
    return out;
}

std::string claims_markdown(const std::vector<ClaimResult>& claims) {
    std::string out = "| # | claim | verdict | effect [95% interval] | p | seeds (needed) | note |\n"
                      "|---|---|---|---|---|---|---|\n";
    for (const ClaimResult& c : claims) {
        std::string effects, seeds;
        bool factors_differ = false;
        for (const ClaimTest& t : c.tests) factors_differ |= t.factor != c.tests.front().factor;
        for (const ClaimTest& t : c.tests) {
            const std::string e = effect_text(t);
            if (e.empty()) continue;
            std::string label = c.tests.size() > 1 ? t.result + " " : "";
            if (factors_differ) label += "(" + t.factor + ") ";
            effects += (effects.empty() ? "" : "; ") + label + e;
        }
        if (!c.tests.empty() && c.min_seeds > 0)  // 0: the test stopped before counting seeds
            seeds = std::to_string(c.tests.front().seeds) + " (" + std::to_string(c.min_seeds) + ")";
        out += "| " + std::to_string(c.number) + " | " + c.statement + " | " + verdict_name(c.verdict) +
               " | " + effects + " | " + fixed(c.p_value, "%.2g") + " | " + seeds + " | " + c.reason + " |\n";
    }
    return out;
}

}  // namespace kelvin::analysis
