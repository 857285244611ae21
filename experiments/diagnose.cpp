#include "experiments/diagnose.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <random>

#include "data/dataset_spec.h"
#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/ops.h"
#include "experiments/evaluate.h"
#include "analysis/detection_intervals.h"
#include "analysis/neco_fit.h"
#include "analysis/ood_metrics.h"
#include "analysis/spectrum.h"
#include "experiments/run_files.h"
#include "experiments/settings.h"
#include "experiments/train.h"
#include "models/registry.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The logits and the features at every probe point of a model over (a prefix of) a data set.
struct Features {
    Tensor logits;               // [N, C] on the device
    std::vector<Tensor> layers;  // [N, F_l] on the device, in probe order
    Tensor labels;               // i32 [N] on the device
};

// Convolutional maps [N, C, H, W] are average-pooled over space until C*H*W <= max_features;
// everything is flattened to [N, F].
Tensor flatten_features(const Tensor& x, int64_t max_features) {
    Tensor f = x;
    if (f.ndim() == 4) {
        int64_t channels = f.size(1), h = f.size(2), w = f.size(3);
        int k = 1;
        while (channels * ((h + k - 1) / k) * ((w + k - 1) / k) > max_features && k < std::max(h, w))
            k *= 2;
        if (k >= std::max(h, w)) f = ops::global_avg_pool(f);
        else if (k > 1) f = ops::avg_pool2d(f, k, k, 0);
    }
    return f.ndim() == 2 ? f : ops::flatten(f);
}

// Copies rows of a list of per-batch tensors into one [N, ...] tensor on the same device.
Tensor concat_rows(const std::vector<Tensor>& parts) {
    Shape shape = parts.front().shape();
    int64_t rows = 0;
    for (auto& p : parts) rows += p.size(0);
    shape[0] = rows;
    Tensor out = Tensor::empty(shape, parts.front().dtype(), parts.front().device());
    int64_t at = 0;
    for (auto& p : parts) {
        out.rows(at, at + p.size(0)).copy_from(p);
        at += p.size(0);
    }
    return out;
}

Features extract(models::Model& model, const data::HostDataset& set, int64_t max_samples,
                 const data::LoaderOptions& base, int64_t max_features) {
    NoGradGuard no_grad;
    model.eval();
    data::HostDataset subset_storage;
    const data::HostDataset* source = &set;
    if (max_samples > 0 && set.count > max_samples) {
        // A seeded, class-balanced-in-expectation prefix: shuffle indices once, keep the first N.
        subset_storage = set;
        std::vector<int64_t> order(set.count);
        for (int64_t i = 0; i < set.count; ++i) order[i] = i;
        std::mt19937_64 gen(12345);
        std::shuffle(order.begin(), order.end(), gen);
        order.resize(max_samples);
        std::sort(order.begin(), order.end());
        const int64_t image = set.image_size();
        subset_storage.count = max_samples;
        subset_storage.pixels.resize(max_samples * image);
        subset_storage.labels.resize(max_samples);
        for (int64_t i = 0; i < max_samples; ++i) {
            std::copy_n(set.pixels.begin() + order[i] * image, image,
                        subset_storage.pixels.begin() + i * image);
            subset_storage.labels[i] = set.labels[order[i]];
        }
        source = &subset_storage;
    }
    data::LoaderOptions o = base;
    o.shuffle = false;
    o.batch_size = 500;
    data::BatchLoader loader(*source, o);
    loader.start_epoch(0);
    std::vector<Tensor> logits, labels;
    std::vector<std::vector<Tensor>> layers;
    data::Batch batch;
    while (loader.next(batch)) {
        std::vector<Tensor> probes;
        logits.push_back(model.forward(batch.images, &probes));
        labels.push_back(batch.labels);
        if (layers.empty()) layers.resize(probes.size());
        for (size_t l = 0; l < probes.size(); ++l)
            layers[l].push_back(flatten_features(probes[l], max_features));
    }
    Features f;
    f.logits = concat_rows(logits);
    f.labels = concat_rows(labels);
    for (auto& parts : layers) f.layers.push_back(concat_rows(parts));
    return f;
}

