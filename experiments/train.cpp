#include "experiments/train.h"

#include "engine/json_errors.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "data/dataset_spec.h"
#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/distributed/data_parallel.h"
#include "engine/distributed/nccl_group.h"
#include "engine/paths.h"
#include "engine/phase_progress.h"
#include "engine/interruption.h"
#include "engine/nn/norm.h"
#include "engine/ops.h"
#include "engine/run_lock.h"
#include "engine/trace.h"
#include "engine/weights_digest.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/train_step.h"
#include "engine/optim/schedule.h"
#include "experiments/distributed_run.h"
#include "experiments/evaluate.h"
#include "experiments/progress.h"
#include "experiments/run_checkpoint.h"
#include "experiments/run_files.h"
#include "experiments/settings_tables.h"
#include "analysis/spectrum.h"
#include "kernels/cpu/cpu_isa.h"
#include "models/registry.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---- configuration ------------------------------------------------------------------------

json config_to_json(const TrainConfig& c) {
    json j = settings::write_object(c, training_settings(), settings::kRunConfig);
    j.update(settings::write_object(c, data_settings(), settings::kRunConfig));
    j["model_options"] =
        settings::write_object(c.model_options, model_settings(), settings::kRunConfig);
    return j;
}

TrainConfig config_from_json(const json& j) {
    TrainConfig c;
    settings::read_object(c, training_settings(), j, settings::kRunConfig, "");
    settings::read_object(c, data_settings(), j, settings::kRunConfig, "");
    if (j.contains("model_options")) {
        KELVIN_CHECK(j.at("model_options").is_object(),
                     "'model_options' = " + j.at("model_options").dump() + ": expected an object");
        settings::read_object(c.model_options, model_settings(), j.at("model_options"),
                              settings::kRunConfig, "model_options: ");
    }
    return c;
}

void validate_config(const TrainConfig& c) {
    settings::validate(c, training_settings());
    settings::validate(c, data_settings());
    settings::validate(c.model_options, model_settings());
    KELVIN_CHECK(!c.out.empty(), "an output directory (--out) is required");
    // Paths are recorded in JSON (UTF-8 only) and must fit the file system: checked before
    // any work rather than after the first epoch.
    require_utf8(c.out, "--out");
    require_utf8(c.data_dir, "--data-dir");
    require_name_lengths(c.out, "--out");
    const Device device = parse_device(c.device);
    KELVIN_CHECK(device == Device::CPU || cuda_available(),
                 cuda_built() ? "--device cuda: no CUDA device is available on this machine"
                              : "--device cuda: this build of kelvin has no CUDA backend");
    optim::Schedule schedule;
    schedule.kind = c.schedule;
    optim::validate(schedule);
}

std::unique_ptr<models::Model> build_model_for(const TrainConfig& config,
                                               const data::HostDataset& data) {
    // One class makes the loss 0 whatever the weights: the run would train nothing.
    KELVIN_CHECK(data.num_classes >= 2, "--dataset " + config.dataset + " has " +
                                            std::to_string(data.num_classes) +
                                            " class; a classifier needs at least 2");
    KELVIN_CHECK(config.crop_padding < std::min(data.height, data.width),
                 "--crop-padding " + std::to_string(config.crop_padding) +
                     " must be smaller than the " + std::to_string(data.height) + "x" +
                     std::to_string(data.width) + " images of " + config.dataset);
    models::ModelOptions model_options = config.model_options;
    model_options.num_classes = data.num_classes;
    model_options.in_channels = static_cast<int>(data.channels);
    model_options.in_height = static_cast<int>(data.height);
    model_options.in_width = static_cast<int>(data.width);
    model_options.seed = config.seed;
    return models::build_model(config.model, model_options);
}

