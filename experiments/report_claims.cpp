#include "experiments/report_claims.h"

#include <cmath>
#include <cstdio>

#include "experiments/report_format.h"
#include "experiments/svg_plot.h"

namespace kelvin::experiments::report {

using plot::escape_xml;

namespace {

std::string p_text(double p) {
    if (!std::isfinite(p)) return "\u2014";
    char buf[32];
    std::snprintf(buf, sizeof buf, p < 1e-3 ? "%.1e" : "%.3f", p);
    return buf;
}

std::string effect_html(const analysis::ClaimTest& t) {
    if (t.verdict == analysis::Verdict::not_testable) return "\u2014";
    std::string s = sig3(t.effect);
    if (std::isfinite(t.effect_low)) s += " [" + sig3(t.effect_low) + ", " + sig3(t.effect_high) + "]";
    return s;
}

std::string verdict_class(analysis::Verdict v) {
    switch (v) {
        case analysis::Verdict::supported: return "supported";
        case analysis::Verdict::contradicted: return "contradicted";
        case analysis::Verdict::inconclusive: return "inconclusive";
        case analysis::Verdict::not_testable: break;
    }
    return "not-testable";
}

// A claims-table row's cells after the verdict: of test `t`, or of the claim as a whole (t null).
std::string claim_test_cells(const analysis::ClaimResult& c, const analysis::ClaimTest* t,
                             const std::string& holm) {
    const bool tested = t ? t->verdict != analysis::Verdict::not_testable
                          : c.verdict != analysis::Verdict::not_testable;
    std::string seeds = "\u2014";
    const int64_t used = t ? t->seeds : (c.tests.empty() ? 0 : c.tests.front().seeds);
    const int needed = t ? t->min_seeds : c.min_seeds;
    if (needed > 0) seeds = std::to_string(used) + " (" + std::to_string(needed) + ")";
    const std::vector<std::string>& runs = t ? t->runs : c.runs;
    std::string names;
    for (const std::string& n : runs) names += (names.empty() ? "" : " ") + n;
    std::string r = cell(t ? t->result + " vs " + t->factor : "all tests");
    r += cell(t ? effect_html(*t) : "\u2014", "num");
    r += cell(tested ? p_text(t ? t->p_value : c.p_value) : "\u2014", "num");
    r += cell(tested ? p_text(t ? t->p_opposite : c.p_opposite) : "\u2014", "num");
    r += cell(holm, "num");
    r += cell(seeds, "num");
    r += "<td class=\"num\">" +
         (runs.empty() ? std::string("\u2014")
                       : "<span title=\"" + escape_xml(names) + "\">" + std::to_string(runs.size()) +
                             "</span>") +
         "</td>";
    return r + cell(t ? t->reason : c.reason);
}

// The claims, one row per claim and one sub-row per test of a claim made of several.
}  // namespace

std::string claims_html(const std::vector<analysis::ClaimResult>& claims, double alpha) {
    std::string o =
        "<p>Each of the paper\u2019s claims as a one-sided permutation test on this sweep "
        "(docs/METHODS.md, \u201cClaims as tests\u201d), at \u03b1 = " + g(alpha) +
        ": <b>supported</b> when the claimed direction has p &lt; \u03b1, <b>contradicted</b> "
        "when the opposite one has (\u201cp (other way)\u201d), <b>inconclusive</b> otherwise, and <b>not testable</b> "
        "when the grid lacks what the test needs (the note says what). Effect: the mean over "
        "seeds of the within-seed Spearman \u03c1 (trends) or of the paired difference "
        "(comparisons), with its 95% Student t interval. All of it is in "
        "<code>claims.json</code>.</p>\n";
    std::map<std::string, size_t> verdicts;
    for (const auto& c : claims) ++verdicts[analysis::verdict_name(c.verdict)];
    o += "<p class=\"claims-count\">";
    bool first = true;
    for (const char* v : {"supported", "contradicted", "inconclusive", "not testable"})
        if (verdicts[v]) {
            o += (first ? "" : ", ") + std::to_string(verdicts[v]) + " " + v;
            first = false;
        }
    o += ".</p>\n";
    o += "<div class=\"table-wrap\"><table class=\"claims\">\n<thead><tr><th>#</th><th>claim</th>"
         "<th>verdict</th><th>test</th><th class=\"num\">effect [95% interval]</th>"
         "<th class=\"num\">p</th><th class=\"num\">p (other way)</th><th class=\"num\">p (Holm)</th><th class=\"num\">seeds "
         "(needed)</th><th class=\"num\">runs</th><th>note</th></tr></thead>\n<tbody>\n";
    for (const auto& c : claims) {
        const size_t rows = std::max<size_t>(1, c.tests.size() > 1 ? c.tests.size() + 1 : 1);
        const std::string span = rows > 1 ? " rowspan=\"" + std::to_string(rows) + "\"" : "";
        const std::string cls = verdict_class(c.verdict);
        o += "<tr class=\"claim " + cls + "\"><td" + span + ">" + std::to_string(c.number) +
             "</td><td" + span + ">" + escape_xml(c.statement) + "</td><td class=\"verdict " + cls +
             "\">" + analysis::verdict_name(c.verdict) + "</td>";
        if (c.tests.size() == 1) {  // one test: its row is the claim's, Holm's p beside
            o += claim_test_cells(c, &c.tests.front(), p_text(c.p_holm)) + "</tr>\n";
            continue;
        }
        o += claim_test_cells(c, nullptr, p_text(c.p_holm)) + "</tr>\n";
        for (const auto& t : c.tests)
            o += "<tr class=\"claim-test\"><td class=\"verdict " + verdict_class(t.verdict) + "\">" +
                 analysis::verdict_name(t.verdict) + "</td>" + claim_test_cells(c, &t, "") + "</tr>\n";
    }
    return o + "</tbody></table></div>\n";
}

}  // namespace kelvin::experiments::report
