// The sweep report: reads every finished run, builds the summary table and the plots with
// experiments/svg_plot, and writes one HTML page with no external resources.
#include "experiments/report.h"

#include "engine/json_errors.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/device.h"
#include "experiments/run_files.h"
#include "experiments/run_record.h"
#include "experiments/summary_table.h"
#include "experiments/svg_plot.h"
#include "analysis/cell_summary.h"
#include "analysis/claims.h"

namespace kelvin::experiments {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using plot::escape_xml;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kLogitsNormLabel = "mean per-sample logits norm \u2016z\u2016\u2082";

// ---- reading ------------------------------------------------------------------------------------

// The value at a path of object keys, or null when any step is missing.
const json* find(const json& j, std::initializer_list<const char*> path) {
    const json* p = &j;
    for (const char* key : path) {
        if (!p->is_object()) return nullptr;
        auto it = p->find(key);
        if (it == p->end()) return nullptr;
        p = &*it;
    }
    return p;
}

// A number at a path; NaN when missing, null (how nlohmann writes NaN) or not a number.
double number(const json& j, std::initializer_list<const char*> path) {
    const json* p = find(j, path);
    return p && p->is_number() ? p->get<double>() : kNaN;
}

std::string text(const json& j, std::initializer_list<const char*> path) {
    const json* p = find(j, path);
    if (!p || p->is_null()) return "";
    return p->is_string() ? p->get<std::string>() : p->dump();
}

struct Run {
    std::string name;
    json config, metrics, diagnostics;
    bool has_metrics = false, has_diagnostics = false;
    std::string model, dataset, head_norm, status;
    double temperature = kNaN, init_scale = kNaN;
    std::string seed;