TrainConfig load_run_config(const std::string& run_dir) {
    const std::string path = (fs::path(run_dir) / kConfigFile).string();
    std::ifstream in(path);
    KELVIN_CHECK(in.good(), "cannot read " + path + ": is " + run_dir + " a kelvin run directory?");
    try {
        // The same range rules as the command line and sweep.json (settings tables).
        TrainConfig config = config_from_json(json::parse(in));
        settings::validate(config, training_settings());
        settings::validate(config, data_settings());
        settings::validate(config.model_options, model_settings());
        return config;
    } catch (const json::exception& e) {
        throw Error(path + ": " + json_error_text(e));
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

// ---- the loop -------------------------------------------------------------------------------

namespace {

TestEvaluation test_record(const Evaluation& e) {
    return {e.loss, e.accuracy, e.logits_norm_mean, e.logits_norm_frobenius};
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, models::Model& model) {
    if (c.optimizer == "adamw") {
        optim::AdamWOptions o;
        o.lr = c.lr;
        o.weight_decay = c.weight_decay;
        return std::make_unique<optim::AdamW>(model.parameters(), o);
    }
    optim::SgdOptions o;
    o.lr = c.lr;
    o.momentum = c.momentum;
    o.weight_decay = c.weight_decay;
    return std::make_unique<optim::Sgd>(model.parameters(), o);
}

// How many training-mode calls each Dropout module has made: its next mask depends on it, so
// it is part of the state a resumed run must restore to match an uninterrupted one.
json dropout_calls(models::Model& model) {
    json calls = json::object();
    for (auto& [name, module] : model.named_modules())
        if (auto* dropout = dynamic_cast<nn::Dropout*>(module)) calls[name] = dropout->calls;
    return calls;
}

void restore_dropout_calls(models::Model& model, const json& calls, const std::string& what) {
    for (auto& [name, module] : model.named_modules())
        if (auto* dropout = dynamic_cast<nn::Dropout*>(module)) {
            KELVIN_CHECK(calls.contains(name), what + ": no dropout state for '" + name + "'");
            dropout->calls = calls.at(name).get<uint64_t>();
        }
}

// The tensors model.safetensors holds: parameters and buffers.
std::vector<NamedTensorRef> weights_of(models::Model& model) {
    std::vector<NamedTensorRef> weights;
    for (auto& p : model.named_parameters()) weights.push_back({p.name, *p.tensor});
    for (auto& b : model.named_buffers()) weights.push_back({b.name, *b.tensor});
    return weights;
}

// The epoch's weights, optimizer state and metrics are committed as one unit (FileGroupWriter):
// a run killed mid-write resumes from a consistent epoch, never from new weights with old state.
// `metrics` names the weights it is saved with (its "checkpoint" record, run_checkpoint.h).
// `progress` is empty at the end of an epoch; a checkpoint taken mid-epoch (on a signal) records
// there how far the epoch got and its running totals (see EpochTotals), so the resumed epoch
// continues with the next batch and reports what an uninterrupted one would.
void save_epoch(const fs::path& dir, models::Model& model, optim::Optimizer& opt,
                int64_t epochs_done, int64_t global_step, const Metrics& metrics,
                const json& progress = json()) {
    if (!writes_run_records()) return;  // rank 0's replica is every rank's
    const std::vector<NamedTensorRef> weights = weights_of(model);
    std::vector<NamedTensorRef> state;
    for (auto& [name, t] : opt.state()) state.push_back({name, *t});
    std::map<std::string, std::string> position = {
        {"epochs_done", std::to_string(epochs_done)},
        {"global_step", std::to_string(global_step)},
        {"optimizer_steps", std::to_string(opt.steps_taken())},
        {"dropout_calls", dropout_calls(model).dump()}};
    if (!progress.is_null()) position["epoch_progress"] = progress.dump();
    FileGroupWriter group(dir);
    group.add_safetensors("model.safetensors", weights,
                          {{"format", "pt"}, {"model", model.name()},
                           {"epochs_done", std::to_string(epochs_done)},
                           {"global_step", std::to_string(global_step)},
                           {"weights_digest", metrics.checkpoint.value().weights_digest}});
    group.add_safetensors("optimizer.safetensors", state, position);
    group.add_text(kMetricsFile, metrics_file_text(metrics));
    group.commit();
}

void load_into(std::vector<std::pair<std::string, Tensor*>> targets, const SafetensorsFile& file,
               const std::string& what) {
    for (auto& [name, t] : targets) {
        auto it = file.tensors.find(name);
        KELVIN_CHECK(it != file.tensors.end(), what + ": missing tensor '" + name + "'");
        KELVIN_CHECK(it->second.shape() == t->shape(),
                     what + ": tensor '" + name + "' has shape " +
                         shape_to_string(it->second.shape()) + ", expected " +
                         shape_to_string(t->shape()));
        t->copy_from(it->second);
    }
}

// The rank and norm of the logits of the fixed monitoring batch, their loss at the training
// temperature and accuracy, with the step they belong to: the step-by-step picture of the
// dynamics (at high T, a loss stuck at ln C while the norm creeps up, then the break).
TrackRecord track_record(models::Model& model, const data::Batch& monitor, float temperature,
                         int64_t step) {
    NoGradGuard no_grad;
    trace::PhaseScope phase("eval");
    const bool was_training = model.training();
    model.eval();
    Tensor logits = model.forward(monitor.images);
    model.train(was_training);
    const int64_t n = logits.size(0);
    RankReport rank = rank_report(logits, kRankGamma, false);
    double norm_sum = 0.0;
    for (float v : ops::row_norms(logits).to_vector()) norm_sum += v;
    const float loss = ops::softmax_cross_entropy(logits, monitor.labels, temperature).item();
    const int64_t correct = count_correct(logits, monitor.labels);
    return {step,
            rank.rank,
            norm_sum / n,
            rank.singular_values.empty() ? 0.0 : rank.singular_values.front(),
            loss,
            static_cast<double>(correct) / static_cast<double>(n)};
}

void write_metrics(const fs::path& dir, const Metrics& metrics) {
    if (!writes_run_records()) return;
    write_file_atomically((dir / kMetricsFile).string(), metrics_file_text(metrics));
}

}  // namespace

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// The training and test sets, the training set cut to --train-subset.
std::pair<data::HostDataset, data::HostDataset> load_run_data(const TrainConfig& config,
                                                              const TrainOptions& options) {
    const data::DatasetSpec spec = data::parse_dataset_spec(config.dataset);
    std::optional<PhaseProgress> shown;
    if (options.print_epochs) shown.emplace("loading " + config.dataset, 2, "splits");
    data::HostDataset train_set = data::load_dataset(spec, config.data_dir, true);
    if (shown) shown->advance(1);
    data::HostDataset test_set = data::load_dataset(spec, config.data_dir, false);
    if (shown) shown->advance(2);
    shown.reset();
    data::print_notes({&train_set, &test_set});
    if (config.train_subset > 0 && config.train_subset < train_set.count) {
        train_set.count = config.train_subset;
        train_set.pixels.resize(train_set.count * train_set.image_size());
        train_set.labels.resize(train_set.count);
    }
    if (config.batch_size > train_set.count && !options.resume)
        std::fprintf(stderr,
                     "note: --batch-size %lld is larger than the %lld training samples: each epoch "
                     "is one step on all of them\n",
                     static_cast<long long>(config.batch_size),
                     static_cast<long long>(train_set.count));
    return {std::move(train_set), std::move(test_set)};
}

data::LoaderOptions training_loading(const TrainConfig& config, Device device) {
    data::LoaderOptions o;
    o.batch_size = config.batch_size;
    o.seed = config.seed;
    o.device = device;
    o.crop_padding = config.crop_padding;
    o.horizontal_flip = config.flip;
    o.shard = distributed::world().rank();
    o.shards = distributed::world().world_size();
    return o;
}

// Evaluation: the training set's normalisation, no augmentation, a fixed order.
data::LoaderOptions evaluation_loading(const TrainConfig& config, data::LoaderOptions o) {
    o.crop_padding = 0;  // evaluation sees the images as they are
    o.horizontal_flip = false;
    o.batch_size = config.eval_batch_size;
    o.shuffle = false;
    o.shard = 0;  // rank 0 evaluates the whole test set
    o.shards = 1;
    return o;
}

optim::Schedule make_schedule(const TrainConfig& config, int64_t steps_per_epoch,
                              int64_t total_steps) {
    optim::Schedule schedule;
    schedule.kind = config.schedule;
    schedule.base_lr = config.lr;
    schedule.total_steps = total_steps;
    schedule.warmup_steps = static_cast<int64_t>(config.warmup_epochs * steps_per_epoch);
    schedule.step_size = std::max<int64_t>(1, steps_per_epoch * std::max(1, config.epochs / 3));
    return schedule;
}

// BatchNorm cannot normalise a batch of one sample: found here rather than at the end of the
// first epoch (the last batch holds what the batch size leaves over).
void check_batch_norm_batches(const TrainConfig& config, models::Model& model,
                              int64_t train_count, int64_t steps_per_epoch, int64_t total_steps) {
    const int64_t last_batch = train_count - (steps_per_epoch - 1) * config.batch_size;
    const int64_t smallest_batch = total_steps >= steps_per_epoch
                                       ? last_batch
                                       : std::min<int64_t>(config.batch_size, train_count);
    bool has_batch_norm = false;
    for (auto& [name, module] : model.named_modules())
        has_batch_norm = has_batch_norm || dynamic_cast<nn::BatchNorm2d*>(module) != nullptr;
    KELVIN_CHECK(!has_batch_norm || smallest_batch > 1,
                 config.model + " has BatchNorm, which needs at least 2 samples per batch, but " +
                     (config.batch_size == 1
                          ? std::string("--batch-size is 1")
                          : "the last batch of each epoch holds 1 sample (" +
                                std::to_string(train_count) + " training samples, --batch-size " +
                                std::to_string(config.batch_size) + ")") +
                     "; choose another --batch-size or --train-subset");
    const int ranks = distributed::world().world_size();
    // Data-parallel runs: per-replica statistics need 2 samples on every rank.
    KELVIN_CHECK(!has_batch_norm || ranks == 1 ||
                     smallest_normalised_batch(config, smallest_batch) > 1,
                 config.model + " has BatchNorm, which needs at least 2 samples per batch, but the "
                     "smallest batch (" + std::to_string(smallest_batch) + " samples) gives each "
                     "of the " + std::to_string(ranks) + " ranks fewer; use --sync-batchnorm, or "
                     "choose another --batch-size or --train-subset");
}

// The running totals of an epoch's training steps; `interrupted` when a signal stopped it at a
// step boundary (engine/interruption.h).
struct EpochTotals {
    double loss_sum = 0.0;
    int64_t correct = 0, seen = 0, steps = 0;
    double seconds = 0.0;  // spent on this epoch's steps before a mid-epoch checkpoint
    bool diverged = false, interrupted = false;
    float diverged_loss = 0.0f;
};

// A mid-epoch checkpoint's record of the epoch so far, and back. Doubles survive JSON exactly
// (nlohmann writes the shortest text that reads back), so a resumed epoch's train_loss is
// bitwise the uninterrupted one's.
json progress_json(const EpochTotals& t, int64_t epoch) {
    return {{"epoch", epoch}, {"batches_done", t.steps}, {"loss_sum", t.loss_sum},
            {"correct", t.correct}, {"seen", t.seen}, {"seconds", t.seconds}};
}

EpochTotals totals_from_progress(const json& p, const std::string& what) {
    EpochTotals t;
    try {
        t.steps = p.at("batches_done").get<int64_t>();
        t.loss_sum = p.at("loss_sum").get<double>();
        t.correct = p.at("correct").get<int64_t>();
        t.seen = p.at("seen").get<int64_t>();
        t.seconds = p.value("seconds", 0.0);
    } catch (const json::exception& e) {
        throw Error(what + ": epoch_progress: " + json_error_text(e));
    }
    return t;
}

// Where a resumed run continues: the first epoch not finished, the optimizer step, and (after
// a mid-epoch checkpoint) how far into that epoch it had got.
struct RunPosition {
    int64_t first_epoch = 0, global_step = 0;
    std::string weights_digest;  // of the weights at that point ("" at initialisation)
    EpochTotals epoch_so_far;
};

// Whether --resume finds a run to continue in `dir` (one killed before its first metrics has
// nothing to lose and starts over).
bool can_resume(const fs::path& dir) {
    KELVIN_CHECK(fs::is_directory(dir), "--resume: " + dir.string() + " is not a folder");
    recover_file_group(dir);
    const bool resuming = fs::exists(dir / kMetricsFile);
    if (!resuming)
        std::fprintf(stderr, "%s: no metrics.json yet, so training starts from the beginning\n",
                     dir.string().c_str());
    return resuming;
}

Metrics read_resumed_metrics(const fs::path& dir) {
    std::ifstream in(dir / kMetricsFile);
    KELVIN_CHECK(in.good(), "--resume: cannot read " + (dir / kMetricsFile).string());
    json metrics;
    try {
        metrics = json::parse(in);
    } catch (const json::exception& e) {
        throw Error("--resume: " + (dir / kMetricsFile).string() + ": " + json_error_text(e));
    }
    try {
        check_metrics_shape(metrics, dir / kMetricsFile);
    } catch (const Error& e) {
        throw Error(std::string("--resume: ") + e.what());
    }
    return metrics_from_json(metrics);
}

// The checkpoint a resumed run continues from must be there whenever metrics.json records a
// finished epoch: without it, training would start again from epoch 0 and overwrite them.
void check_checkpoint_present(const fs::path& dir, const Metrics& metrics) {
    const size_t epochs = metrics.epochs.size();
    for (const char* file : {"model.safetensors", "optimizer.safetensors"})
        KELVIN_CHECK(epochs == 0 || fs::exists(dir / file),
                     "--resume: " + (dir / kMetricsFile).string() + " records " +
                         std::to_string(epochs) + " finished epoch" + (epochs == 1 ? "" : "s") +
                         " but " + (dir / file).string() +
                         " is missing; restore it to continue, or start a new run with another "
                         "--out (nothing was changed)");
}

// metrics.json and the checkpoint are committed together, so they agree on the epoch; files
// that do not (edited, or copied from two runs) are refused rather than merged.
void check_records_match(const fs::path& dir, const Metrics& metrics, int64_t epochs_done) {
    int64_t recorded = 0;
    for (const EpochRecord& e : metrics.epochs)
        if (e.epoch <= epochs_done) ++recorded;
    KELVIN_CHECK(recorded == epochs_done,
                 "--resume: the checkpoint in " + dir.string() + " holds epoch " +
                     std::to_string(epochs_done) + " but " + (dir / kMetricsFile).string() +
                     " records " + std::to_string(recorded) + " of its epochs; the files do not "
                     "belong together (nothing was changed)");
}

// Weights, optimizer state and dropout calls of the last finished epoch, into model and
// optimizer; returns the epoch and step they belong to.
RunPosition load_checkpoint(const fs::path& dir, models::Model& model, optim::Optimizer& optimizer) {
    RunPosition at;
    const fs::path weights_path = dir / "model.safetensors", state_path = dir / "optimizer.safetensors";
    SafetensorsFile weights = load_safetensors(weights_path.string());
    std::vector<std::pair<std::string, Tensor*>> targets;
    for (auto& p : model.named_parameters()) targets.emplace_back(p.name, p.tensor);
    for (auto& b : model.named_buffers()) targets.emplace_back(b.name, b.tensor);
    load_into(targets, weights, (dir / "model.safetensors").string());
    SafetensorsFile state = load_safetensors((dir / "optimizer.safetensors").string());
    load_into(optimizer.state(), state, (dir / "optimizer.safetensors").string());
    at.first_epoch = metadata_integer(state, "epochs_done", state_path);
    // Checkpoints from before group commits carry no epoch in the weights file.
    auto weights_epoch = weights.metadata.find("epochs_done");
    KELVIN_CHECK(weights_epoch == weights.metadata.end() ||
                     metadata_integer(weights, "epochs_done", weights_path) == at.first_epoch,
                 "--resume: " + dir.string() + " holds weights of epoch " +
                     (weights_epoch == weights.metadata.end() ? "" : weights_epoch->second) +
                     " but optimizer state of epoch " + std::to_string(at.first_epoch) +
                     "; the checkpoint is inconsistent");
    at.global_step = metadata_integer(state, "global_step", state_path);
    auto progress = state.metadata.find("epoch_progress");
    if (progress != state.metadata.end()) {
        const json record = json::parse(progress->second, nullptr, false);
        KELVIN_CHECK(record.is_object(), state_path.string() +
                                             ": metadata 'epoch_progress' is not a JSON object");
        at.epoch_so_far = totals_from_progress(record, state_path.string());
    }
    optimizer.set_steps_taken(metadata_integer(state, "optimizer_steps", state_path));
    // Checkpoints from before dropout state was saved carry none (models without dropout need
    // none).
    auto dropout_state = state.metadata.find("dropout_calls");
    if (dropout_state != state.metadata.end()) {
        const json calls = json::parse(dropout_state->second, nullptr, false);
        KELVIN_CHECK(calls.is_object(), state_path.string() + ": metadata 'dropout_calls' is not "
                                        "a JSON object of counts");
        try {
            restore_dropout_calls(model, calls, state_path.string());
        } catch (const json::exception& e) {
            throw Error(state_path.string() + ": metadata 'dropout_calls': " + json_error_text(e));
        }
    }
    at.weights_digest = weights_digest(weights.tensors);
    return at;
}

// Epoch and track records past the checkpoint (none, normally) are redone.
void drop_records_after(Metrics& metrics, const RunPosition& at) {
    auto& epochs = metrics.epochs;
    epochs.erase(std::remove_if(epochs.begin(), epochs.end(),
                                [&](const EpochRecord& e) { return e.epoch > at.first_epoch; }),
                 epochs.end());
    if (!metrics.track) return;
    auto& track = *metrics.track;
    track.erase(std::remove_if(track.begin(), track.end(),
                               [&](const TrackRecord& t) { return t.step > at.global_step; }),
                track.end());
}

// A new run: config.json (with the input normalisation the model is trained with, so that
// diagnostics reproduce it) and metrics.json with the evaluation at initialisation.
Metrics start_run(const TrainConfig& config, const fs::path& dir, models::Model& model,
                  const data::LoaderOptions& train_loading, data::BatchLoader& test_loader,
                  bool show_phases) {
    Metrics metrics;
    metrics.status = kStatusRunning;
    if (!writes_run_records()) return metrics;
    // Never overwrite a run: its checkpoint and metrics may be all a researcher has of it.
    KELVIN_CHECK(!fs::exists(dir / kMetricsFile),
                 config.out + " already holds a run (metrics.json); continue it with --resume " +
                     config.out + ", or choose another --out");
    fs::create_directories(dir);
    json written = config_to_json(config);
    written["normalization"] = {{"mean", train_loading.mean}, {"std", train_loading.std}};
    // Which CPU kernels ran (kernels/cpu/cpu_isa.h): avx512, avx2 or generic.
    written["cpu_isa"] = cpu::isa_name(cpu::active_isa());
    // The ranks of a data-parallel run (1: one process); --resume needs the same number.
    written["world_size"] = distributed::world().world_size();
    write_file_atomically((dir / kConfigFile).string(), written.dump(2) + "\n");
    metrics.init = test_record(evaluate(model, test_loader, config.temperature,
                                        show_phases ? "evaluation at initialisation" : ""));
    write_metrics(dir, metrics);
    return metrics;
}

// Everything one epoch's training needs and changes.
struct EpochLoop {
    const TrainConfig& config;
    models::Model& model;
    optim::Optimizer& optimizer;
    const optim::Schedule& schedule;
    data::BatchLoader& loader;
    const data::Batch& monitor;
    Device device;
    int64_t total_steps;
    int64_t& global_step;
    Metrics& metrics;
    const std::function<void(int64_t)>& on_step;
    distributed::DataParallel& parallel;
};

// The steps of one epoch (until the loader or the step budget ends, the loss diverges, or a
// signal asks to stop), continuing `so_far` (a mid-epoch checkpoint's totals; empty otherwise).
EpochTotals train_epoch(EpochLoop& loop, int64_t epoch, int64_t steps_per_epoch, bool bar,
                        const EpochTotals& so_far) {
    const auto epoch_start = Clock::now();
    const TrainConfig& config = loop.config;
    loop.model.train();
    loop.loader.start_epoch(epoch, so_far.steps);
    ProgressBar progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config.epochs),
                         std::min(steps_per_epoch - so_far.steps, loop.total_steps - loop.global_step),
                         bar);
    EpochTotals totals = so_far;
    const int64_t first_step = so_far.steps;
    data::Batch batch;
    while (loop.global_step < loop.total_steps) {
        // The step boundary: a signal only set a flag (engine/interruption.h); stop here, on
        // every rank at the same step when any rank got the signal.
        if (stop_requested_on_any_rank()) {
            totals.interrupted = true;
            break;
        }
        if (!loop.loader.next(batch)) break;
        trace::Scope step_scope("train_step", "step", loop.device);
        loop.optimizer.set_lr(loop.schedule.lr_at(loop.global_step));
        const optim::StepResult step = optim::train_step(
            [&](const Tensor& x) { return loop.model.forward(x); }, loop.optimizer, batch.images,
            batch.labels, config.temperature, true,
            loop.parallel.step_hooks(batch.labels.numel(), batch.global_size));
        if (!step.stepped) {
            progress.finish();
            totals.diverged = true;
            totals.diverged_loss = step.loss_value;
            return totals;
        }
        const int64_t n = batch.labels.numel();
        totals.correct += count_correct(step.logits.detach(), batch.labels);
        totals.loss_sum += double(step.loss_value) * n;
        totals.seen += n;
        ++totals.steps;
        ++loop.global_step;
        if (loop.on_step) loop.on_step(loop.global_step);
        if (config.track_every > 0 && loop.global_step % config.track_every == 0 &&
            writes_run_records())
            loop.metrics.track->push_back(
                track_record(loop.model, loop.monitor, config.temperature, loop.global_step));
        if (bar) {
            char status[128];
            std::snprintf(status, sizeof status, "loss %.4f  %.0f samples/s",
                          totals.loss_sum / totals.seen,
                          totals.seen / std::max(seconds_since(epoch_start), 1e-9));
            progress.update(totals.steps - first_step, status);
        }
    }
    progress.finish();
    totals.seconds = so_far.seconds + seconds_since(epoch_start);
    // so_far (a mid-epoch checkpoint's) is already every rank's; the rest is this rank's own.
    sum_epoch_totals(totals.loss_sum, totals.correct, totals.seen, so_far.loss_sum,
                     so_far.correct, so_far.seen);
    return totals;
}

