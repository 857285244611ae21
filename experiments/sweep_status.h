// `kelvin sweep status DIR`: what became of every run of a sweep, from the folder itself (run
// folders, metrics.json, run locks, worker logs) and, where squeue runs, from Slurm: one line
// per run, then the counts.
#pragma once

#include <string>

namespace kelvin::experiments {

// Prints the table to stdout; true when every run is finished (complete or diverged).
bool print_sweep_status(const std::string& dir);

}  // namespace kelvin::experiments