json rank_json(const RankReport& r) {
    json by_gamma = json::object();
    for (auto& [g, rank] : r.rank_by_gamma) {
        char key[32];
        std::snprintf(key, sizeof key, "%g", g);
        by_gamma[key] = rank;
    }
    return {{"rank", r.rank}, {"by_gamma", by_gamma}, {"rows", r.rows}, {"cols", r.cols}};
}

// Rank of a feature matrix where it lies; wider than the protocol's 8000 columns, a seeded
// subset of columns is gathered on the same device and ranked instead.
RankReport feature_rank(const Tensor& x, double gamma, bool center, int64_t& columns_used) {
    const int64_t cols = x.size(1);
    if (cols <= kMaxRankColumns) {
        columns_used = cols;
        return rank_report(x, gamma, center);
    }
    const std::vector<int64_t> chosen = subsample_columns(cols);
    const std::vector<int32_t> index(chosen.begin(), chosen.end());
    Tensor subset = ops::gather_columns(
        x, Tensor::from_vector(index, {static_cast<int64_t>(index.size())}, x.device()));
    columns_used = subset.size(1);
    return rank_report(subset, gamma, center);
}

std::vector<float> softmax_rows(const std::vector<float>& logits, int64_t rows, int64_t cols,
                                float temperature) {
    std::vector<float> p(logits.size());
    for (int64_t r = 0; r < rows; ++r) {
        const float* z = logits.data() + r * cols;
        float m = z[0] / temperature;
        for (int64_t c = 1; c < cols; ++c) m = std::max(m, z[c] / temperature);
        double sum = 0;
        for (int64_t c = 0; c < cols; ++c) sum += std::exp(double(z[c] / temperature - m));
        for (int64_t c = 0; c < cols; ++c)
            p[r * cols + c] = static_cast<float>(std::exp(double(z[c] / temperature - m)) / sum);
    }
    return p;
}

std::vector<double> probe_accuracies(const Features& train, const Features& test, int classes,
                                     const ProbeOptions& options) {
    std::vector<double> accuracies;
    for (size_t l = 0; l < train.layers.size(); ++l)
        accuracies.push_back(train_linear_probe(train.layers[l], train.labels, test.layers[l],
                                                test.labels, classes, options)
                                 .test_accuracy);
    return accuracies;
}

data::LoaderOptions normalisation_of(const fs::path& run_dir, const data::HostDataset& train_set,
                                     Device device) {
    data::LoaderOptions o;
    o.device = device;
    std::ifstream in(run_dir / "config.json");
    json config = json::parse(in);
    if (config.contains("normalization")) {
        o.mean = config["normalization"]["mean"].get<std::vector<float>>();
        o.std = config["normalization"]["std"].get<std::vector<float>>();
    } else {
        data::channel_statistics(train_set, o.mean, o.std);
    }
    return o;
}

void progress(bool on, const std::string& message) {
    if (on) std::fprintf(stderr, "diagnose: %s\n", message.c_str());
}

}  // namespace

void validate_diagnose_options(const DiagnoseOptions& o) {
    KELVIN_CHECK(o.gamma > 0 && o.gamma < 1, "--gamma must be in (0, 1)");
    KELVIN_CHECK(o.max_samples >= 1,
                 "--samples must be at least 1, got " + std::to_string(o.max_samples));
    KELVIN_CHECK(o.probe_train_samples >= 1, "--probe-train-samples must be at least 1, got " +
                                                 std::to_string(o.probe_train_samples));
    KELVIN_CHECK(o.probe.epochs >= 1,
                 "--probe-epochs must be at least 1, got " + std::to_string(o.probe.epochs));
    KELVIN_CHECK(o.probe.lr > 0 && std::isfinite(o.probe.lr),
                 "--probe-lr must be a positive number");
    KELVIN_CHECK(o.neco_dim >= 0, "--neco-dim must be >= 0 (0: the number of classes), got " +
                                      std::to_string(o.neco_dim));
    KELVIN_CHECK(o.neco_max_logit == "auto" || o.neco_max_logit == "yes" ||
                     o.neco_max_logit == "no",
                 "--neco-max-logit '" + o.neco_max_logit + "': expected auto, yes or no");
}