EpochRecord epoch_record(const Evaluation& test, const EpochTotals& t, int64_t epoch, float lr,
                         double seconds, double train_seconds) {
    EpochRecord record;
    record.test = test_record(test);
    record.epoch = epoch + 1;
    record.steps = t.steps;
    record.train_loss = t.seen ? t.loss_sum / t.seen : 0.0;
    record.train_acc = t.seen ? double(t.correct) / t.seen : 0.0;
    record.lr = lr;
    record.seconds = seconds;
    record.train_seconds = train_seconds;
    record.samples_per_second = t.seen / std::max(train_seconds, 1e-9);
    return record;
}

void mark_diverged(Metrics& metrics, const fs::path& dir, int64_t step, float loss, int rank) {
    metrics.status = kStatusDiverged;
    metrics.diverged_at_step = step;
    // The loss of the first rank whose loss was not finite (the others' may be finite).
    const bool mine = rank < 0 || rank == distributed::world().rank();
    metrics.diverged_loss = !mine ? "not finite" : std::isnan(loss) ? "nan" : "inf";
    if (rank >= 0) metrics.diverged_rank = rank;
    write_metrics(dir, metrics);
    if (!writes_run_records()) return;
    std::fprintf(stderr, "diverged at step %lld (loss %s%s)\n", static_cast<long long>(step),
                 metrics.diverged_loss->c_str(),
                 rank < 0 ? "" : (" on rank " + std::to_string(rank)).c_str());
}

