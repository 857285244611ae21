// The settings of kelvin, one table per group (see experiments/settings.h for what an entry
// carries and what is generated from it):
//   training  TrainConfig: the run, the optimiser and its schedule, tracking
//   data      TrainConfig: the data set, its subset and augmentation, evaluation batches
//   model     models::ModelOptions: the architecture's options (config.json's model_options)
//   diagnose  DiagnoseOptions: ranks, probes and OOD detection
//   sweep     SweepConfig: the grid's lists (models, temperatures, seeds, ...) and `diagnose`
//   slurm     SlurmOptions: a sweep as a Slurm job array (command line only)
//   instruments  InstrumentOptions: traces, the roofline profile and the CUDA conv backend of
//             train and bench (command line only: they change how a run is watched or which
//             library computes a convolution, not what the run is)
#pragma once

#include <string>
#include <vector>

#include "experiments/settings.h"
#include "experiments/slurm.h"
#include "experiments/sweep.h"

namespace kelvin::experiments {

struct InstrumentOptions {
    std::string trace;                    // a Chrome trace file (empty: none)
    bool profile = false;                 // print the roofline table
    std::string profile_json;             // also write it here
    std::string conv_backend = "kelvin";  // kelvin | cudnn (bench also: both)
};

const std::vector<settings::Setting<TrainConfig>>& training_settings();
const std::vector<settings::Setting<TrainConfig>>& data_settings();
const std::vector<settings::Setting<models::ModelOptions>>& model_settings();
const std::vector<settings::Setting<DiagnoseOptions>>& diagnose_settings();
const std::vector<settings::Setting<SweepConfig>>& sweep_settings();
const std::vector<settings::Setting<SlurmOptions>>& slurm_settings();
const std::vector<settings::Setting<InstrumentOptions>>& instrument_settings();

// Every key a sweep configuration accepts, in table order.
std::vector<std::string> sweep_keys();

// docs/SETTINGS.md: every setting of every group with its flag, key, default and help.
std::string settings_markdown();

}  // namespace kelvin::experiments
