// Training under a softmax temperature: the loop behind `kelvin train`, sweeps and the demo.
// A run lives in one directory:
//   config.json           every setting, written first
//   metrics.json          {"status": running|complete|failed|diverged|interrupted, "init": {...},
//                          "epochs": [...], "final": {...}}, rewritten atomically each epoch
//   model.safetensors     the weights after the last finished epoch (PyTorch state_dict names)
//   optimizer.safetensors optimizer state, for --resume
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "data/host_dataset.h"
#include "experiments/run_metrics.h"
#include "models/model.h"

namespace kelvin::experiments {

struct TrainConfig {
    std::string model = "mlp";
    std::string dataset = "fashion-mnist";
    std::string data_dir;          // empty: the data set's default location
    std::string out;               // the run directory
    std::string device = "cpu";
    float temperature = 1.0f;
    int epochs = 3;
    int64_t batch_size = 128;
    std::string optimizer = "sgd"; // sgd | adamw
    float lr = 0.01f;
    float momentum = 0.9f;
    float weight_decay = 0.0f;
    std::string schedule = "constant";  // constant | step | cosine
    float warmup_epochs = 0.0f;
    uint64_t seed = 1;
    int64_t max_steps = 0;         // stop after this many optimizer steps (0: no limit)
    int64_t train_subset = 0;      // use only the first N training samples (0: all)
    int64_t eval_batch_size = 1000;
    int64_t track_every = 0;        // every K steps: rank and norm of the logits on a fixed
                                    // monitoring batch of test samples (0: off)
    int64_t track_samples = 512;    // size of that monitoring batch
    // Training augmentation, on the training batches only (data/loader.h): a random crop of the
    // image zero-padded by crop_padding pixels (0: off; below the image's height and width),
    // then a random left-right flip when flip.
    int64_t crop_padding = 0;
    bool flip = false;
    // Data-parallel runs: BatchNorm statistics of the global batch, reduced over the ranks
    // (engine/distributed/sync_batch_norm.h); false: each replica's own shard, as PyTorch's DDP.
    bool sync_batchnorm = false;
    // Data-parallel runs: a bucket of gradients is all-reduced during backward, as soon as its
    // gradients are final (engine/distributed/gradient_reducer.h); false: after backward.
    // The same results either way; only the time differs.
    bool overlap_allreduce = true;
    // Data-parallel runs: gradient bytes per all-reduce bucket (PyTorch DDP's bucket_cap_mb).
    int64_t allreduce_bucket_bytes = int64_t(8) << 20;
    models::ModelOptions model_options;
};

// config.json, both ways, from the training, data and model settings tables
// (experiments/settings_tables.h). Reading is strict: a value of the wrong type names its key;
// keys written by an older kelvin under another name (horizontal_flip) are still read.
nlohmann::json config_to_json(const TrainConfig& config);
TrainConfig config_from_json(const nlohmann::json& j);
// Throws kelvin::Error naming the first bad setting and what is allowed.
void validate_config(const TrainConfig& config);

// The model `config` describes, shaped for `data` (its classes, channels and image size).
// Throws kelvin::Error when the two do not fit: a single class, a crop padding as wide as the
// images, a ViT patch that does not divide them, ... Sweeps check every pair with it before
// anything trains.
std::unique_ptr<models::Model> build_model_for(const TrainConfig& config,
                                               const data::HostDataset& data);

struct TrainOptions {
    bool show_progress = false;    // a live bar on stderr
    bool print_epochs = true;      // one line per epoch on stderr
    bool resume = false;           // continue the run in config.out from its last checkpoint
    // Hold config.out/train.lock (engine/run_lock.h) while training, so that a second process
    // on the same run stops with the holder's name instead of writing it too.
    bool lock = true;
    // What metrics.json of an interrupted run says to run to continue it (empty:
    // "kelvin train --resume OUT"); a sweep names its own command.
    std::string resume_command;
    // Called after each optimizer step with the step count (tests interrupt runs from it).
    std::function<void(int64_t)> on_step;
};

// The lock file a training run holds in its folder.
inline constexpr const char* kTrainLockName = "train.lock";

// Runs (or resumes) a training run; returns the final metrics.json content (run_metrics.h). Errors in the
// settings or the data are thrown before the run directory is created. A signal caught by
// engine/interruption.h's handlers stops it at the next step boundary with a checkpoint of that
// exact step and status "interrupted" (returned, not thrown); resuming continues from that step,
// and the run ends bitwise identical to one never interrupted.
Metrics train(const TrainConfig& config, const TrainOptions& options);

// Reads a run directory's config.json.
TrainConfig load_run_config(const std::string& run_dir);

}  // namespace kelvin::experiments