// metrics.json of a run that failed: only what the checkpoint on disk holds (an epoch whose
// weights could not be saved is not claimed), the status and the error. If even this write
// fails (the disk is full), the error is still thrown to the user.
void record_failure(const fs::path& dir, Metrics& metrics, const RunPosition& saved,
                    const std::optional<CheckpointRecord>& saved_checkpoint,
                    const std::string& error) {
    drop_records_after(metrics, saved);
    metrics.checkpoint = saved_checkpoint;
    metrics.status = kStatusFailed;
    metrics.error = error;
    try {
        write_metrics(dir, metrics);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "note: could not record the failure in %s either: %s\n",
                     (dir / kMetricsFile).string().c_str(), e.what());
    }
}

// A signal stopped the run at a step boundary: one group commit of the weights, the optimizer
// state, the data position and metrics.json with status "interrupted" and how to resume.
void save_interrupted(const fs::path& dir, models::Model& model, optim::Optimizer& optimizer,
                      const EpochTotals& totals, int64_t epoch, int64_t global_step, Metrics& metrics,
                      const std::string& resume_command) {
    const StopCause cause = stop_cause();  // another rank's signal when this rank got none
    const int signal = cause.signal;
    metrics.status = kStatusInterrupted;
    metrics.interrupted =
        InterruptionRecord{signal_name(signal), epoch + 1, totals.steps, global_step, resume_command};
    metrics.checkpoint = checkpoint_record(epoch, global_step, weights_digest(weights_of(model)));
    save_epoch(dir, model, optimizer, epoch, global_step, metrics, progress_json(totals, epoch));
    if (!writes_run_records()) return;
    const std::string where = distributed::world().world_size() == 1
                                  ? ""
                                  : " (sent to rank " + std::to_string(cause.rank) + ")";
    std::fprintf(stderr,
                 "%s: interrupted by %s%s at step %lld (epoch %lld, batch %lld): checkpoint "
                 "written; resume with: %s\n",
                 dir.string().c_str(), signal_name(signal), where.c_str(),
                 static_cast<long long>(global_step),
                 static_cast<long long>(epoch + 1), static_cast<long long>(totals.steps),
                 resume_command.c_str());
}

