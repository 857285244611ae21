#include "experiments/report_tables.h"

#include <cmath>
#include <set>

#include "experiments/report_format.h"
#include "experiments/svg_plot.h"

namespace kelvin::experiments::report {

using json = nlohmann::json;
using plot::escape_xml;

namespace {

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

}  // namespace

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
        const bool complete = r.value("status", "") == kStatusComplete;
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

namespace {

std::string interval_text(const analysis::SeedSummary& s) {
    if (s.n == 0) return "\u2014";
    if (s.n < 2) return sig3(s.mean) + " (n = 1)";
    return sig3(s.mean) + " [" + sig3(s.ci_low) + ", " + sig3(s.ci_high) + "] (n = " +
           std::to_string(s.n) + ")";
}

}  // namespace

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
            gamma = r.diagnostics.settings.gamma;
    o += runs_table_html(table);
    o += "<p class=\"meta\">Ranks at \u03b3 = " + (std::isfinite(gamma) ? g(gamma) : "?") +
         " of the test logits and of softmax(logits/T); logits norm = mean per-sample L2 "
         "norm at initialisation and after the last epoch; \u03ba = effective depth; per "
         "OOD set: \u03c1 = OOD generalisation drop, AUROC of each detector "
         "(in-distribution positive), OrthoDev = mean |cos| between class means and the "
         "OOD mean. Hover over a row for the run\u2019s folder name.</p>\n";
    return o;
}

}  // namespace kelvin::experiments::report
