// `kelvin sweep`: a grid of training runs (models x datasets x temperatures x init scales x head
// normalisations x seeds), each followed by diagnostics, resumable at any point.
//
// Layout of DIR:
//   sweep.json            the validated configuration
//   runs/<name>.partial/  a run in progress (checkpoints every epoch)
//   runs/<name>/          a finished run: renamed from .partial only once training and
//                         diagnostics are both written, so a crash never leaves a half-written
//                         run looking finished
//   summary.csv, summary.md, report.html
// Restarting the same command skips finished runs, resumes a partial one from its last epoch
// checkpoint, and starts the rest.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/diagnose.h"
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
    std::string grid_point;            // "models[0] = mlp, datasets[1] = ..., seeds[0] = 1"
    std::vector<std::string> same_as;  // other grid points that are this same training run
};
// One run per distinct grid point. Names are unique: grid points that are the same training
// (one class list written two ways, a repeated value) become one run, listed in same_as;
// different training that would get one name throws kelvin::Error naming both points, before
// anything trains. Names longer than name_max (with ".partial") are cut and end in a hash.
std::vector<SweepRun> expand_sweep(const SweepConfig& config, size_t name_max = 255);

struct SweepOptions {
    bool show_progress = false;
};

// Runs every unfinished run, then writes the summary and the report. Returns the summary rows.
nlohmann::json run_sweep(const SweepConfig& config, const std::string& out_dir,
                         const SweepOptions& options);

// Rebuilds summary.csv and summary.md from DIR/runs/*; returns one JSON object per run.
nlohmann::json write_summary(const std::string& out_dir);

}  // namespace kelvin::experiments