// The run folder's lock (engine/run_lock.h), taken before anything in it is read or written;
// a new run's folder is created for it.
std::optional<RunLock> lock_run_dir(const fs::path& dir, const TrainOptions& options) {
    // Rank 0 holds a data-parallel run's lock for all its ranks (it alone writes the folder).
    if (!options.lock || !writes_run_records()) return std::nullopt;
    if (!options.resume) fs::create_directories(dir);
    KELVIN_CHECK(fs::is_directory(dir), "--resume: " + dir.string() + " is not a folder");
    RunLockOptions lock_options;
    lock_options.command = "kelvin train --out " + dir.string();
    RunLock lock = RunLock::acquire(dir / kTrainLockName, lock_options);
    if (!lock.takeover_note().empty()) std::fprintf(stderr, "%s\n", lock.takeover_note().c_str());
    return lock;
}

FinalRecord final_record(const Metrics& metrics, int64_t global_step, double run_seconds) {
    KELVIN_CHECK(!metrics.epochs.empty(),
                 "training ended without finishing an epoch (no epoch record to report)");
    const EpochRecord& last = metrics.epochs.back();
    FinalRecord f;
    f.epochs_done = last.epoch;
    f.step = last.step.value_or(global_step);
    f.weights_digest = last.weights_digest.value_or("");
    f.test_acc = last.test.test_acc;
    f.test_loss = last.test.test_loss;
    f.train_acc = last.train_acc;
    f.train_loss = last.train_loss;
    f.logits_norm = last.test.logits_norm;
    f.logits_norm_init = metrics.init ? metrics.init->logits_norm : kNoValue;
    f.steps = global_step;
    f.seconds = run_seconds;
    return f;
}

