#include "experiments/summary_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <tuple>

#include "analysis/cell_summary.h"
#include "engine/atomic_file.h"
#include "experiments/record_results.h"
#include "experiments/run_files.h"
#include "experiments/settings_tables.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// A value as text: full precision for the CSV, 4 significant digits for the table a person reads.
std::string cell(const json& v, bool readable) {
    if (v.is_null()) return "";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_float() && readable) {
        char text[32];
        std::snprintf(text, sizeof text, "%.4g", v.get<double>());
        return text;
    }
    return v.dump();
}

// NaN (a value the file lacks) as null, an empty cell.
double value_or_nan(const std::map<std::string, double>& by_set, const std::string& set) {
    auto it = by_set.find(set);
    return it == by_set.end() ? kNoValue : it->second;
}

void metrics_columns(const Metrics& metrics, json& row) {
    if (!metrics.final) return;
    const FinalRecord& f = *metrics.final;
    row["test_acc"] = f.test_acc;
    row["logits_norm"] = f.logits_norm;
    row["logits_norm_init"] = f.logits_norm_init;
    row["seconds"] = f.seconds;
    // The weights every number of the row was computed from (run_checkpoint.h).
    if (f.weights_digest) {
        const std::string step = f.step ? std::to_string(*f.step) : "null";
        row["step"] = f.step ? json(*f.step) : json();
        row["weights_digest"] = *f.weights_digest;
        row["weights"] = step + ", " + f.weights_digest->substr(f.weights_digest->find(':') + 1, 8);
    }
}

void diagnostics_columns(const Diagnostics& d, json& row, std::set<std::string>& ood_sets) {
    row["rank_logits"] = d.rank.logits;
    row["rank_softmax"] = d.rank.softmax;
    row["classes"] = d.rank.classes;
    row["kappa"] = d.kappa;
    auto or_zero = [](double v) { return std::isnan(v) ? 0.0 : v; };
    const json& seconds = row.contains("seconds") ? row["seconds"] : json();
    row["seconds"] = (seconds.is_number() ? seconds.get<double>() : 0.0) + or_zero(d.seconds);
    for (const auto& [spec, value] : d.rho) {
        ood_sets.insert(spec);
        row["rho:" + spec] = value;
        row["orthodev:" + spec] = value_or_nan(d.orthodev, spec);
        for (const auto& [detector, sets] : d.ood_detection) {
            auto it = sets.find(spec);
            row[detector + "_auroc:" + spec] = it == sets.end() ? kNoValue : it->second.auroc;
            row[detector + "_fpr95:" + spec] = it == sets.end() ? kNoValue : it->second.fpr95;
        }
    }
}

// A run's row: its settings, then what metrics.json and diagnostics.json say, one column per
// value (OOD values per set, as "<value>:<set>").
json summary_row(const RunRecord& r, std::set<std::string>& ood_sets) {
    const TrainConfig& c = *r.config;
    float temperature = c.temperature, init_scale = c.model_options.init_scale;
    json row = {{"name", r.name},
                {"model", c.model},
                {"dataset", c.dataset},
                {"temperature", settings::to_json(&temperature)},
                {"init_scale", settings::to_json(&init_scale)},
                {"head_norm", c.model_options.head_norm},
                {"seed", c.seed},
                {"status", r.has_metrics() ? r.status() : "no metrics.json"}};
    if (r.metrics) metrics_columns(*r.metrics, row);
    if (!r.stale_diagnostics.empty()) row["diagnostics"] = "stale: " + r.stale_diagnostics;
    if (r.metrics && r.metrics->diverged_at_step) row["diverged_at_step"] = *r.metrics->diverged_at_step;
    if (r.diagnostics) diagnostics_columns(*r.diagnostics, row, ood_sets);
    return row;
}

std::vector<SummaryColumn> columns_for(const std::vector<std::string>& ood_sets,
                                       const std::vector<json>& rows) {
    using F = SummaryColumn::Format;
    std::vector<SummaryColumn> columns = {
        {"name", "run", "", F::text, false},
        {"model", "model", "", F::text},
        {"dataset", "dataset", "", F::text},
        {"temperature", "T", "", F::sig3},
        {"init_scale", "init scale", "", F::sig3},
        {"head_norm", "head norm", "", F::text},
        {"seed", "seed", "", F::text},
        {"status", "status", "", F::text},
        {"test_acc", "test acc", "", F::fixed3},
        {"rank_logits", "rank (logits)", "", F::integer},
        {"rank_softmax", "rank (softmax)", "", F::integer},
        {"classes", "classes", "", F::integer, false},
        {"logits_norm_init", "logits norm init", "", F::sig3},
        {"logits_norm", "logits norm final", "", F::sig3},
        {"kappa", "\u03ba", "", F::fixed3}};
    // The weights of each row, and why diagnostics are left out (run_checkpoint.h); folders
    // from before digests keep the columns they had.
    auto any_row_has = [&rows](const char* key) {
        return std::any_of(rows.begin(), rows.end(), [&](const json& r) { return r.contains(key); });
    };
    if (any_row_has("weights_digest")) {
        columns.push_back({"step", "step", "", F::integer, false});
        columns.push_back({"weights_digest", "weights digest", "", F::text, false});
        columns.push_back({"weights", "weights (step, digest)", "", F::text, true, false});
    }
    if (any_row_has("diagnostics")) columns.push_back({"diagnostics", "diagnostics", "", F::text});
    for (const auto& spec : ood_sets) {
        columns.push_back({"rho:" + spec, "\u03c1", spec, F::fixed3});
        for (const OodDetector& m : kOodDetectors) {
            columns.push_back({std::string(m.key) + "_auroc:" + spec,
                               std::string(m.label) + " AUROC", spec, F::fixed3});
            columns.push_back({std::string(m.key) + "_fpr95:" + spec,
                               std::string(m.label) + " FPR95", spec, F::fixed3, false});
        }
        columns.push_back({"orthodev:" + spec, "OrthoDev", spec, F::fixed3});
    }
    columns.push_back({"seconds", "seconds", "", F::sig3, false});
    return columns;
}

}  // namespace

