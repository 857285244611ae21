// A sweep's runs trained by several worker processes at once, each `kelvin sweep run-one DIR
// --index I` with one OpenMP thread, instead of one process spreading each run over every core.
//
// Why: the demo's MLP multiplies 128 x 512 by 512 x 512 matrices; a second thread on such small
// products waits at every one of the step's kernels. One demo run took 38.7 s of CPU time with
// two threads and 34.9 s with one (2026-12-02, loaded 2-core EPYC, user + sys), so two one-thread
// runs side by side do the same work in less time than two-thread runs one after the other. The
// GEMM splits output panels, never a sum, so a run's weights end byte for byte the same with one
// thread or two, and its diagnostics the same to ~1e-9 (a half-height panel can take another
// OpenBLAS kernel; tests/test_sweep_processes.cpp): the numbers are those of an in-process sweep.
// Used by `kelvin demo` on the CPU.
//
// Each worker's output goes to DIR/logs/<run name>.log; this process prints one line per run
// started and finished. Ctrl-C reaches only this process (the workers have their own process
// group): it passes the signal on once, so each worker checkpoints its run and stops; rerunning
// resumes them.
#pragma once

#include <string>
#include <vector>

#include "experiments/sweep.h"

namespace kelvin::experiments {

struct ProcessSweepResult {
    std::vector<std::string> failed;  // run names whose worker failed (see their logs)
    int stopped_by = 0;               // the signal that stopped the sweep, or 0
    int trained = 0;                  // runs trained now (not finished earlier)
    double cpu_seconds = 0;           // user + system time of the workers, all together
};

// Trains every unfinished run of `runs` (prepare_sweep_dir's order) in up to `workers` processes
// of `executable` (normally /proc/self/exe) at a time. Does not write the summary: the caller
// does, once, after all of them.
ProcessSweepResult run_sweep_in_processes(const std::string& out_dir,
                                          const std::vector<SweepRun>& runs, int workers,
                                          const std::string& executable = "/proc/self/exe");

}  // namespace kelvin::experiments