// The records of a run that --resume continues, checked against its checkpoint, which is loaded
// into model and optimizer; `at` is where it continues. A complete run's are returned as they are.
Metrics resume_records(const fs::path& dir, models::Model& model, optim::Optimizer& optimizer,
                       const optim::Schedule& schedule, RunPosition& at) {
    check_resumed_world_size(dir);
    Metrics metrics = read_resumed_metrics(dir);
    if (metrics.status == kStatusComplete) return metrics;
    check_checkpoint_present(dir, metrics);
    if (fs::exists(dir / "model.safetensors")) at = load_checkpoint(dir, model, optimizer);
    check_records_match(dir, metrics, at.first_epoch);
    // The learning rate of the last step taken: an epoch record reports it, and an epoch
    // interrupted after its last batch resumes straight into its evaluation.
    if (at.global_step > 0) optimizer.set_lr(schedule.lr_at(at.global_step - 1));
    drop_records_after(metrics, at);
    metrics.error.reset();  // a failure this resume recovers from is no longer the state
    if (fs::exists(dir / kDiagnosticsFile))
        std::fprintf(stderr,
                     "note: %s describes the weights this run had before it resumed; once "
                     "it trains on, the summary and the report will not show it (a sweep "
                     "recomputes it; otherwise run kelvin diagnose again)\n",
                     (dir / kDiagnosticsFile).string().c_str());
    return metrics;
}