void prepare_run_from_checkpoint(const std::string& checkpoint, TrainConfig config,
                                 const std::string& run_dir) {
    KELVIN_CHECK(fs::exists(checkpoint), "--from-checkpoint: " + checkpoint + " does not exist");
    // metrics.json marks a run kelvin trained: its model.safetensors and config.json are the
    // only copies, and the copy below would replace them.
    KELVIN_CHECK(!fs::exists(fs::path(run_dir) / "metrics.json"),
                 "--from-checkpoint: " + run_dir + " holds a kelvin training run (metrics.json); "
                 "its weights would be replaced; choose another RUN_DIR");
    load_safetensors(checkpoint);  // a malformed file is reported now, by name
    config.out = run_dir;
    validate_config(config);
    fs::create_directories(run_dir);
    write_file_atomically((fs::path(run_dir) / "config.json").string(),
                          config_to_json(config).dump(2) + "\n");
    fs::copy_file(checkpoint, fs::path(run_dir) / "model.safetensors",
                  fs::copy_options::overwrite_existing);
}

namespace {

// A run still training (or stopped) is measured at its last finished epoch: say so, here and
// in the file, so the numbers are not taken for the finished run's.
struct RunState {
    std::string status = "unknown (no metrics.json: a checkpoint trained elsewhere)";
    int64_t epochs_done = -1;
};

RunState read_run_state(const fs::path& run_dir, const TrainConfig& config) {
    RunState state;
    if (!fs::exists(run_dir / "metrics.json")) return state;
    std::ifstream in(run_dir / "metrics.json");
    const json metrics = json::parse(in, nullptr, false);
    if (metrics.is_discarded()) {
        state.status = "unknown (metrics.json is not valid JSON)";
    } else {
        state.status = metrics.contains("status") && metrics["status"].is_string()
                           ? metrics["status"].get<std::string>()
                           : "unknown";
        if (metrics.contains("epochs") && metrics["epochs"].is_array())
            state.epochs_done = static_cast<int64_t>(metrics["epochs"].size());
    }
    if (state.status != "complete") {
        const std::string done = state.epochs_done >= 0 ? std::to_string(state.epochs_done) : "?";
        std::fprintf(stderr,
                     "diagnose: warning: %s is %s, not complete; measuring the weights of its "
                     "last finished epoch (%s of %d)\n",
                     run_dir.string().c_str(), state.status.c_str(), done.c_str(), config.epochs);
    }
    return state;
}

struct OodSet {
    std::string spec;
    data::HostDataset train, test;
};

// The run's data sets (its training set cut as it was trained) and the OOD sets, shaped like
// the in-distribution images.
struct DiagnoseData {
    data::HostDataset id_train, id_test;
    std::vector<OodSet> ood;
};

DiagnoseData load_diagnose_data(const TrainConfig& config, const DiagnoseOptions& options) {
    DiagnoseData d;
    const data::DatasetSpec id_spec = data::parse_dataset_spec(config.dataset);
    d.id_train = data::load_dataset(id_spec, config.data_dir, true);
    if (config.train_subset > 0 && config.train_subset < d.id_train.count) {
        d.id_train.count = config.train_subset;
        d.id_train.pixels.resize(d.id_train.count * d.id_train.image_size());
        d.id_train.labels.resize(d.id_train.count);
    }
    d.id_test = data::load_dataset(id_spec, config.data_dir, false);
    data::print_notes({&d.id_train, &d.id_test});
    const data::HostDataset& id = d.id_test;
    for (const std::string& text : options.ood) {
        data::DatasetSpec spec = data::parse_dataset_spec(text);
        OodSet set{text,
                   data::load_dataset(spec, options.ood_data_dir, true, int(id.channels),
                                      int(id.height), int(id.width)),
                   data::load_dataset(spec, options.ood_data_dir, false, int(id.channels),
                                      int(id.height), int(id.width))};
        KELVIN_CHECK(set.test.channels == id.channels && set.test.height == id.height &&
                         set.test.width == id.width,
                     "diagnose: OOD set '" + text + "' has images of " +
                         std::to_string(set.test.channels) + "x" + std::to_string(set.test.height) +
                         "x" + std::to_string(set.test.width) + ", the model takes " +
                         std::to_string(id.channels) + "x" + std::to_string(id.height) + "x" +
                         std::to_string(id.width));
        data::print_notes({&set.train, &set.test});
        d.ood.push_back(std::move(set));
    }
    return d;
}

// The run's architecture with the weights of weights_path, on `device`.
std::unique_ptr<models::Model> load_trained_model(const TrainConfig& config,
                                                  const data::HostDataset& id_train,
                                                  const fs::path& weights_path, Device device) {
    models::ModelOptions model_options = config.model_options;
    model_options.num_classes = id_train.num_classes;
    model_options.in_channels = int(id_train.channels);
    model_options.in_height = int(id_train.height);
    model_options.in_width = int(id_train.width);
    model_options.seed = config.seed;
    auto model = models::build_model(config.model, model_options);
    SafetensorsFile weights = load_safetensors(weights_path.string());
    for (auto& p : model->named_parameters()) {
        auto it = weights.tensors.find(p.name);
        KELVIN_CHECK(it != weights.tensors.end() && it->second.shape() == p.tensor->shape(),
                     "diagnose: " + weights_path.string() + " lacks '" + p.name +
                         "' with shape " + shape_to_string(p.tensor->shape()));
        p.tensor->copy_from(it->second);
    }
    for (auto& b : model->named_buffers()) {
        auto it = weights.tensors.find(b.name);
        if (it != weights.tensors.end()) b.tensor->copy_from(it->second);
    }
    model->to(device);
    return model;
}

// Ranks and spectra of the logits, of softmax(logits / T) and of every probe point; the logits
// norm; the test accuracy: diagnostics.json's rank, singular_values, logits_norm, accuracy.
json spectra_json(const Features& test, const std::vector<std::string>& layer_names, int classes,
                  float temperature, const DiagnoseOptions& options) {
    const int64_t n = test.logits.size(0);
    const RankReport logits_rank = rank_report(test.logits, options.gamma, options.center);
    std::vector<float> host_logits = test.logits.to_vector();
    std::vector<float> probabilities = softmax_rows(host_logits, n, classes, temperature);
    const RankReport softmax_rank =
        rank_report(probabilities.data(), n, classes, options.gamma, options.center);
    json layer_ranks = json::array(), layer_spectra = json::object();
    for (size_t l = 0; l < test.layers.size(); ++l) {
        int64_t used = 0;
        RankReport r = feature_rank(test.layers[l], options.gamma, options.center, used);
        json entry = rank_json(r);
        entry["name"] = layer_names[l];
        entry["features"] = test.layers[l].size(1);
        entry["columns_ranked"] = used;
        layer_ranks.push_back(entry);
        layer_spectra[layer_names[l]] = r.singular_values;
    }
    const LogitsNormStats norms = logits_norm_stats(host_logits.data(), n, classes, logits_rank);
    json result;
    result["rank"] = {{"logits", logits_rank.rank},
                      {"softmax", softmax_rank.rank},
                      {"by_gamma", {{"logits", rank_json(logits_rank)["by_gamma"]},
                                    {"softmax", rank_json(softmax_rank)["by_gamma"]}}},
                      {"layers", layer_ranks},
                      {"classes", classes}};
    result["singular_values"] = {{"logits", logits_rank.singular_values},
                                 {"softmax", softmax_rank.singular_values},
                                 {"layers", layer_spectra}};
    result["logits_norm"] = {{"mean", norms.mean_row_norm},
                             {"frobenius", norms.frobenius},
                             {"sigma_1", norms.sigma_1}};
    result["accuracy"] = double(count_correct(test.logits, test.labels)) / n;
    return result;
}

// NECO fitted on the training features, and how its score is formed.
struct NecoScoring {
    NecoModel model;
    int dim = 0;                   // principal components kept
    bool times_max_logit = false;  // score multiplied by the max logit
};

NecoScoring fit_neco_scoring(const Features& train, int classes, const std::string& model_name,
                             const DiagnoseOptions& options) {
    NecoScoring neco;
    const int64_t dim = train.layers.back().size(1);
    neco.model = fit_neco(train.layers.back());  // on the features' device
    neco.dim = options.neco_dim > 0 ? std::min<int>(options.neco_dim, int(dim))
                                    : std::min<int>(classes, int(dim));
    neco.times_max_logit = options.neco_max_logit == "yes" ||
                           (options.neco_max_logit == "auto" && model_name.rfind("resnet", 0) != 0);
    return neco;
}

// Every detector's score of every sample of `f` (higher = more in-distribution).
json detector_scores(const Features& f, const NecoScoring& neco, int classes) {
    const int64_t n = f.logits.size(0);
    const std::vector<float> logits = f.logits.to_vector();
    const std::vector<float> penultimate = f.layers.back().to_vector();
    const std::vector<double> max_logit = max_logit_scores(logits.data(), n, classes);
    return {{"neco", neco_scores(neco.model, penultimate.data(), n, neco.dim,
                                 neco.times_max_logit ? max_logit.data() : nullptr)},
            {"msp", msp_scores(logits.data(), n, classes)},
            {"max_logit", max_logit},
            {"energy", energy_scores(logits.data(), n, classes)}};
}

// Probes (rho), detection (AUROC, FPR95) and OrthoDev on every OOD set: diagnostics.json's
// probes.ood, rho, ood_detection and orthodev.
void ood_sections(json& result, models::Model& model, const std::string& model_name,
                  std::vector<OodSet>& ood_sets, const Features& train, const Features& test,
                  int classes, const data::LoaderOptions& loading, const DiagnoseOptions& options) {
    const NecoScoring neco = fit_neco_scoring(train, classes, model_name, options);
    const int64_t dim = train.layers.back().size(1);
    const std::vector<float> train_penultimate = train.layers.back().to_vector();
    const std::vector<int32_t> train_labels = train.labels.to_int_vector();
    const json scores_in = detector_scores(test, neco, classes);
    json detection = json::object(), orthodev = json::object(), rho = json::object();
    for (OodSet& set : ood_sets) {
        progress(options.show_progress, "OOD set " + set.spec);
        Features ood_test =
            extract(model, set.test, options.max_samples, loading, options.max_features);
        Features ood_train =
            extract(model, set.train, options.probe_train_samples, loading, options.max_features);
        std::vector<double> ood_accuracy =
            probe_accuracies(ood_train, ood_test, set.train.num_classes, options.probe);
        result["probes"]["ood"][set.spec] = ood_accuracy;
        rho[set.spec] = ood_generalization_drop(ood_accuracy);
        const json scores_out = detector_scores(ood_test, neco, classes);
        for (const OodDetector& detector : kOodDetectors) {
            const char* method = detector.key;
            auto in = scores_in[method].get<std::vector<double>>();
            auto out = scores_out[method].get<std::vector<double>>();
            json entry = {{"auroc", auroc(in, out)}, {"fpr95", fpr_at_95_tpr(in, out)}};
            // The 95% intervals over test samples (docs/METHODS.md), a fixed seed so that
            // rerunning diagnose gives the same file.
            entry.update(analysis::detection_intervals(in, out, fpr_at_95_tpr));
            detection[method][set.spec] = entry;
        }
        const std::vector<float> ood_penultimate = ood_test.layers.back().to_vector();
        orthodev[set.spec] = ortho_dev(train_penultimate.data(), train_labels.data(),
                                       train.layers.back().size(0), classes,
                                       ood_penultimate.data(), ood_test.logits.size(0), dim);
    }
    result["rho"] = rho;
    result["ood_detection"] = detection;
    result["orthodev"] = orthodev;
    result["settings"]["neco_dim"] = neco.dim;
    result["settings"]["neco_times_max_logit"] = neco.times_max_logit;
}

// The settings the numbers were computed with, as the user typed them (experiments/settings.h).
json settings_json(const DiagnoseOptions& options, const Features& train, int64_t n,
                   Device device, const RunState& run) {
    float probe_lr = options.probe.lr;
    return {{"gamma", options.gamma},
            {"gammas_reported", {1e-2, 1e-3, 1e-4}},
            {"centered", options.center},
            {"samples_ranked", n},
            {"probe_train_samples", train.logits.size(0)},
            {"max_features", options.max_features},
            {"max_rank_columns", kMaxRankColumns},
            {"probe", {{"optimizer", "adam"},
                       {"lr", settings::to_json(&probe_lr)},
                       {"epochs", options.probe.epochs},
                       {"batch_size", options.probe.batch_size},
                       {"standardize", options.probe.standardize}}},
            {"kappa_fraction", 0.95},
            {"ood", options.ood},
            {"device", device_name(device)},
            {"run_status", run.status},
            {"run_epochs_done", run.epochs_done}};
}

}  // namespace

