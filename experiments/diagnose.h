// `kelvin diagnose`: what did temperature do to this network? Loads a run's checkpoint and data
// and measures, as defined in docs/METHODS.md: the spectra and numerical ranks of the logits,
// of softmax(logits / T) and of every probe point's features; the logits norm; linear probes per
// layer on the in-distribution data (effective depth kappa) and on each OOD data set (OOD drop
// rho); OOD detection by NECO, MSP, MaxLogit and Energy (AUROC, FPR95); OrthoDev.
// Writes RUN_DIR/diagnostics.json and returns its content.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/probes.h"
#include "experiments/run_diagnostics.h"
#include "experiments/train.h"

namespace kelvin::experiments {

struct DiagnoseOptions {
    std::vector<std::string> ood;       // OOD data set specs
    std::string device;                 // empty: the run's device
    std::string ood_data_dir;           // data directory for the OOD specs (empty: defaults)
    double gamma = 1e-3;                // rank threshold: sigma_i > gamma * sigma_1
    bool center = false;                // subtract the mean row before the SVD
    int64_t max_samples = 10000;        // test samples ranked and scored (the paper's N)
    int64_t probe_train_samples = 10000;  // training samples for probes and NECO's fit
    int64_t max_features = 8192;        // conv features average-pooled down to at most this
    int neco_dim = 0;                   // principal components kept by NECO (0: classes)
    std::string neco_max_logit = "auto";  // multiply by max logit: auto (not for resnets)|yes|no
    ProbeOptions probe;
    bool show_progress = false;
};

// Measures the run in `run_dir` and writes its diagnostics.json; returns what it wrote.
Diagnostics diagnose(const std::string& run_dir, const DiagnoseOptions& options);

// Throws an Error naming the first bad option (as its command-line flag); diagnose() calls it
// first, and a sweep before anything trains.
void validate_diagnose_options(const DiagnoseOptions& options);
// validate_diagnose_options and every OOD set found and loaded (its classes present), for
// `train --diagnose` to call before training rather than after it.
void check_diagnose_inputs(const DiagnoseOptions& options);

// Makes `run_dir` a run directory for a checkpoint trained elsewhere: config.json from
// `config` (model, data set, temperature, model options) and a copy of the checkpoint as
// model.safetensors. The checkpoint must use kelvin's parameter names (PyTorch state_dict
// names of the mirrored modules; see models/*.h); BatchNorm's num_batches_tracked is ignored.
// Refuses a `run_dir` that holds a kelvin training run, whose weights it would replace.
void prepare_run_from_checkpoint(const std::string& checkpoint, TrainConfig config,
                                 const std::string& run_dir);

}  // namespace kelvin::experiments
