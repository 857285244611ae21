// `kelvin sweep`: a grid of training runs (models x datasets x temperatures x init scales x head
// normalisations x seeds), each followed by diagnostics, resumable at any point.
//
// Layout of DIR:
//   sweep.json            the validated configuration
//   runs/<name>.partial/  a run in progress (checkpoints every epoch)
//   runs/<name>/          a finished run: renamed from .partial only once training and
//                         diagnostics are both written, so a crash never leaves a half-written
//                         run looking finished
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

struct SweepOptions {
    bool show_progress = false;
};

// Runs every unfinished run, then writes the summary and the report. Returns the summary rows.
nlohmann::json run_sweep(const SweepConfig& config, const std::string& out_dir,
                         const SweepOptions& options);

}  // namespace kelvin::experiments
