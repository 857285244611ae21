// Aggregation over seeds: a grid cell is every setting of a run but its seed; per cell and per
// numeric result, n, mean, sample sd and the Student t 95% interval over the cell's seeds
// (analysis/statistics.h summarize: non-finite values are left out and n says how many were
// used). This is the table behind summary_by_cell.csv and summary_by_cell.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analysis/run_results.h"
#include "analysis/statistics.h"

namespace kelvin::analysis {

struct CellKey {
    double temperature = 1;
    double init_scale = 1;
    std::string head_norm = "none";
    std::map<std::string, std::string> other;
    bool operator<(const CellKey& o) const;
};
CellKey cell_of(const RunResults& run);

struct CellSummary {
    CellKey cell;
    std::vector<uint64_t> seeds;    // ascending
    std::vector<std::string> runs;  // their ids, in seed order
    std::map<std::string, SeedSummary> results;  // every result any run of the cell has
};

// One row per cell, cells in the order of CellKey (other settings, head norm, init scale,
// temperature). A seed that appears twice in a cell is an error (two runs of one cell and seed
// would be counted as two seeds).
std::vector<CellSummary> summarize_by_cell(const std::vector<RunResults>& runs, double level = 0.95);

// CSV: the cell's settings (the `other` keys, then head_norm, init_scale, temperature), seeds
// ("1 2 3"), then per result (sorted by name) the columns n(R), mean(R), sd(R), ci95_low(R),
// ci95_high(R); NaN and absent values are empty fields. Numbers with 10 significant digits.
std::string cells_csv(const std::vector<CellSummary>& cells);
// Markdown: the same cells, one column per result (or only `results` when given), each entry
// "mean [low, high] (n)"; "mean (n=1)" without an interval.
std::string cells_markdown(const std::vector<CellSummary>& cells,
                           const std::vector<std::string>& results = {});

}  // namespace kelvin::analysis