json diagnose(const std::string& run_dir_text, const DiagnoseOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    const fs::path run_dir(run_dir_text);
    TrainConfig config = load_run_config(run_dir_text);
    const Device device = parse_device(options.device.empty() ? config.device : options.device);
    KELVIN_CHECK(device == Device::CPU || cuda_available(),
                 "diagnose --device cuda: no CUDA device is available");
    validate_diagnose_options(options);
    const fs::path weights_path = run_dir / "model.safetensors";
    KELVIN_CHECK(fs::exists(weights_path),
                 "diagnose: " + weights_path.string() + " not found (has the run finished an epoch?)");
    const RunState run = read_run_state(run_dir, config);

    // ---- data and model, all validated before any work ----
    DiagnoseData data = load_diagnose_data(config, options);
    auto model = load_trained_model(config, data.id_train, weights_path, device);
    const int classes = data.id_train.num_classes;
    const data::LoaderOptions loading = normalisation_of(run_dir, data.id_train, device);
    const bool say = options.show_progress;

    progress(say, "extracting features");
    Features test =
        extract(*model, data.id_test, options.max_samples, loading, options.max_features);
    Features train =
        extract(*model, data.id_train, options.probe_train_samples, loading, options.max_features);
    const std::vector<std::string> layer_names = model->probe_names();

    progress(say, "spectra");
    json result = spectra_json(test, layer_names, classes, config.temperature, options);

    progress(say, "in-distribution probes on " + std::to_string(layer_names.size()) + " layers");
    std::vector<double> id_accuracy = probe_accuracies(train, test, classes, options.probe);
    result["probes"] = {{"layers", layer_names}, {"id", id_accuracy}, {"ood", json::object()}};
    result["kappa"] = effective_depth(id_accuracy);

    result["settings"] = settings_json(options, train, test.logits.size(0), device, run);
    ood_sections(result, *model, config.model, data.ood, train, test, classes, loading, options);
    float temperature = config.temperature;
    result["temperature"] = settings::to_json(&temperature);
    result["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_file_atomically((run_dir / "diagnostics.json").string(), result.dump(2) + "\n");
    return result;
}

}  // namespace kelvin::experiments
