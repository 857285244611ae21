#include "experiments/train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "data/dataset_spec.h"
#include "data/loader.h"
#include "engine/checkpoint.h"
#include "engine/nn/norm.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "experiments/evaluate.h"
#include "experiments/progress.h"
#include "experiments/spectrum.h"
#include "models/registry.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---- configuration ------------------------------------------------------------------------

json config_to_json(const TrainConfig& c) {
    const auto& m = c.model_options;
    return {{"model", c.model},
            {"dataset", c.dataset},
            {"data_dir", c.data_dir},
            {"out", c.out},
            {"device", c.device},
            {"temperature", c.temperature},
            {"epochs", c.epochs},
            {"batch_size", c.batch_size},
            {"optimizer", c.optimizer},
            {"lr", c.lr},
            {"momentum", c.momentum},
            {"weight_decay", c.weight_decay},
            {"schedule", c.schedule},
            {"warmup_epochs", c.warmup_epochs},
            {"seed", c.seed},
            {"max_steps", c.max_steps},
            {"train_subset", c.train_subset},
            {"eval_batch_size", c.eval_batch_size},
            {"track_every", c.track_every},
            {"track_samples", c.track_samples},
            {"crop_padding", c.crop_padding},
            {"horizontal_flip", c.horizontal_flip},
            {"model_options",
             {{"depth", m.depth},
              {"width", m.width},
              {"activation", m.activation},
              {"init_scale", m.init_scale},
              {"head_norm", m.head_norm},
              {"norm", m.norm},
              {"base_width", m.base_width},
              {"stem", m.stem},
              {"patch", m.patch},
              {"vit_width", m.vit_width},
              {"vit_depth", m.vit_depth},
              {"vit_heads", m.vit_heads},
              {"vit_mlp_ratio", m.vit_mlp_ratio},
              {"vit_dropout", m.vit_dropout}}}};
}

TrainConfig config_from_json(const json& j) {
    TrainConfig c;
    // nlohmann's type errors do not say which key was wrong.
    auto get = [&j](const char* key, auto& field) {
        if (!j.contains(key)) return;
        try {
            field = j.at(key).get<std::decay_t<decltype(field)>>();
        } catch (const json::exception& e) {
            throw Error(std::string("'") + key + "' = " + j.at(key).dump() + ": " + e.what());
        }
    };
    get("model", c.model);
    get("dataset", c.dataset);
    get("data_dir", c.data_dir);
    get("out", c.out);
    get("device", c.device);
    get("temperature", c.temperature);
    get("epochs", c.epochs);
    get("batch_size", c.batch_size);
    get("optimizer", c.optimizer);
    get("lr", c.lr);
    get("momentum", c.momentum);
    get("weight_decay", c.weight_decay);
    get("schedule", c.schedule);
    get("warmup_epochs", c.warmup_epochs);
    get("seed", c.seed);
    get("max_steps", c.max_steps);
    get("train_subset", c.train_subset);
    get("eval_batch_size", c.eval_batch_size);
    get("track_every", c.track_every);
    get("track_samples", c.track_samples);
    get("crop_padding", c.crop_padding);
    get("horizontal_flip", c.horizontal_flip);
    if (j.contains("model_options")) {
        const json& m = j.at("model_options");
        auto& o = c.model_options;
        if (m.contains("depth")) o.depth = m.at("depth").get<int>();
        if (m.contains("width")) o.width = m.at("width").get<int>();
        if (m.contains("activation")) o.activation = m.at("activation").get<std::string>();
        if (m.contains("init_scale")) o.init_scale = m.at("init_scale").get<float>();
        if (m.contains("head_norm")) o.head_norm = m.at("head_norm").get<std::string>();
        if (m.contains("norm")) o.norm = m.at("norm").get<std::string>();
        auto get_model = [&m](const char* key, auto& field) {
            if (m.contains(key)) field = m.at(key).get<std::decay_t<decltype(field)>>();
        };
        get_model("base_width", o.base_width);
        get_model("stem", o.stem);
        get_model("patch", o.patch);
        get_model("vit_width", o.vit_width);
        get_model("vit_depth", o.vit_depth);
        get_model("vit_heads", o.vit_heads);
        get_model("vit_mlp_ratio", o.vit_mlp_ratio);
        get_model("vit_dropout", o.vit_dropout);
    }
    return c;
}