// The monitoring batch of --track-every, and metrics.json's "track" with its step-0 record.
data::Batch start_tracking(const TrainConfig& config, models::Model& model,
                           data::BatchLoader& test_loader, const RunPosition& at,
                           Metrics& metrics) {
    data::Batch monitor = test_loader.fixed_batch(config.track_samples);
    if (!metrics.track) metrics.track.emplace();
    // Step 0 once: a run resumed before its first checkpoint already holds that record.
    if (at.global_step == 0 && metrics.track->empty() && writes_run_records())
        metrics.track->push_back(track_record(model, monitor, config.temperature, 0));
    return monitor;
}

// A finished epoch's record into metrics.json, committed with the weights it names; returns it.
const EpochRecord& commit_epoch(const fs::path& dir, models::Model& model,
                                optim::Optimizer& optimizer, Metrics& metrics, EpochRecord record,
                                int64_t global_step) {
    // The record names the weights it measured; metrics.json claims the epoch only once those
    // weights are saved (train's catch takes it back otherwise).
    const std::string digest = weights_digest(weights_of(model));
    record.step = global_step;
    record.weights_digest = digest;
    metrics.epochs.push_back(record);
    metrics.checkpoint = checkpoint_record(record.epoch, global_step, digest);
    save_epoch(dir, model, optimizer, record.epoch, global_step, metrics);
    return metrics.epochs.back();
}

// The loop stopped inside an epoch: the loss diverged, or a signal asked it to stop (a
// checkpoint of that step).
void record_stop(EpochLoop& loop, const fs::path& dir, const EpochTotals& totals, int64_t epoch,
                 const std::string& resume_command) {
    if (totals.diverged)
        mark_diverged(loop.metrics, dir, loop.global_step, totals.diverged_loss,
                      loop.parallel.nonfinite_rank());
    else
        save_interrupted(dir, loop.model, loop.optimizer, totals, epoch, loop.global_step,
                         loop.metrics, resume_command);
}

// The time of the epochs metrics.json already records (a resumed run's).
double recorded_seconds(const Metrics& metrics) {
    double seconds = 0.0;
    for (const EpochRecord& e : metrics.epochs) seconds += std::isnan(e.seconds) ? 0.0 : e.seconds;
    return seconds;
}

// After an epoch's steps: its evaluation (by rank 0, whose replica equals every other:
// docs/CLUSTER.md), its record committed with the weights, and its line on stderr.
const EpochRecord& finish_epoch(EpochLoop& loop, const fs::path& dir,
                                data::BatchLoader& test_loader, const TrainOptions& options,
                                const EpochTotals& totals, int64_t epoch,
                                Clock::time_point eval_start) {
    const TrainConfig& config = loop.config;
    const double train_seconds = totals.seconds;
    const Evaluation test =
        writes_run_records()
            ? evaluate(loop.model, test_loader, config.temperature,
                       options.print_epochs ? "evaluation after epoch " + std::to_string(epoch + 1) : "")
            : Evaluation{};
    const double seconds = train_seconds + seconds_since(eval_start);
    const EpochRecord& record =
        commit_epoch(dir, loop.model, loop.optimizer, loop.metrics,
                     epoch_record(test, totals, epoch, loop.optimizer.lr(), seconds, train_seconds),
                     loop.global_step);
    if (options.print_epochs && writes_run_records())
        std::fprintf(stderr,
                     "epoch %lld/%d  train_loss %.4f  train_acc %.4f  test_acc %.4f  "
                     "logits_norm %.3f  %.1fs\n",
                     static_cast<long long>(epoch + 1), config.epochs, record.train_loss,
                     record.train_acc, test.accuracy, test.logits_norm_mean, seconds);
    return record;
}

