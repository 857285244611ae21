// `kelvin sweep run-one DIR --index I`: the one worker entry point of a sweep, for any scheduler
// that hands out indices (Slurm arrays, Kubernetes indexed Jobs, GNU parallel, xargs -P). Run I
// is the I-th name of DIR/sweep.json's "runs", fixed when the sweep was created, so every worker
// agrees on it; a finished run is skipped, a partial one resumed, one whose lock another
// process holds left to it.
#pragma once

#include <cstdint>
#include <string>

#include "experiments/sweep.h"

namespace kelvin::experiments {

// Trains and diagnoses run `index` of the sweep in `dir` with the settings of its sweep.json;
// after a finished (or already finished) run, rewrites the summary and the report.
RunOutcome run_one(const std::string& dir, int64_t index, bool show_progress);

}  // namespace kelvin::experiments
