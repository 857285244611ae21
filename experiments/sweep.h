// `kelvin sweep`: a grid of training runs (models x datasets x temperatures x init scales x head
// normalisations x seeds), each followed by diagnostics, resumable at any point.
//
// Layout of DIR:
//   sweep.json            the validated configuration, and "runs": the run names in index order
//                         (`kelvin sweep run-one DIR --index I` trains run I)
//   runs/<name>.partial/  a run in progress (checkpoints every epoch)
//   runs/<name>/          a finished run: renamed from .partial only once training and
//                         diagnostics are both written, so a crash never leaves a half-written
//                         run looking finished
//   locks/<name>.lock     held by the process training or diagnosing that run (engine/run_lock.h),
//                         so that two sweeps or workers never train one run; locks/summary.lock
//                         while one of them rewrites the summary
//   slurm/                with --slurm: sweep.sbatch, job_id, logs/<job>_<index>.out
//   summary.csv, summary.md       one row per run
//   summary_by_cell.csv, .md      one row per cell (every setting but the seed), over seeds
//   claims.json, report.html      the paper's claims tested on the sweep, and the report
// Restarting the same command skips finished runs, resumes a partial one from its last epoch
// checkpoint, and starts the rest.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/diagnose.h"
#include "experiments/summary_table.h"  // write_summary
#include "experiments/train.h"

namespace kelvin::experiments {

struct SweepConfig {
    std::vector<std::string> models{"mlp"};
    std::vector<std::string> datasets{"fashion-mnist"};
    std::vector<std::string> ood;
    std::vector<float> temperatures{1.0f};
    std::vector<float> init_scales{1.0f};
    std::vector<std::string> head_norms{"none"};
    std::vector<uint64_t> seeds{1};
    TrainConfig train;            // every other training setting, shared by all runs
    bool diagnose = true;
    DiagnoseOptions diagnose_options;
};

// Reads and validates a sweep config; errors name the file, the key and what is allowed.
// Also checks that every data set (and OOD set) can be found, before any training starts.
SweepConfig parse_sweep_config(const nlohmann::json& j, const std::string& source);
SweepConfig load_sweep_config(const std::string& path);
nlohmann::json sweep_config_to_json(const SweepConfig& config);

struct SweepRun {
    std::string name;  // e.g. mlp_fashion-mnist-classes-0-4_T10_init1_none_s1
    TrainConfig train;
};
std::vector<SweepRun> expand_sweep(const SweepConfig& config);

// Reads a sweep folder's sweep.json (sweep_config_to_json's layout) back into a config: what a
// worker (`kelvin sweep run-one`) trains from. Errors name the file and the key.
SweepConfig sweep_config_from_record(const nlohmann::json& record, const std::string& source);

// The sweep's run names in index order: sweep.json's "runs" (fixed when the sweep was created),
// then any run of `runs` (a grown grid) not among them. A sweep.json of a kelvin before
// run-one has no list: the grid's own order then.
std::vector<std::string> run_names(const nlohmann::json& record, const std::vector<SweepRun>& runs,
                                   const std::string& source);

// Checks DIR/sweep.json against `config` (a rerun may grow the grid, not change the settings),
// writes it with "runs": the run names in index order, and returns the runs in that order. The
// order is fixed when the sweep is created, so every worker agrees on which run index I is;
// runs a grown grid adds come after the earlier ones.
std::vector<SweepRun> prepare_sweep_dir(const SweepConfig& config, const std::string& out_dir);

struct SweepOptions {
    bool show_progress = false;
    std::string command;         // recorded in the run locks (default "kelvin sweep --out DIR")
    std::string resume_command;  // what an interrupted run's metrics.json says to run
};

// What became of one run of a sweep.
enum class RunOutcome {
    finished,     // trained (and diagnosed) now, and moved to runs/<name>/
    kept,         // finished earlier
    held,         // another process holds its lock (named on stderr): left to it
    interrupted,  // a signal stopped it at a step boundary; its checkpoint is in runs/<name>.partial/
    failed,       // the error is on stderr; the run stays in runs/<name>.partial/
};

// Trains, diagnoses and finishes one run unless it is finished or another process holds it
// (DIR/locks/<name>.lock, engine/run_lock.h). `tag` prefixes its lines on stderr. After a
// finished run the summary is rewritten (publish_summary, without the report).
RunOutcome train_sweep_run(const SweepConfig& config, const std::string& out_dir,
                           const SweepRun& run, const std::string& tag, const SweepOptions& options);

struct SweepResult {
    nlohmann::json rows;                      // the summary
    std::vector<std::string> held_elsewhere;  // runs left to the processes holding them
    int stopped_by = 0;                       // the signal that stopped the sweep, or 0
};

// Runs every unfinished run in order, then writes the summary and the report. A signal stops it
// after the current step with that run's checkpoint (stopped_by says which); throws when runs
// failed.
SweepResult run_sweep(const SweepConfig& config, const std::string& out_dir,
                      const SweepOptions& options);

// write_summary, and write_report when with_report, under DIR/summary.lock: workers that finish
// runs at the same moment take turns, so the last one's summary holds every finished run.
nlohmann::json publish_summary(const std::string& out_dir, bool with_report);

}  // namespace kelvin::experiments