// `reducer`: the data-parallel run's gradient all-reduce (null with one rank), whose time not
// hidden behind backward (waits for slower ranks included), buckets and buckets started during
// backward in this session on rank 0 go into final.
void finish_run(const fs::path& dir, Metrics& metrics, int64_t global_step, double run_seconds,
                const distributed::GradientReducer* reducer) {
    if (writes_run_records()) {
        metrics.final = final_record(metrics, global_step, run_seconds);
        if (reducer) {
            metrics.final->allreduce_seconds = reducer->allreduce_seconds();
            metrics.final->allreduce_buckets = reducer->bucket_count();
            metrics.final->allreduce_buckets_in_backward = reducer->buckets_started_early();
        }
    }
    metrics.status = kStatusComplete;
    write_metrics(dir, metrics);
}

}  // namespace

Metrics train(const TrainConfig& config, const TrainOptions& options) {
    validate_config(config);
    const Device device = parse_device(config.device);
    // Before anything is allocated on a GPU: this rank's (node-local rank -> device).
    distributed::use_local_gpu(device, distributed::world());
    // Everything that can fail on bad input happens before the run directory is touched.
    auto [train_set, test_set] = load_run_data(config, options);
    std::unique_ptr<models::Model> model = build_model_for(config, train_set);
    model->to(device);
    std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(config, *model);
    data::BatchLoader train_loader(train_set, training_loading(config, device));
    data::BatchLoader test_loader(test_set, evaluation_loading(config, train_loader.options()));
    const int64_t steps_per_epoch = train_loader.batches_per_epoch();
    int64_t total_steps = steps_per_epoch * config.epochs;
    if (config.max_steps > 0) total_steps = std::min(total_steps, config.max_steps);
    const optim::Schedule schedule = make_schedule(config, steps_per_epoch, total_steps);
    check_data_parallel(config, train_set.count, steps_per_epoch, total_steps);
    check_batch_norm_batches(config, *model, train_set.count, steps_per_epoch, total_steps);
    synchronise_batch_norm(config, *model);

    const fs::path dir(config.out);
    const std::optional<RunLock> lock = lock_run_dir(dir, options);
    const std::string resume_command =
        launcher_prefix() + (options.resume_command.empty() ? "kelvin train --resume " + config.out
                                                           : options.resume_command);
    Metrics metrics;
    RunPosition at;
    // Rank 0 alone repairs the run directory; the others read it once it has.
    if (options.resume && decided_by_rank_zero([&] { return can_resume(dir); })) {
        metrics = resume_records(dir, *model, *optimizer, schedule, at);
        if (metrics.status == kStatusComplete) return metrics;
    } else {
        metrics = start_run(config, dir, *model, train_loader.options(), test_loader,
                            options.print_epochs);
    }
    metrics.status = kStatusRunning;
    metrics.interrupted.reset();  // this run goes on; the record of the pause is not a result
    data::Batch monitor;
    if (config.track_every > 0) monitor = start_tracking(config, *model, test_loader, at, metrics);

    double run_seconds = recorded_seconds(metrics);
    int64_t global_step = at.global_step;
    RunPosition saved = at;  // what the checkpoint on disk holds
    std::optional<CheckpointRecord> saved_checkpoint = metrics.checkpoint;
    std::vector<Tensor*> buffers;
    for (auto& b : model->named_buffers()) buffers.push_back(b.tensor);
    distributed::DataParallel parallel(model->parameters(), buffers, distributed::world(),
                                       !config.sync_batchnorm, config.overlap_allreduce,
                                       config.allreduce_bucket_bytes);
    parallel.broadcast_from_root();
    EpochLoop loop{config,      *model,      *optimizer,  schedule, train_loader,
                   monitor,     device,      total_steps, global_step, metrics,
                   options.on_step, parallel};
    try {
        for (int64_t epoch = at.first_epoch; epoch < config.epochs && global_step < total_steps;
             ++epoch) {
            const auto eval_start = Clock::now();
            const EpochTotals totals =
                train_epoch(loop, epoch, steps_per_epoch, options.show_progress,
                            epoch == at.first_epoch ? at.epoch_so_far : EpochTotals{});
            if (totals.diverged || totals.interrupted) {
                record_stop(loop, dir, totals, epoch, resume_command);
                return metrics;
            }
            parallel.check_replicas_agree();
            const EpochRecord& record =
                finish_epoch(loop, dir, test_loader, options, totals, epoch, eval_start);
            run_seconds += record.seconds;
            saved = {epoch + 1, global_step, *record.weights_digest};
            saved_checkpoint = metrics.checkpoint;
        }
    } catch (const std::exception& e) {
        record_failure(dir, metrics, saved, saved_checkpoint, e.what());
        throw;
    }
    finish_run(dir, metrics, global_step, run_seconds,
               distributed::world().world_size() > 1 ? &parallel.reducer() : nullptr);
    return metrics;
}

}  // namespace kelvin::experiments