namespace {
std::string format_number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}
}  // namespace

void validate_config(const TrainConfig& c) {
    KELVIN_CHECK(c.temperature > 0 && std::isfinite(c.temperature),
                 "--temperature must be a positive number, got " + format_number(c.temperature));
    KELVIN_CHECK(c.batch_size > 0,
                 "--batch-size must be at least 1, got " + std::to_string(c.batch_size));
    KELVIN_CHECK(c.epochs >= 1, "--epochs must be at least 1, got " + std::to_string(c.epochs));
    KELVIN_CHECK(c.lr > 0 && std::isfinite(c.lr), "--lr must be a positive number");
    KELVIN_CHECK(c.weight_decay >= 0, "--weight-decay must be >= 0");
    KELVIN_CHECK(c.momentum >= 0 && c.momentum < 1, "--momentum must be in [0, 1)");
    KELVIN_CHECK(c.optimizer == "sgd" || c.optimizer == "adamw",
                 "unknown --optimizer '" + c.optimizer + "': expected sgd or adamw");
    KELVIN_CHECK(c.max_steps >= 0 && c.train_subset >= 0 && c.warmup_epochs >= 0,
                 "--max-steps, --train-subset and --warmup-epochs must be >= 0");
    KELVIN_CHECK(c.eval_batch_size > 0, "--eval-batch-size must be at least 1");
    KELVIN_CHECK(c.track_every >= 0 && c.track_samples >= 1,
                 "--track-every must be >= 0 and --track-samples >= 1");
    KELVIN_CHECK(c.crop_padding >= 0,
                 "--crop-padding must be >= 0, got " + std::to_string(c.crop_padding));
    KELVIN_CHECK(c.model_options.init_scale > 0, "--init-scale must be positive");
    KELVIN_CHECK(!c.out.empty(), "an output directory (--out) is required");
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
    const std::string path = (fs::path(run_dir) / "config.json").string();
    std::ifstream in(path);
    KELVIN_CHECK(in.good(), "cannot read " + path + ": is " + run_dir + " a kelvin run directory?");
    try {
        return config_from_json(json::parse(in));
    } catch (const json::exception& e) {
        throw Error(path + ": " + e.what());
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

// ---- the loop -------------------------------------------------------------------------------

namespace {

json evaluation_json(const Evaluation& e) {
    return {{"test_loss", e.loss},
            {"test_acc", e.accuracy},
            {"logits_norm", e.logits_norm_mean},
            {"logits_norm_frobenius", e.logits_norm_frobenius}};
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

// The epoch's weights, optimizer state and metrics are committed as one unit (FileGroupWriter):
// a run killed mid-write resumes from a consistent epoch, never from new weights with old state.
void save_epoch(const fs::path& dir, models::Model& model, optim::Optimizer& opt,
                int64_t epochs_done, int64_t global_step, const json& metrics) {
    std::vector<NamedTensorRef> weights;
    for (auto& p : model.named_parameters()) weights.push_back({p.name, *p.tensor});
    for (auto& b : model.named_buffers()) weights.push_back({b.name, *b.tensor});
    std::vector<NamedTensorRef> state;
    for (auto& [name, t] : opt.state()) state.push_back({name, *t});
    FileGroupWriter group(dir);
    group.add_safetensors("model.safetensors", weights,
                          {{"format", "pt"}, {"model", model.name()},
                           {"epochs_done", std::to_string(epochs_done)}});
    group.add_safetensors("optimizer.safetensors", state,
                          {{"epochs_done", std::to_string(epochs_done)},
                           {"global_step", std::to_string(global_step)},
                           {"optimizer_steps", std::to_string(opt.steps_taken())},
                           {"dropout_calls", dropout_calls(model).dump()}});
    group.add_text("metrics.json", metrics.dump(2) + "\n");
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
json track_record(models::Model& model, const data::Batch& monitor, float temperature,
                  int64_t step) {
    NoGradGuard no_grad;
    trace::PhaseScope phase("eval");
    const bool was_training = model.training();
    model.eval();
    Tensor logits = model.forward(monitor.images);
    model.train(was_training);
    const int64_t n = logits.size(0), c = logits.size(1);
    RankReport rank = rank_report(logits.f32(), n, c, kRankGamma, false, logits.device());
    double norm_sum = 0.0;
    for (float v : ops::row_norms(logits).to_vector()) norm_sum += v;
    const float loss = ops::softmax_cross_entropy(logits, monitor.labels, temperature).item();
    const int64_t correct = count_correct(logits, monitor.labels);
    return {{"step", step},
            {"rank", rank.rank},
            {"logits_norm", norm_sum / n},
            {"sigma_1", rank.singular_values.empty() ? 0.0 : rank.singular_values.front()},
            {"loss", loss},
            {"accuracy", static_cast<double>(correct) / static_cast<double>(n)}};
}

void write_metrics(const fs::path& dir, const json& metrics) {
    write_file_atomically((dir / "metrics.json").string(), metrics.dump(2) + "\n");
}

}  // namespace

json train(const TrainConfig& config, const TrainOptions& options) {
    using clock = std::chrono::steady_clock;
    validate_config(config);
    const Device device = parse_device(config.device);

    // Everything that can fail on bad input happens before the run directory is touched.
    const data::DatasetSpec spec = data::parse_dataset_spec(config.dataset);
    data::HostDataset train_set = data::load_dataset(spec, config.data_dir, true);
    const data::HostDataset test_set = data::load_dataset(spec, config.data_dir, false);
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
    std::unique_ptr<models::Model> model = build_model_for(config, train_set);
    model->to(device);
    std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(config, *model);

    data::LoaderOptions train_loading;
    train_loading.batch_size = config.batch_size;
    train_loading.seed = config.seed;
    train_loading.device = device;
    train_loading.crop_padding = config.crop_padding;
    train_loading.horizontal_flip = config.horizontal_flip;
    data::BatchLoader train_loader(train_set, train_loading);
    data::LoaderOptions test_loading = train_loader.options();  // the training statistics
    test_loading.crop_padding = 0;  // evaluation sees the images as they are
    test_loading.horizontal_flip = false;
    test_loading.batch_size = config.eval_batch_size;
    test_loading.shuffle = false;
    data::BatchLoader test_loader(test_set, test_loading);

    const int64_t steps_per_epoch = train_loader.batches_per_epoch();
    int64_t total_steps = steps_per_epoch * config.epochs;
    if (config.max_steps > 0) total_steps = std::min(total_steps, config.max_steps);
    optim::Schedule schedule;
    schedule.kind = config.schedule;
    schedule.base_lr = config.lr;
    schedule.total_steps = total_steps;
    schedule.warmup_steps = static_cast<int64_t>(config.warmup_epochs * steps_per_epoch);
    schedule.step_size = std::max<int64_t>(1, steps_per_epoch * std::max(1, config.epochs / 3));
    // BatchNorm cannot normalise a batch of one sample: found here rather than at the end of the
    // first epoch (the last batch holds what the batch size leaves over).
    const int64_t last_batch = train_set.count - (steps_per_epoch - 1) * config.batch_size;
    const int64_t smallest_batch = total_steps >= steps_per_epoch
                                       ? last_batch
                                       : std::min<int64_t>(config.batch_size, train_set.count);
    bool has_batch_norm = false;
    for (auto& [name, module] : model->named_modules())
        has_batch_norm = has_batch_norm || dynamic_cast<nn::BatchNorm2d*>(module) != nullptr;
    KELVIN_CHECK(!has_batch_norm || smallest_batch > 1,
                 config.model + " has BatchNorm, which needs at least 2 samples per batch, but " +
                     (config.batch_size == 1
                          ? std::string("--batch-size is 1")
                          : "the last batch of each epoch holds 1 sample (" +
                                std::to_string(train_set.count) + " training samples, --batch-size " +
                                std::to_string(config.batch_size) + ")") +
                     "; choose another --batch-size or --train-subset");

    const fs::path dir(config.out);
    json metrics;
    int64_t first_epoch = 0, global_step = 0;
    bool resuming = false;
    if (options.resume) {
        KELVIN_CHECK(fs::is_directory(dir), "--resume: " + dir.string() + " is not a folder");
        recover_file_group(dir);
        // A run killed before its first metrics were written has nothing to lose: start over.
        resuming = fs::exists(dir / "metrics.json");
        if (!resuming)
            std::fprintf(stderr, "%s: no metrics.json yet, so training starts from the beginning\n",
                         dir.string().c_str());
    }
    if (resuming) {
        std::ifstream in(dir / "metrics.json");
        KELVIN_CHECK(in.good(), "--resume: cannot read " + (dir / "metrics.json").string());
        try {
            metrics = json::parse(in);
        } catch (const json::exception& e) {
            throw Error("--resume: " + (dir / "metrics.json").string() + ": " + e.what());
        }
        if (metrics.value("status", "") == "complete") return metrics;
        if (fs::exists(dir / "model.safetensors")) {
            SafetensorsFile weights = load_safetensors((dir / "model.safetensors").string());
            std::vector<std::pair<std::string, Tensor*>> targets;
            for (auto& p : model->named_parameters()) targets.emplace_back(p.name, p.tensor);
            for (auto& b : model->named_buffers()) targets.emplace_back(b.name, b.tensor);
            load_into(targets, weights, (dir / "model.safetensors").string());
            SafetensorsFile state = load_safetensors((dir / "optimizer.safetensors").string());
            load_into(optimizer->state(), state, (dir / "optimizer.safetensors").string());
            first_epoch = std::stoll(state.metadata.at("epochs_done"));
            // Checkpoints from before group commits carry no epoch in the weights file.
            auto weights_epoch = weights.metadata.find("epochs_done");
            KELVIN_CHECK(weights_epoch == weights.metadata.end() ||
                             std::stoll(weights_epoch->second) == first_epoch,
                         "--resume: " + dir.string() + " holds weights of epoch " +
                             (weights_epoch == weights.metadata.end() ? "" : weights_epoch->second) +
                             " but optimizer state of epoch " + std::to_string(first_epoch) +
                             "; the checkpoint is inconsistent");
            global_step = std::stoll(state.metadata.at("global_step"));
            optimizer->set_steps_taken(std::stoll(state.metadata.at("optimizer_steps")));
            // Checkpoints from before dropout state was saved carry none (models without
            // dropout need none).
            auto dropout_state = state.metadata.find("dropout_calls");
            if (dropout_state != state.metadata.end())
                restore_dropout_calls(*model, json::parse(dropout_state->second),
                                      (dir / "optimizer.safetensors").string());
        }
        // Epoch records past the checkpoint (none, normally) are redone.
        json kept = json::array();
        for (auto& e : metrics["epochs"])
            if (e.at("epoch").get<int64_t>() <= first_epoch) kept.push_back(e);
        metrics["epochs"] = kept;
        if (metrics.contains("track")) {
            json kept_track = json::array();
            for (auto& t : metrics["track"])
                if (t.at("step").get<int64_t>() <= global_step) kept_track.push_back(t);
            metrics["track"] = kept_track;
        }
    } else {
        // Never overwrite a run: its checkpoint and metrics may be all a researcher has of it.
        KELVIN_CHECK(!fs::exists(dir / "metrics.json"),
                     config.out + " already holds a run (metrics.json); continue it with --resume " +
                         config.out + ", or choose another --out");
        fs::create_directories(dir);
        json written = config_to_json(config);
        // The input normalisation the model was trained with, so diagnostics reproduce it.
        written["normalization"] = {{"mean", train_loader.options().mean},
                                    {"std", train_loader.options().std}};
        write_file_atomically((dir / "config.json").string(), written.dump(2) + "\n");
        metrics = {{"status", "running"}, {"epochs", json::array()}};
        Evaluation init = evaluate(*model, test_loader, config.temperature);
        metrics["init"] = evaluation_json(init);
        write_metrics(dir, metrics);
    }
    metrics["status"] = "running";
    data::Batch monitor;
    if (config.track_every > 0) {
        monitor = test_loader.fixed_batch(config.track_samples);
        if (!metrics.contains("track")) metrics["track"] = json::array();
        // Step 0 once: a run resumed before its first checkpoint already holds that record.
        if (global_step == 0 && metrics["track"].empty())
            metrics["track"].push_back(track_record(*model, monitor, config.temperature, 0));
    }

    const bool bar = options.show_progress;
    double run_seconds = 0.0;
    for (auto& e : metrics["epochs"]) run_seconds += e.value("seconds", 0.0);
    try {
        for (int64_t epoch = first_epoch; epoch < config.epochs && global_step < total_steps;
             ++epoch) {
            const auto epoch_start = clock::now();
            model->train();
            train_loader.start_epoch(epoch);
            ProgressBar progress("epoch " + std::to_string(epoch + 1) + "/" +
                                     std::to_string(config.epochs),
                                 std::min(steps_per_epoch, total_steps - global_step), bar);
            double loss_sum = 0.0;
            int64_t correct = 0, seen = 0, steps = 0;
            data::Batch batch;
            while (global_step < total_steps && train_loader.next(batch)) {
                trace::Scope step_scope("train_step", "step", device);
                optimizer->set_lr(schedule.lr_at(global_step));
                for (Tensor* p : model->parameters()) p->impl()->grad.reset();
                Tensor logits, loss;
                {
                    trace::PhaseScope forward("forward");  // an NVTX range under Nsight
                    logits = model->forward(batch.images);
                    loss = ops::softmax_cross_entropy(logits, batch.labels, config.temperature);
                }
                const float loss_value = loss.item();
                if (!std::isfinite(loss_value)) {
                    progress.finish();
                    metrics["status"] = "diverged";
                    metrics["diverged_at_step"] = global_step;
                    metrics["diverged_loss"] = std::isnan(loss_value) ? "nan" : "inf";
                    write_metrics(dir, metrics);
                    std::fprintf(stderr, "diverged at step %lld (loss %s)\n",
                                 static_cast<long long>(global_step),
                                 std::isnan(loss_value) ? "nan" : "inf");
                    return metrics;
                }
                loss.backward();
                optimizer->step();
                const int64_t n = batch.labels.numel();
                correct += count_correct(logits.detach(), batch.labels);
                loss_sum += double(loss_value) * n;
                seen += n;
                ++steps;
                ++global_step;
                if (config.track_every > 0 && global_step % config.track_every == 0)
                    metrics["track"].push_back(
                        track_record(*model, monitor, config.temperature, global_step));
                if (bar) {
                    const double secs =
                        std::chrono::duration<double>(clock::now() - epoch_start).count();
                    char status[128];
                    std::snprintf(status, sizeof status, "loss %.4f  %.0f samples/s",
                                  loss_sum / seen, seen / std::max(secs, 1e-9));
                    progress.update(steps, status);
                }
            }
            progress.finish();
            const double train_seconds =
                std::chrono::duration<double>(clock::now() - epoch_start).count();
            Evaluation test = evaluate(*model, test_loader, config.temperature);
            const double seconds =
                std::chrono::duration<double>(clock::now() - epoch_start).count();
            run_seconds += seconds;
            json record = evaluation_json(test);
            record["epoch"] = epoch + 1;
            record["steps"] = steps;
            record["train_loss"] = seen ? loss_sum / seen : 0.0;
            record["train_acc"] = seen ? double(correct) / seen : 0.0;
            record["lr"] = optimizer->lr();
            record["seconds"] = seconds;
            record["train_seconds"] = train_seconds;
            record["samples_per_second"] = seen / std::max(train_seconds, 1e-9);
            metrics["epochs"].push_back(record);
            save_epoch(dir, *model, *optimizer, epoch + 1, global_step, metrics);
            if (options.print_epochs)
                std::fprintf(stderr,
                             "epoch %lld/%d  train_loss %.4f  train_acc %.4f  test_acc %.4f  "
                             "logits_norm %.3f  %.1fs\n",
                             static_cast<long long>(epoch + 1), config.epochs,
                             record["train_loss"].get<double>(), record["train_acc"].get<double>(),
                             test.accuracy, test.logits_norm_mean, seconds);
        }
    } catch (const std::exception& e) {
        metrics["status"] = "failed";
        metrics["error"] = e.what();
        write_metrics(dir, metrics);
        throw;
    }
    const json& last = metrics["epochs"].back();
    metrics["final"] = {{"test_acc", last["test_acc"]},
                        {"test_loss", last["test_loss"]},
                        {"train_acc", last["train_acc"]},
                        {"train_loss", last["train_loss"]},
                        {"logits_norm", last["logits_norm"]},
                        {"logits_norm_init", metrics["init"]["logits_norm"]},
                        {"steps", global_step},
                        {"seconds", run_seconds}};
    metrics["status"] = "complete";
    write_metrics(dir, metrics);
    return metrics;
}

}  // namespace kelvin::experiments