SummaryTable summary_table(const std::vector<RunRecord>& runs) {
    SummaryTable table;
    std::set<std::string> ood_sets;
    for (const RunRecord& run : runs) {
        if (!run.config) {
            table.left_out.push_back({run.name, run.config_error});
            continue;
        }
        table.rows.push_back(summary_row(run, ood_sets));
    }
    std::stable_sort(table.rows.begin(), table.rows.end(), [](const json& a, const json& b) {
        auto key = [](const json& r) {
            return std::make_tuple(r["model"].get<std::string>(), r["dataset"].get<std::string>(),
                                   r["init_scale"].get<double>(), r["head_norm"].get<std::string>(),
                                   r["temperature"].get<double>(), r["seed"].get<uint64_t>());
        };
        return key(a) < key(b);
    });
    table.ood_sets.assign(ood_sets.begin(), ood_sets.end());
    table.columns = columns_for(table.ood_sets, table.rows);
    return table;
}

std::vector<analysis::RunResults> complete_run_results(const std::vector<RunRecord>& runs) {
    std::vector<analysis::RunResults> out;
    for (const RunRecord& r : runs)
        if (r.config && r.status() == kStatusComplete) out.push_back(run_results_of(r));
    return out;
}

namespace {
// The columns summary.csv and summary.md have (not the page's short forms).
std::vector<SummaryColumn> file_columns(const SummaryTable& table) {
    std::vector<SummaryColumn> out;
    for (const SummaryColumn& c : table.columns)
        if (c.in_files) out.push_back(c);
    return out;
}
}  // namespace

std::string summary_csv(const SummaryTable& table) {
    const std::vector<SummaryColumn> columns = file_columns(table);
    std::ostringstream csv;
    for (size_t i = 0; i < columns.size(); ++i) csv << (i ? "," : "") << csv_field(columns[i].key);
    csv << "\n";
    for (const json& row : table.rows) {
        for (size_t i = 0; i < columns.size(); ++i) {
            const std::string& key = columns[i].key;
            csv << (i ? "," : "") << csv_field(cell(row.contains(key) ? row[key] : json(), false));
        }
        csv << "\n";
    }
    return csv.str();
}

std::string summary_markdown(const SummaryTable& table) {
    const std::vector<SummaryColumn> columns = file_columns(table);
    std::ostringstream md;
    md << "|";
    for (const auto& c : columns) md << " " << c.key << " |";
    md << "\n|";
    for (size_t i = 0; i < columns.size(); ++i) md << " --- |";
    md << "\n";
    for (const json& row : table.rows) {
        md << "|";
        for (const auto& c : columns)
            md << " " << cell(row.contains(c.key) ? row[c.key] : json(), true) << " |";
        md << "\n";
    }
    return md.str();
}

std::vector<std::string> cell_table_results(const std::vector<std::string>& ood_sets) {
    std::vector<std::string> names = {"test_acc", "rank_logits", "rank_softmax", "logits_norm",
                                      "logits_sigma_1", "kappa", "rank_probe_last"};
    for (const std::string& set : ood_sets)
        for (const char* r : {"rho/", "neco_auroc/", "msp_auroc/", "orthodev/"})
            names.push_back(r + set);
    return names;
}

json write_summary(const std::string& out_dir) {
    // Checked (by load_runs) before anything is written into a folder that is not a sweep's.
    const std::vector<RunRecord> runs = load_runs(out_dir, "report");
    const SummaryTable table = summary_table(runs);
    const fs::path dir(out_dir);
    write_file_atomically((dir / "summary.csv").string(), summary_csv(table));
    write_file_atomically((dir / "summary.md").string(),
                          "# Sweep summary\n\nOne row per finished run. Ranks at gamma = 1e-3; "
                          "AUROC and FPR95 with in-distribution as the positive class.\n\n" +
                              summary_markdown(table));
    const auto cells = analysis::summarize_by_cell(complete_run_results(runs));
    write_file_atomically((dir / "summary_by_cell.csv").string(), analysis::cells_csv(cells));
    write_file_atomically(
        (dir / "summary_by_cell.md").string(),
        "# Sweep summary by cell\n\nOne row per cell (every setting but the seed), over the "
        "cell's complete runs (diverged and failed runs are left out; summary.csv lists them). "
        "Each entry: mean [95% interval] (n), the interval mean \u00b1 t(0.975, n\u22121) "
        "sd/\u221an over seeds (Student t); \"(n=1)\": one seed, no interval. Results "
        "named as in docs/METHODS.md; summary_by_cell.csv has n, mean, sd and the interval of "
        "every numeric result.\n\n" +
            analysis::cells_markdown(cells, cell_table_results(table.ood_sets)));
    json rows = json::array();
    for (const json& r : table.rows) rows.push_back(r);
    return rows;
}

}  // namespace kelvin::experiments
