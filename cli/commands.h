// The commands of the kelvin tool, one struct each: `add` declares its options on the parsed
// command line (from the settings tables where a setting has one), `run` does the work once
// parsing has succeeded and returns the exit status. cli/main.cpp parses, sets up the
// instruments (trace, profile) and calls the one command given.
//
// Exit statuses: 0 done; 1 a sweep worker's run failed, or `sweep status` with unfinished runs;
// 2 an error (bad input, named); 3 a run that did not complete (diverged, or stopped with another
// rank); 128 + N stopped by signal N with a checkpoint (engine/interruption.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "experiments/demo.h"
#include "experiments/diagnose.h"
#include "experiments/settings_tables.h"
#include "experiments/slurm.h"
#include "experiments/train.h"

namespace kelvin::cli {

struct TrainCommand {
    CLI::App* app = nullptr;
    experiments::TrainConfig config;
    std::string resume_dir;
    std::vector<CLI::Option*> run_settings;  // what a resumed run takes from its config.json
    bool diagnose_after = false;
    experiments::DiagnoseOptions diagnose;

    void add(CLI::App& parent);
    int run(const experiments::InstrumentOptions& instruments);
};

struct DiagnoseCommand {
    CLI::App* app = nullptr;
    std::string run_dir;
    experiments::DiagnoseOptions options;
    std::string from_checkpoint;               // a safetensors file trained elsewhere
    experiments::TrainConfig checkpoint_config;  // its settings, given on the command line

    void add(CLI::App& parent);
    int run();
};

// `kelvin sweep` with its two subcommands, `run-one` (a worker) and `status`.
struct SweepCommand {
    CLI::App* app = nullptr;
    CLI::App* run_one_app = nullptr;
    CLI::App* status_app = nullptr;
    std::string config_path;
    std::string out = "runs/sweep";
    experiments::SlurmOptions slurm;
    std::vector<CLI::Option*> submit_options;  // the settings only --slurm takes
    std::string worker_dir;
    int64_t worker_index = -1;
    std::string status_dir;

    void add(CLI::App& parent);
    int run();

   private:
    int run_grid();
    int run_worker();
};

struct ReportCommand {
    CLI::App* app = nullptr;
    std::string dir;

    void add(CLI::App& parent);
    int run();
};

struct DemoCommand {
    CLI::App* app = nullptr;
    std::string out = "runs/demo";
    std::string device = "cpu";
    int seeds = experiments::kDemoSeeds;

    void add(CLI::App& parent);
    int run();
};

struct BenchCommand {
    CLI::App* app = nullptr;
    std::string workload = "mlp6x1024_b128";
    std::string device = "cpu";
    int steps = 20;
    int warmup = 3;
    bool list = false;

    void add(CLI::App& parent);
    int run(const experiments::InstrumentOptions& instruments);
};

}  // namespace kelvin::cli