    bool complete() const { return status == "complete"; }
    bool diagnosed() const { return complete() && has_diagnostics; }
};

// ---- formatting ---------------------------------------------------------------------------------

std::string format(const char* pattern, double v) {
    if (!std::isfinite(v)) return "\u2014";
    char buf[64];
    std::snprintf(buf, sizeof buf, pattern, v);
    return buf;
}
std::string g(double v) { return format("%g", v); }
std::string sig3(double v) { return format("%.3g", v); }
std::string fixed3(double v) { return format("%.3f", v); }

std::string cell(const std::string& value, const std::string& cls = "") {
    const std::string c = cls + (value == "\u2014" ? (cls.empty() ? "na" : " na") : "");
    return c.empty() ? "<td>" + escape_xml(value) + "</td>"
                     : "<td class=\"" + c + "\">" + escape_xml(value) + "</td>";
}

std::string or_dash(const std::string& s) { return s.empty() ? std::string("\u2014") : s; }

std::string group_title(const Run& r) {
    return or_dash(r.model) + " \u00b7 " + or_dash(r.dataset) + " \u00b7 init scale " +
           g(r.init_scale) + " \u00b7 head norm " + or_dash(r.head_norm);
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

// Why a run (or one of its values) is missing from a plot, in the order first noticed.
class Notes {
public:
    void add(const std::string& run, const std::string& why) {
        auto& list = by_run_[run];
        if (std::find(list.begin(), list.end(), why) == list.end()) list.push_back(why);
        if (std::find(order_.begin(), order_.end(), run) == order_.end()) order_.push_back(run);
    }
    std::string html() const {
        if (order_.empty()) return "<p>Every run appears in every plot.</p>\n";
        std::string o = "<ul class=\"notes\">\n";
        for (const std::string& run : order_) {
            o += "<li><code>" + escape_xml(run) + "</code>: ";
            const auto& list = by_run_.at(run);
            for (size_t i = 0; i < list.size(); ++i) o += (i ? "; " : "") + escape_xml(list[i]);
            o += ".</li>\n";
        }
        return o + "</ul>\n";
    }

private:
    std::map<std::string, std::vector<std::string>> by_run_;
    std::vector<std::string> order_;
};

// ---- the sweep ----------------------------------------------------------------------------------

struct Sweep {
    std::vector<Run> runs;             // sorted by group, then T, then seed
    std::vector<std::string> ood;      // every OOD set named in any diagnostics
    std::vector<double> temperatures;  // sorted; a temperature's colour is its index here
    int partial = 0;
    Notes notes;
};

Sweep read_sweep(std::vector<RunRecord> records, int partial) {
    Sweep sweep;
    sweep.partial = partial;
    std::set<std::string> ood;
    std::set<double> temperatures;
    for (RunRecord& record : records) {
        Run r;
        r.name = record.name;
        if (record.config_json.is_null()) {
            sweep.notes.add(r.name, "no config.json, so not shown at all");
            continue;
        }
        // Read field by field, so that a hand-edited config.json still shows what it can.
        r.config = std::move(record.config_json);
        r.model = text(r.config, {"model"});
        r.dataset = text(r.config, {"dataset"});
        r.temperature = number(r.config, {"temperature"});
        r.init_scale = number(r.config, {"model_options", "init_scale"});
        r.head_norm = text(r.config, {"model_options", "head_norm"});
        r.seed = text(r.config, {"seed"});
        r.has_metrics = record.has_metrics();
        if (r.has_metrics) {
            r.metrics = std::move(record.metrics);
            r.status = text(r.metrics, {"status"});
            if (r.status.empty()) r.status = "unknown";
        } else {
            r.status = "no metrics.json";
        }
        r.has_diagnostics = record.has_diagnostics();
        if (r.has_diagnostics) r.diagnostics = std::move(record.diagnostics);
        if (!r.has_metrics) {
            sweep.notes.add(r.name, "no metrics.json, so left out of every plot");
        } else if (!r.complete()) {
            std::string why = "status " + r.status;
            const double step = number(r.metrics, {"diverged_at_step"});
            if (std::isfinite(step)) why += " at step " + g(step);
            const std::string loss = text(r.metrics, {"diverged_loss"});
            if (!loss.empty()) why += " (loss " + loss + ")";
            const std::string error = text(r.metrics, {"error"});
            if (!error.empty()) why += ": " + error;
            sweep.notes.add(r.name, why + ", so left out of every plot");
        } else if (!std::isfinite(r.temperature)) {
            sweep.notes.add(r.name,
                            "config.json has no numeric temperature, so left out of every plot");
        } else if (!r.has_diagnostics) {
            sweep.notes.add(r.name, "no diagnostics.json, so only in the logits-norm plot");
        }
        if (r.has_diagnostics) {
            for (const char* key : {"rho", "orthodev"})
                if (const json* p = find(r.diagnostics, {key}); p && p->is_object())
                    for (auto& [set, v] : p->items()) ood.insert(set);
            if (const json* p = find(r.diagnostics, {"ood_detection"}); p && p->is_object())
                for (auto& [method, sets] : p->items())
                    if (sets.is_object())
                        for (auto& [set, v] : sets.items()) ood.insert(set);
            if (const json* p = find(r.diagnostics, {"probes", "ood"}); p && p->is_object())
                for (auto& [set, v] : p->items()) ood.insert(set);
        }
        if (std::isfinite(r.temperature)) temperatures.insert(r.temperature);
        sweep.runs.push_back(std::move(r));
    }
    std::stable_sort(sweep.runs.begin(), sweep.runs.end(), [](const Run& a, const Run& b) {
        const std::string ga = group_title(a), gb = group_title(b);
        if (ga != gb) return ga < gb;
        if (a.temperature != b.temperature) return a.temperature < b.temperature;
        return a.seed < b.seed;
    });
    sweep.ood.assign(ood.begin(), ood.end());
    sweep.temperatures.assign(temperatures.begin(), temperatures.end());
    return sweep;
}

// ---- the tables: per run (experiments/summary_table.h), per cell, and the claims ---------------

std::string formatted(const json& row, const SummaryColumn& c) {
    auto it = row.find(c.key);
    if (it == row.end() || it->is_null()) return "\u2014";
    if (it->is_string()) return or_dash(it->get<std::string>());
    if (!it->is_number()) return it->dump();
    const double v = it->get<double>();
    switch (c.format) {
        case SummaryColumn::Format::integer: return g(v);
        case SummaryColumn::Format::fixed3: return fixed3(v);
        case SummaryColumn::Format::sig3: return sig3(v);
        case SummaryColumn::Format::text: break;
    }
    return it->is_number_integer() ? std::to_string(it->get<int64_t>()) : g(v);
}

// The per-run rows of summary.csv, as a table a person reads: the page's columns of
// SummaryTable, those with one value for every run stated once above it.
std::string runs_table_html(const SummaryTable& table) {
    std::vector<const SummaryColumn*> columns, shared;
    for (const SummaryColumn& c : table.columns) {
        if (!c.in_page || !c.ood_set.empty()) continue;
        bool same = table.rows.size() > 1 &&
                    (c.key == "model" || c.key == "dataset" || c.key == "init_scale" ||
                     c.key == "head_norm");
        for (const json& r : table.rows) same = same && formatted(r, c) == formatted(table.rows[0], c);
        (same ? shared : columns).push_back(&c);
    }
    std::string o;
    if (!shared.empty()) {
        o += "<p class=\"shared\">Every run: ";
        for (size_t i = 0; i < shared.size(); ++i)
            o += (i ? ", " : "") + escape_xml(shared[i]->label) + " <b>" +
                 escape_xml(formatted(table.rows[0], *shared[i])) + "</b>";
        o += ".</p>\n";
    }
    const bool ood = !table.ood_sets.empty();
    const std::string span = ood ? " rowspan=\"2\"" : "";
    o += "<div class=\"table-wrap\"><table class=\"summary\">\n<thead><tr>";
    for (const SummaryColumn* c : columns)
        o += "<th" + span + (c->format == SummaryColumn::Format::text ? "" : " class=\"num\"") +
             ">" + escape_xml(c->label) + "</th>";
    std::vector<const SummaryColumn*> ood_columns;
    for (const std::string& set : table.ood_sets) {
        size_t k = 0;
        for (const SummaryColumn& c : table.columns)
            if (c.in_page && c.ood_set == set) ood_columns.push_back(&c), ++k;
        o += "<th colspan=\"" + std::to_string(k) + "\" class=\"ood-set\">OOD: " + escape_xml(set) +
             "</th>";
    }
    o += "</tr>\n";
    if (ood) {
        o += "<tr>";
        for (size_t i = 0; i < ood_columns.size(); ++i)
            o += std::string("<th class=\"num") +
                 (i == 0 || ood_columns[i]->ood_set != ood_columns[i - 1]->ood_set ? " ood-first" : "") +
                 "\">" + escape_xml(ood_columns[i]->label) + "</th>";
        o += "</tr>\n";
    }
    o += "</thead>\n<tbody>\n";
    for (const json& r : table.rows) {
        const bool complete = r.value("status", "") == "complete";
        o += "<tr class=\"run" + std::string(complete ? "" : " failed") + "\" title=\"" +
             escape_xml(r.value("name", "")) + "\">";
        for (const SummaryColumn* c : columns) {
            if (c->key == "status") {
                std::string status = formatted(r, *c);
                if (r.contains("diverged_at_step") && r["diverged_at_step"].is_number())
                    status += " (step " + g(r["diverged_at_step"].get<double>()) + ")";
                o += cell(status, complete ? "ok" : "bad");
                continue;
            }
            o += cell(formatted(r, *c), c->format == SummaryColumn::Format::text ? "" : "num");
        }
        for (size_t i = 0; i < ood_columns.size(); ++i)
            o += cell(formatted(r, *ood_columns[i]),
                      i == 0 || ood_columns[i]->ood_set != ood_columns[i - 1]->ood_set ? "num ood-first" : "num");
        o += "</tr>\n";
    }
    return o + "</tbody></table></div>\n";
}

std::string interval_text(const analysis::SeedSummary& s) {
    if (s.n == 0) return "\u2014";
    if (s.n < 2) return sig3(s.mean) + " (n = 1)";
    return sig3(s.mean) + " [" + sig3(s.ci_low) + ", " + sig3(s.ci_high) + "] (n = " +
           std::to_string(s.n) + ")";
}

// One row per cell (summary_by_cell.md's columns): mean [95% t interval] (n).
std::string cells_table_html(const std::vector<analysis::CellSummary>& cells,
                             const std::vector<std::string>& results) {
    std::set<std::string> other_keys;
    for (const auto& c : cells)
        for (const auto& [k, v] : c.cell.other) other_keys.insert(k);
    std::string o = "<div class=\"table-wrap\"><table class=\"summary cells\">\n<thead><tr>";
    for (const std::string& k : other_keys) o += "<th>" + escape_xml(k) + "</th>";
    o += "<th>head norm</th><th class=\"num\">init scale</th><th class=\"num\">T</th><th>seeds</th>";
    for (const std::string& r : results) o += "<th class=\"num\">" + escape_xml(r) + "</th>";
    o += "</tr></thead>\n<tbody>\n";
    for (const auto& c : cells) {
        o += "<tr class=\"cell\">";
        for (const std::string& k : other_keys) {
            auto it = c.cell.other.find(k);
            o += cell(it == c.cell.other.end() ? "\u2014" : it->second);
        }
        std::string seeds;
        for (uint64_t s : c.seeds) seeds += (seeds.empty() ? "" : " ") + std::to_string(s);
        o += cell(c.cell.head_norm) + cell(g(c.cell.init_scale), "num") +
             cell(g(c.cell.temperature), "num") + cell(seeds);
        for (const std::string& r : results) {
            auto it = c.results.find(r);
            o += cell(it == c.results.end() ? "\u2014" : interval_text(it->second), "num");
        }
        o += "</tr>\n";
    }
    return o + "</tbody></table></div>\n";
}

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

// ---- the plots of one group ---------------------------------------------------------------------

// A figure as data: what to plot (series, axes, scales, reference lines) and its caption. The
// page inlines plot::render_svg(spec); write_report also saves each as its own SVG and CSV.
struct Figure {
    plot::PlotSpec spec;
    std::string caption;
};

// What every figure's caption adds about the spread over seeds.
constexpr const char* kSpreadNote =
    " Bold lines and points: mean over seeds; band (error bars on a scatter): its 95% Student t "
    "interval, drawn where a point has 2 or more seeds and clipped to the range the quantity "
    "can take; faint lines: each seed on its own. The legend gives n, the number of seeds.";

std::string n_text(size_t lo, size_t hi) {
    return "n = " + std::to_string(lo) + (hi > lo ? "\u2013" + std::to_string(hi) : "");
}

std::string legend_for(double t, size_t seeds) { return "T = " + g(t) + " (" + n_text(seeds, seeds) + ")"; }

// A point of a mean series: the mean of the finite values at x and its 95% t interval (NaN
// bounds below two values). Returns how many values it used.
size_t push_mean(plot::Series& s, double x, const std::vector<double>& values) {
    std::vector<double> finite;
    for (double v : values)
        if (std::isfinite(v)) finite.push_back(v);
    s.x.push_back(x);
    if (finite.empty()) {
        s.y.push_back(kNaN), s.y_low.push_back(kNaN), s.y_high.push_back(kNaN);
        return 0;
    }
    const analysis::SeedSummary summary = analysis::summarize(finite);
    s.y.push_back(summary.mean);
    s.y_low.push_back(finite.size() >= 2 ? summary.ci_low : kNaN);
    s.y_high.push_back(finite.size() >= 2 ? summary.ci_high : kNaN);
    return finite.size();
}

// A t interval knows nothing of the range a quantity can take (a rank of 3 +/- 2.5 over three
// seeds reaches below 0): the bands are clipped to it, as the captions say.
void clip_intervals(plot::PlotSpec& spec, double lo, double hi, bool x_too = false) {
    auto clip = [&](std::vector<double>& v) {
        for (double& b : v)
            if (std::isfinite(b)) b = std::clamp(b, lo, hi);
    };
    for (plot::Series& s : spec.series) {
        clip(s.y_low), clip(s.y_high);
        if (x_too) clip(s.x_low), clip(s.x_high);
    }
}

plot::Series faint_series(const std::string& name, int color, bool dashed = false) {
    plot::Series s;
    s.data_name = name;
    s.faint = true;
    s.color = color;
    s.dashed = dashed;
    return s;
}

// The counts of values behind the points of one series, for its legend.
class Counts {
public:
    void add(size_t n) {
        if (n == 0) return;
        lo_ = std::min(lo_, n), hi_ = std::max(hi_, n);
    }
    std::string text() const { return hi_ == 0 ? "n = 0" : n_text(lo_, hi_); }

private:
    size_t lo_ = SIZE_MAX, hi_ = 0;
};

class GroupPlots {
public:
    GroupPlots(const Sweep& sweep, std::vector<const Run*> runs, Notes& notes)
        : sweep_(sweep), runs_(std::move(runs)), notes_(notes) {
        for (const Run* r : runs_) {
            if (std::find(ts_.begin(), ts_.end(), r->temperature) == ts_.end() &&
                std::isfinite(r->temperature))
                ts_.push_back(r->temperature);
            if (r->complete() && std::find(seeds_.begin(), seeds_.end(), r->seed) == seeds_.end())
                seeds_.push_back(r->seed);
        }
        std::sort(ts_.begin(), ts_.end());
        std::sort(seeds_.begin(), seeds_.end());
    }

    std::vector<Figure> figures() {
        // Without OOD sets, the per-set plots are drawn once, empty, saying so.
        const std::vector<std::string> sets =
            sweep_.ood.empty() ? std::vector<std::string>{""} : sweep_.ood;
        std::vector<Figure> out = {ranks(), logits_norm()};
        if (has_track()) {
            out.push_back(track_loss());
            out.push_back(track_norm());
            out.push_back(track_rank());
        }
        out.push_back(spectra());
        for (const std::string& set : sets) out.push_back(tunnel(set));
        out.push_back(kappa_rho());
        for (const std::string& set : sets) out.push_back(detection(set));
        for (Figure& f : out) f.caption += kSpreadNote;
        return out;
    }

private:
    int color_of(double t) const {
        auto it = std::find(sweep_.temperatures.begin(), sweep_.temperatures.end(), t);
        return static_cast<int>(it - sweep_.temperatures.begin());
    }
    std::vector<const Run*> at(double t, bool need_diagnostics) const {
        std::vector<const Run*> out;
        for (const Run* r : runs_)
            if (r->temperature == t && (need_diagnostics ? r->diagnosed() : r->complete()))
                out.push_back(r);
        return out;
    }
    const Run* run_of(double t, const std::string& seed) const {
        for (const Run* r : at(t, true))
            if (r->seed == seed) return r;
        return nullptr;
    }
    // The values at temperature t of a diagnostics number; non-finite ones are noted.
    std::vector<double> values_of(double t, std::initializer_list<const char*> path,
                                  const std::string& what, const std::string& plot) {
        std::vector<double> values;
        for (const Run* r : at(t, true)) {
            const double v = number(r->diagnostics, path);
            if (std::isfinite(v))
                values.push_back(v);
            else
                notes_.add(r->name,
                           what + " missing or not finite, so left out of the " + plot + " plot");
        }
        return values;
    }
    // A diagnostics number against T: the mean series (label with n) and one faint line per seed.
    std::vector<plot::Series> against_t(std::initializer_list<const char*> path,
                                        const std::string& label, int color, bool dashed,
                                        const std::string& what, const std::string& plot) {
        plot::Series mean{label};
        mean.color = color, mean.dashed = dashed, mean.markers = true;
        Counts counts;
        for (double t : ts_) counts.add(push_mean(mean, t, values_of(t, path, what, plot)));
        mean.label += " (" + counts.text() + ")";
        std::vector<plot::Series> out;
        if (seeds_.size() > 1)
            for (const std::string& seed : seeds_) {
                plot::Series s = faint_series(label + ", seed " + seed, color, dashed);
                for (double t : ts_) {
                    const Run* r = run_of(t, seed);
                    s.x.push_back(t);
                    s.y.push_back(r ? number(r->diagnostics, path) : kNaN);
                }
                out.push_back(s);
            }
        out.push_back(mean);  // drawn over the faint lines
        return out;
    }

    // ---- step-by-step dynamics, from metrics.json's "track" (train --track-every) ----------
    static const json* track_of(const Run& r) {
        const json* track = find(r.metrics, {"track"});
        return track && track->is_array() && track->size() >= 2 ? track : nullptr;
    }
    bool has_track() const {
        for (const Run* r : runs_)
            if (r->complete() && track_of(*r)) return true;
        return false;
    }
    double classes() const {
        double classes = kNaN;
        for (const Run* r : runs_)
            if (r->diagnosed())
                classes = std::max(std::isfinite(classes) ? classes : 0.0,
                                   number(r->diagnostics, {"rank", "classes"}));
        return classes;
    }
    // Per T: one faint line per run of `points(run)` (x -> y), and their mean with its band,
    // point by point over the x every run shares... or any run has (the n of a point is how
    // many runs have it).
    using Points = std::map<double, double>;
    std::vector<plot::Series> per_t_curves(bool need_diagnostics,
                                           const std::function<bool(const Run&, Points&)>& points) {
        std::vector<plot::Series> faint, means;
        for (double t : ts_) {
            std::map<double, std::vector<double>> by_x;
            size_t runs = 0;
            for (const Run* r : at(t, need_diagnostics)) {
                Points p;
                if (!points(*r, p)) continue;
                ++runs;
                plot::Series s = faint_series("T = " + g(t) + ", seed " + or_dash(r->seed), color_of(t));
                for (auto& [x, y] : p) {
                    s.x.push_back(x), s.y.push_back(y);
                    by_x[x].push_back(y);
                }
                faint.push_back(s);
            }
            plot::Series mean{legend_for(t, runs)};
            mean.color = color_of(t);
            for (auto& [x, values] : by_x)
                if (std::isfinite(x)) push_mean(mean, x, values);
            means.push_back(mean);
        }
        if (seeds_.size() < 2) faint.clear();
        faint.insert(faint.end(), means.begin(), means.end());
        return faint;
    }
    std::vector<plot::Series> track_series(const char* key) {
        return per_t_curves(false, [key](const Run& r, Points& p) {
            const json* track = track_of(r);
            if (!track) return false;
            for (const json& record : *track) p[number(record, {"step"})] = number(record, {key});
            return true;
        });
    }

    Figure track_loss() {
        plot::PlotSpec spec;
        spec.title = "Training dynamics: loss";
        spec.x_label = "training step";
        spec.y_label = "cross-entropy at T on the monitoring batch";
        spec.x_min = 0;
        spec.y_min = 0;
        spec.series = track_series("loss");
        const double c = classes();
        if (std::isfinite(c) && c > 1)
            spec.hlines.push_back({std::log(c), "ln C = " + sig3(std::log(c)) + " (uniform)"});
        clip_intervals(spec, 0, INFINITY);
        return {spec,
                "Loss at the training temperature on a fixed batch of test samples, every "
                "--track-every steps. At high T the loss sits at ln C, the value of a uniform "
                "prediction, until the logits norm has grown enough for softmax(z/T) to move "
                "away from uniform; then it falls at once."};
    }

    Figure track_norm() {
        plot::PlotSpec spec;
        spec.title = "Training dynamics: logits norm";
        spec.x_label = "training step";
        spec.y_label = kLogitsNormLabel;
        spec.log_y = true;
        spec.x_min = 0;
        spec.series = track_series("logits_norm");
        return {spec,
                "The logits norm on the same monitoring batch, step by step: the growth that "
                "high T forces on the network, and when it happens."};
    }

    Figure track_rank() {
        plot::PlotSpec spec;
        spec.title = "Training dynamics: rank of the logits";
        spec.x_label = "training step";
        spec.y_label = "numerical rank (\u03b3 = 1e-3)";
        spec.x_min = 0;
        spec.y_min = 0;
        spec.y_integer = true;
        spec.series = track_series("rank");
        const double c = classes();
        if (std::isfinite(c) && c > 1)
            spec.hlines.push_back({c - 1, "C \u2212 1 = " + g(c - 1)});
        clip_intervals(spec, 0, INFINITY);
        return {spec,
                "Numerical rank of the monitoring batch's logits (singular values above "
                "10\u207b\u00b3 \u03c3\u2081) during training."};
    }

    Figure ranks() {
        plot::PlotSpec spec;
        spec.title = "Numerical rank of the logits z and of softmax(z/T)";
        spec.x_label = "training temperature T";
        double gamma = kNaN;
        for (const Run* r : runs_)
            if (r->diagnosed() && !std::isfinite(gamma))
                gamma = number(r->diagnostics, {"settings", "gamma"});
        const double classes = this->classes();
        spec.y_label = "numerical rank" +
                       (std::isfinite(gamma) ? " (\u03b3 = " + g(gamma) + ")" : std::string());
        spec.log_x = true;
        spec.y_min = 0;
        spec.y_integer = true;
        for (auto& s : against_t({"rank", "logits"}, "rank(logits)", 0, false, "rank(logits)", "rank"))
            spec.series.push_back(s);
        for (auto& s : against_t({"rank", "softmax"}, "rank(softmax(z/T))", 1, true,
                                 "rank(softmax)", "rank"))
            spec.series.push_back(s);
        if (std::isfinite(classes) && classes > 1) {
            spec.hlines.push_back(
                {classes - 1, "C \u2212 1 = " + g(classes - 1) + " (Neural Collapse)"});
            spec.y_max = classes;
        }
        clip_intervals(spec, 0, std::isfinite(classes) ? classes : INFINITY);
        return {
            spec,
            "Rank = number of singular values above \u03b3\u00b7\u03c3\u2081 of the N\u00d7C "
            "test logits (solid) and of the softmax probabilities at the training temperature "
            "(dashed). Neural Collapse predicts C\u22121; a rank well below it after training at "
            "high T is the paper\u2019s rank-deficit bias."};
    }

    Figure logits_norm() {
        plot::PlotSpec spec;
        spec.title = "Logits norm during training";
        spec.x_label = "epoch (0 = initialisation)";
        spec.y_label = kLogitsNormLabel;
        spec.log_y = true;
        spec.x_integer = true;
        const char* kNotPlotted = "missing or not finite, so left out of the logits-norm plot";
        spec.series = per_t_curves(false, [&](const Run& r, Points& p) {
            const double init = number(r.metrics, {"init", "logits_norm"});
            if (std::isfinite(init))
                p[0] = init;
            else
                notes_.add(r.name, std::string("logits norm at initialisation ") + kNotPlotted);
            if (const json* epochs = find(r.metrics, {"epochs"}); epochs && epochs->is_array()) {
                for (size_t i = 0; i < epochs->size(); ++i) {
                    const json& e = (*epochs)[i];
                    double epoch = number(e, {"epoch"});
                    if (!std::isfinite(epoch)) epoch = static_cast<double>(i + 1);
                    const double v = number(e, {"logits_norm"});
                    if (std::isfinite(v)) {
                        p[epoch] = v;
                        continue;
                    }
                    notes_.add(r.name, "logits norm of epoch " + g(epoch) + " " + kNotPlotted);
                }
            }
            return true;
        });
        for (plot::Series& s : spec.series) s.markers = !s.faint && s.x.size() <= 15;
        return {
            spec,
            "Mean over test samples of \u2016z\u2016\u2082, the L2 norm of the logits vector, "
            "after each epoch. To lower the loss at high T the network must grow this norm, which "
            "is the paper\u2019s mechanism for the rank collapse."};
    }

    Figure spectra() {
        plot::PlotSpec spec;
        spec.title = "Singular-value spectrum of the logits";
        spec.x_label = "index i";
        spec.y_label = "\u03c3\u1d62 / \u03c3\u2081";
        spec.log_y = true;
        spec.x_integer = true;
        for (double gamma : {1e-2, 1e-3, 1e-4})
            spec.hlines.push_back({gamma, "\u03b3 = " + g(gamma)});
        spec.series = per_t_curves(true, [&](const Run& r, Points& p) {
            const json* sv = find(r.diagnostics, {"singular_values", "logits"});
            if (!sv || !sv->is_array() || sv->empty() || !(*sv)[0].is_number() ||
                !((*sv)[0].get<double>() > 0)) {
                notes_.add(r.name, "no logits spectrum: left out of the spectrum plot");
                return false;
            }
            const double top = (*sv)[0].get<double>();
            for (size_t i = 0; i < sv->size(); ++i)
                p[static_cast<double>(i + 1)] =
                    (*sv)[i].is_number() ? (*sv)[i].get<double>() / top : kNaN;
            return true;
        });
        for (plot::Series& s : spec.series) s.markers = !s.faint && s.x.size() <= 20;
        clip_intervals(spec, 0, 1);
        return {
            spec,
            "Singular values of the test logits divided by the largest. The dashed lines are "
            "the rank thresholds \u03b3 = 10\u207b\u00b2, 10\u207b\u00b3 (the default) and "
            "10\u207b\u2074: the rank is the number of points above the line. Exact zeros cannot "
            "be drawn on a log axis and are left out."};
    }

    Figure tunnel(const std::string& set) {
        plot::PlotSpec spec;
        spec.title = set.empty() ? "Linear-probe accuracy per layer"
                                 : "Probe accuracy per layer, ID vs " + set;
        spec.x_label = "probed layer (input \u2192 output)";
        spec.y_label = "probe test accuracy";
        spec.y_min = 0;
        spec.y_max = 1;
        for (const Run* r : runs_) {  // the longest list of layer names in the group
            const json* layers =
                r->diagnosed() ? find(r->diagnostics, {"probes", "layers"}) : nullptr;
            if (!layers || !layers->is_array() || layers->size() <= spec.x_category_labels.size())
                continue;
            spec.x_category_labels.clear();
            for (const json& l : *layers)
                spec.x_category_labels.push_back(l.is_string() ? l.get<std::string>() : l.dump());
        }
        const size_t layers = spec.x_category_labels.size();
        auto curves = [&](std::vector<const char*> path, const std::string& what) {
            return [this, path, what, layers](const Run& r, Points& p) {
                const json* acc = &r.diagnostics;
                for (const char* key : path) acc = acc ? find(*acc, {key}) : nullptr;
                if (!acc || !acc->is_array()) {
                    notes_.add(r.name, "no " + what + " probe accuracies: left out of the probe plot");
                    return false;
                }
                for (size_t l = 0; l < acc->size() && l < layers; ++l)
                    p[static_cast<double>(l)] = (*acc)[l].is_number() ? (*acc)[l].get<double>() : kNaN;
                return true;
            };
        };
        spec.series = per_t_curves(true, curves({"probes", "id"}, "in-distribution"));
        for (plot::Series& s : spec.series) s.markers = !s.faint;
        if (!set.empty()) {
            std::vector<plot::Series> ood = per_t_curves(true, curves({"probes", "ood", set.c_str()}, set));
            for (plot::Series& s : ood) {
                s.dashed = true, s.markers = !s.faint;
                s.data_name = (s.faint ? s.data_name : s.label) + ", OOD";
                s.label.clear();  // the legend's T entries are the solid lines'
                spec.series.push_back(s);
            }
            plot::Series solid{"in-distribution"}, dashed{"OOD: " + set};  // a style key
            solid.color = dashed.color = 6;                                 // black
            dashed.dashed = true;
            spec.series.push_back(solid);
            spec.series.push_back(dashed);
        }
        clip_intervals(spec, 0, 1);
        return {spec,
                "Test accuracy of a linear probe trained on the frozen features after each layer. "
                "Solid: in-distribution" +
                    (set.empty() ? std::string(". No OOD set was evaluated.")
                                 : "; dashed: probes trained and tested on " + set +
                                       ". A plateau in the late layers is the tunnel; an OOD curve "
                                       "that falls off towards the output gives a high \u03c1.")};
    }

    Figure kappa_rho() {
        plot::PlotSpec spec;
        spec.title = "Effective depth \u03ba vs OOD generalisation drop \u03c1";
        spec.x_label = "\u03ba = l*/L (effective depth)";
        spec.y_label = "\u03c1 (OOD generalisation drop)";
        spec.x_min = 0, spec.x_max = 1, spec.y_min = 0;
        for (size_t k = 0; k < sweep_.ood.size(); ++k) {
            const std::string& set = sweep_.ood[k];
            plot::Series mean{"OOD: " + set};
            mean.lines = false;
            mean.color = static_cast<int>(k);
            plot::Series each = faint_series("OOD: " + set + ", each run", static_cast<int>(k));
            each.lines = false;
            Counts counts;
            for (double t : ts_) {
                const auto kappas = values_of(t, {"kappa"}, "\u03ba", "\u03ba\u2013\u03c1");
                const auto rhos =
                    values_of(t, {"rho", set.c_str()}, "\u03c1 on " + set, "\u03ba\u2013\u03c1");
                plot::Series x;  // the kappa mean and interval, moved into the x coordinates
                push_mean(x, t, kappas);
                counts.add(push_mean(mean, t, rhos));
                mean.x.back() = x.y.back();
                mean.x_low.push_back(x.y_low.back()), mean.x_high.push_back(x.y_high.back());
                mean.point_labels.push_back("T=" + g(t));
                for (const Run* r : at(t, true))
                    each.x.push_back(number(r->diagnostics, {"kappa"})),
                        each.y.push_back(number(r->diagnostics, {"rho", set.c_str()}));
            }
            mean.label += " (" + counts.text() + ")";
            if (seeds_.size() > 1) spec.series.push_back(each);
            spec.series.push_back(mean);
        }
        clip_intervals(spec, 0, 1, true);
        return {
            spec,
            "\u03ba = l*/L, l* the first layer whose in-distribution probe reaches 95% of the last "
            "layer\u2019s accuracy; \u03c1 = (max\u2097 a\u2097 \u2212 a_L) / max\u2097 a\u2097 "
            "on the OOD probes. The paper: high T gives low \u03ba (a long tunnel) and high "
            "\u03c1." +
                std::string(sweep_.ood.empty()
                                ? " No OOD set was evaluated, so \u03c1 is not available."
                                : "")};
    }

    Figure detection(const std::string& set) {
        plot::PlotSpec spec;
        spec.title = set.empty() ? "OOD detection AUROC" : "OOD detection AUROC, " + set;
        spec.x_label = "training temperature T";
        spec.y_label = "AUROC (in-distribution positive)";
        spec.log_x = true;
        spec.y_max = 1;
        spec.y_min = 0.5;
        spec.hlines.push_back({0.5, "chance"});
        if (!set.empty())
            for (size_t k = 0; k < std::size(kOodDetectors); ++k) {
                const OodDetector& m = kOodDetectors[k];
                for (auto& s : against_t({"ood_detection", m.key, set.c_str(), "auroc"}, m.label,
                                         static_cast<int>(k), false,
                                         std::string(m.label) + " AUROC on " + set, "OOD detection"))
                    spec.series.push_back(s);
            }
        clip_intervals(spec, 0, 1);
        return {
            spec,
            "Area under the ROC curve for telling the in-distribution test set from " +
                (set.empty() ? std::string("an OOD set (none was evaluated)") : set) +
                ". NECO is the paper\u2019s detector; MSP (at T = 1), MaxLogit and Energy are the "
                "baselines. Each run\u2019s own 95% interval over test samples (bootstrap and "
                "DeLong) is in its diagnostics.json."};
    }

    const Sweep& sweep_;
    std::vector<const Run*> runs_;
    Notes& notes_;
    std::vector<double> ts_;
    std::vector<std::string> seeds_;
};

// The page's CSS lives in experiments/report.css, embedded at build time (CMakeLists.txt).
constexpr const char* kStyle =
#include "report_style.inc"
    ;

}  // namespace

namespace {

struct FigureGroup {
    std::string title;  // model, data set, init scale, head norm
    std::vector<Figure> figures;
};

// The figures of every group of runs, groups in table order. Adds to sweep.notes what cannot
// be plotted.
std::vector<FigureGroup> figure_groups(Sweep& sweep) {
    std::vector<std::pair<std::string, std::vector<const Run*>>> groups;
    for (const Run& r : sweep.runs) {
        const std::string key = group_title(r);
        if (groups.empty() || groups.back().first != key) groups.push_back({key, {}});
        groups.back().second.push_back(&r);
    }
    std::vector<FigureGroup> out;
    for (auto& [title, runs] : groups)
        out.push_back({title, GroupPlots(sweep, runs, sweep.notes).figures()});
    return out;
}

// A file name from a title: ASCII letters and digits, anything else one '-'.
std::string slug(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        const bool keep = std::isalnum(c) && c < 128;
        if (keep) out += static_cast<char>(std::tolower(c));
        else if (!out.empty() && out.back() != '-') out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string csv_text(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string csv_number(double v) {
    if (!std::isfinite(v)) return "";
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    return text;
}

// The points a figure plots, one row each: series, x (its category label on a categorical
// axis), y, the point's label when it has one, and the 95% interval where the figure has one.
std::string figure_csv(const plot::PlotSpec& spec) {
    std::string out = "series," + csv_text(spec.x_label.empty() ? "x" : spec.x_label) + "," +
                      csv_text(spec.y_label.empty() ? "y" : spec.y_label) +
                      ",point_label,y_ci95_low,y_ci95_high,x_ci95_low,x_ci95_high\n";
    auto bound = [](const std::vector<double>& v, size_t i) {
        return i < v.size() ? csv_number(v[i]) : std::string();
    };
    for (const plot::Series& s : spec.series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            const double x = s.x[i];
            const bool category = !spec.x_category_labels.empty() && x >= 0 &&
                                  x < static_cast<double>(spec.x_category_labels.size());
            out += csv_text(s.label.empty() ? s.data_name : s.label) + "," +
                   (category ? csv_text(spec.x_category_labels[static_cast<size_t>(x)])
                             : csv_number(x)) +
                   "," + csv_number(s.y[i]) + "," +
                   (i < s.point_labels.size() ? csv_text(s.point_labels[i]) : "") + "," +
                   bound(s.y_low, i) + "," + bound(s.y_high, i) + "," + bound(s.x_low, i) + "," +
                   bound(s.x_high, i) + "\n";
        }
    return out;
}

// The figure as a standalone SVG file (namespaced, its caption as the description).
std::string figure_svg_file(const Figure& f) {
    std::string svg = plot::render_svg(f.spec);
    const size_t root = svg.find("<svg");
    if (root != std::string::npos) {
        svg.insert(root + 4, " xmlns=\"http://www.w3.org/2000/svg\"");
        const size_t open_end = svg.find('>', root);
        if (open_end != std::string::npos)
            svg.insert(open_end + 1, "<desc>" + escape_xml(f.caption) + "</desc>");
    }
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg + "\n";
}

}  // namespace

namespace {

struct Page {
    std::string html;
    json claims;  // claims.json
};

// The page's title, what it was made from, and the sweep's configuration.
std::string page_head(const fs::path& root, const Sweep& sweep) {
    size_t complete = 0, diagnosed = 0;
    for (const Run& r : sweep.runs) complete += r.complete(), diagnosed += r.diagnosed();
    std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    o += "<title>kelvin sweep report</title>\n<style>" + std::string(kStyle) + "</style>\n";
    o += "</head>\n<body>\n<main>\n<h1>Temperature sweep report</h1>\n";
    o += "<p class=\"meta\">Generated " + utc_now() + " by kelvin from <code>" +
         escape_xml(fs::absolute(root).string()) + "</code>. " + std::to_string(sweep.runs.size()) +
         " finished run" + (sweep.runs.size() == 1 ? "" : "s") + " (" + std::to_string(complete) +
         " complete, " + std::to_string(diagnosed) + " with diagnostics)";
    if (sweep.partial)
        o += "; " + std::to_string(sweep.partial) + " in progress (.partial, not shown)";
    o += ".</p>\n";
    o += "<p>Softmax with temperature T, <code>softmax(z/T)</code>, enters only the training "
         "loss. This page shows how T changes the rank of the logits, their norm, the probe "
         "accuracy across layers (the tunnel), and out-of-distribution detection and "
         "generalisation. Where a temperature has several seeds, each plot shows the <b>mean "
         "over seeds with its 95% interval</b> (a band, or error bars) and each seed faintly; "
         "the legend says how many seeds. The tables give every cell over seeds and every "
         "run.</p>\n";
    if (fs::exists(root / "sweep.json"))
        o += "<details><summary>Sweep configuration (sweep.json)</summary><pre>" +
             escape_xml(read_json(root / "sweep.json", "report").dump(2)) + "</pre></details>\n";
    else
        o += "<p class=\"meta\">No sweep.json in this folder.</p>\n";
    return o;
}

// The table over seeds and the table of every run.
std::string tables_html(const SummaryTable& table, const std::vector<analysis::CellSummary>& cells,
                        const Sweep& sweep) {
    std::string o = "<h2>Summary over seeds</h2>\n";
    if (cells.empty()) {
        o += "<p>No complete runs yet.</p>\n";
    } else {
        o += "<p class=\"meta\">One row per cell (every setting but the seed) over its complete "
             "runs: mean [95% Student t interval] (n seeds); one seed gives no interval. Every "
             "numeric result is in <code>summary_by_cell.csv</code>.</p>\n";
        o += cells_table_html(cells, cell_table_results(table.ood_sets));
    }
    o += "<h2>Every run</h2>\n";
    if (table.rows.empty()) return o + "<p>No finished runs yet.</p>\n";
    double gamma = kNaN;
    for (const Run& r : sweep.runs)
        if (r.diagnosed() && !std::isfinite(gamma))
            gamma = number(r.diagnostics, {"settings", "gamma"});
    o += runs_table_html(table);
    o += "<p class=\"meta\">Ranks at \u03b3 = " + (std::isfinite(gamma) ? g(gamma) : "?") +
         " of the test logits and of softmax(logits/T); logits norm = mean per-sample L2 "
         "norm at initialisation and after the last epoch; \u03ba = effective depth; per "
         "OOD set: \u03c1 = OOD generalisation drop, AUROC of each detector "
         "(in-distribution positive), OrthoDev = mean |cos| between class means and the "
         "OOD mean. Hover over a row for the run\u2019s folder name.</p>\n";
    return o;
}

std::string plots_html(Sweep& sweep) {
    if (sweep.runs.empty()) return "<p>Nothing to plot.</p>\n";
    std::string o;
    const std::vector<FigureGroup> groups = figure_groups(sweep);
    for (const FigureGroup& group : groups) {
        if (groups.size() > 1) o += "<h3>" + escape_xml(group.title) + "</h3>\n";
        o += "<div class=\"plots\">\n";
        for (const Figure& f : group.figures)
            o += "<figure>\n" + plot::render_svg(f.spec) + "<figcaption>" + escape_xml(f.caption) +
                 "</figcaption>\n</figure>\n";
        o += "</div>\n";
    }
    return o;
}

Page build_page(const std::string& dir) {
    const fs::path root(dir);
    int partial = 0;
    std::vector<RunRecord> records = load_runs(root, "report", &partial);
    // The tables and the claims from the same records as summary.csv and summary_by_cell.csv.
    const SummaryTable table = summary_table(records);
    const std::vector<analysis::RunResults> results = complete_run_results(records);
    const std::vector<analysis::CellSummary> cells = analysis::summarize_by_cell(results);
    const analysis::ClaimOptions claim_options;
    const std::vector<analysis::ClaimResult> claims = analysis::test_claims(results, claim_options);
    Sweep sweep = read_sweep(std::move(records), partial);
    for (const auto& [name, why] : table.left_out)
        sweep.notes.add(name, why + ", so not in the tables");

    std::string o = page_head(root, sweep);
    o += "<h2 id=\"claims\">Claims</h2>\n" + claims_html(claims, claim_options.alpha);
    o += tables_html(table, cells, sweep);
    o += "<h2>Plots</h2>\n" + plots_html(sweep);  // adds to the notes: before them
    o += "<h2>Left out</h2>\n" + sweep.notes.html();
    o += "</main>\n</body>\n</html>\n";
    return {o, analysis::claims_json(claims, claim_options)};
}

}  // namespace

std::string report_html(const std::string& dir) { return build_page(dir).html; }

std::vector<std::string> write_figures(const std::string& dir) {
    int partial = 0;
    Sweep sweep = read_sweep(load_runs(dir, "report", &partial), partial);
    const fs::path folder = fs::path(dir) / "figures";
    fs::create_directories(folder);
    std::vector<std::string> written;
    const std::vector<FigureGroup> groups = figure_groups(sweep);
    for (size_t group = 0; group < groups.size(); ++group)
        for (const Figure& f : groups[group].figures) {
            const std::string stem =
                "group" + std::to_string(group + 1) + "-" + slug(f.spec.title);
            write_file_atomically((folder / (stem + ".svg")).string(), figure_svg_file(f));
            write_file_atomically((folder / (stem + ".csv")).string(), figure_csv(f.spec));
            written.push_back((folder / (stem + ".svg")).string());
        }
    return written;
}

std::string write_report(const std::string& dir) {
    const Page page = build_page(dir);
    const std::string path = (fs::path(dir) / "report.html").string();
    write_file_atomically((fs::path(dir) / "claims.json").string(), page.claims.dump(2) + "\n");
    write_file_atomically(path, page.html);
    write_figures(dir);
    return path;
}

}  // namespace kelvin::experiments
