// The report's tables: every run (the rows of summary.csv, experiments/summary_table.h) and
// every cell over seeds (summary_by_cell.csv's, analysis/cell_summary.h), as HTML.
#pragma once

#include <string>
#include <vector>

#include "analysis/cell_summary.h"
#include "experiments/report_sweep.h"
#include "experiments/summary_table.h"

namespace kelvin::experiments::report {

// The per-run rows as a table a person reads: the page's columns of SummaryTable, those with
// one value for every run stated once above it.
std::string runs_table_html(const SummaryTable& table);

// One row per cell (summary_by_cell.md's columns): mean [95% t interval] (n).
std::string cells_table_html(const std::vector<analysis::CellSummary>& cells,
                             const std::vector<std::string>& results);

// The page's two table sections: over seeds, and every run.
std::string tables_html(const SummaryTable& table, const std::vector<analysis::CellSummary>& cells,
                        const Sweep& sweep);

}  // namespace kelvin::experiments::report
