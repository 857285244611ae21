// The tables of a sweep, built once from its run records (experiments/run_record.h) for every
// writer: one row per run (summary.csv, summary.md and the report's summary table all print
// these rows), and the runs as the statistics see them (analysis/run_results.h), from which
// summary_by_cell.{csv,md} and claims.json are computed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/run_results.h"
#include "experiments/run_record.h"

namespace kelvin::experiments {

// A column of the per-run table: its key in a row (and the CSV header), the report's header,
// the OOD set it belongs to ("" for none) and how the report prints it.
struct SummaryColumn {
    std::string key;
    std::string label;
    std::string ood_set;
    enum class Format { text, integer, fixed3, sig3 } format = Format::text;
    bool in_page = true;  // false: CSV and Markdown only (e.g. the run's folder name, FPR95)
};

struct SummaryTable {
    std::vector<SummaryColumn> columns;
    std::vector<nlohmann::json> rows;  // one object per run, keys as the columns', sorted by
                                       // model, dataset, init scale, head norm, T, seed
    std::vector<std::string> ood_sets;
    // Runs with no row: (folder name, why), e.g. a config.json that does not read.
    std::vector<std::pair<std::string, std::string>> left_out;
};

SummaryTable summary_table(const std::vector<RunRecord>& runs);

// The complete runs (status "complete") for the aggregation over seeds and the claims; a
// diverged or failed run has no diagnostics to average and is left out (the per-run table
// keeps it, with its status).
std::vector<analysis::RunResults> complete_run_results(const std::vector<RunRecord>& runs);

// The results the per-cell tables a person reads show (summary_by_cell.md, the report; the CSV
// has every one): the paper's quantities, and per OOD set rho, NECO's and MSP's AUROC, OrthoDev.
std::vector<std::string> cell_table_results(const std::vector<std::string>& ood_sets);

// summary.csv (every value at full precision) and summary.md (4 significant digits).
std::string summary_csv(const SummaryTable& table);
std::string summary_markdown(const SummaryTable& table);

// Rebuilds summary.{csv,md} and summary_by_cell.{csv,md} from DIR/runs/*; returns the per-run
// rows as a JSON array.
nlohmann::json write_summary(const std::string& out_dir);

}  // namespace kelvin::experiments
