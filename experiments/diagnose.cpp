#include "experiments/diagnose.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <memory>
#include <random>

#include "data/dataset_spec.h"
#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/ops.h"
#include "engine/phase_progress.h"
#include "experiments/evaluate.h"
#include "analysis/detection_intervals.h"
#include "analysis/neco_fit.h"
#include "analysis/ood_metrics.h"
#include "analysis/spectrum.h"
#include "engine/weights_digest.h"
#include "experiments/run_checkpoint.h"
#include "experiments/run_diagnostics.h"
#include "experiments/run_files.h"
#include "experiments/run_metrics.h"
#include "experiments/settings.h"
#include "experiments/settings_tables.h"
#include "engine/paths.h"
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

// Progress of a phase on stderr when `label` is not empty (engine/phase_progress.h).
std::unique_ptr<PhaseProgress> phase(const std::string& label, int64_t total, const char* unit) {
    if (label.empty()) return nullptr;
    return std::make_unique<PhaseProgress>("diagnose: " + label, total, unit);
}

Features extract(models::Model& model, const data::HostDataset& set, int64_t max_samples,
                 const data::LoaderOptions& base, int64_t max_features,
                 const std::string& label = "") {
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
    std::unique_ptr<PhaseProgress> shown = phase(label, loader.batches_per_epoch(), "batches");
    std::vector<Tensor> logits, labels;
    std::vector<std::vector<Tensor>> layers;
    data::Batch batch;
    while (loader.next(batch)) {
        if (shown) shown->advance(static_cast<int64_t>(logits.size()) + 1);
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

RanksByGamma ranks_by_gamma(const RankReport& r) {
    RanksByGamma by_gamma;
    for (auto& [g, rank] : r.rank_by_gamma) {
        char key[32];
        std::snprintf(key, sizeof key, "%g", g);
        by_gamma[key] = rank;
    }
    return by_gamma;
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
                                     const ProbeOptions& options, const std::string& label = "") {
    std::unique_ptr<PhaseProgress> shown =
        phase(label, static_cast<int64_t>(train.layers.size()), "layers");
    std::vector<double> accuracies;
    for (size_t l = 0; l < train.layers.size(); ++l) {
        accuracies.push_back(train_linear_probe(train.layers[l], train.labels, test.layers[l],
                                                test.labels, classes, options)
                                 .test_accuracy);
        if (shown) shown->advance(static_cast<int64_t>(l) + 1);
    }
    return accuracies;
}

data::LoaderOptions normalisation_of(const fs::path& run_dir, const data::HostDataset& train_set,
                                     Device device) {
    data::LoaderOptions o;
    o.device = device;
    std::ifstream in(run_dir / kConfigFile);
    json config = json::parse(in);
    if (config.contains("normalization")) {
        o.mean = config["normalization"]["mean"].get<std::vector<float>>();
        o.std = config["normalization"]["std"].get<std::vector<float>>();
    } else {
        data::channel_statistics(train_set, o.mean, o.std);
    }
    return o;
}


}  // namespace

void validate_diagnose_options(const DiagnoseOptions& o) {
    // The table's rules (experiments/settings_tables.cpp), as for the CLI and sweep.json.
    settings::validate(o, diagnose_settings());
    for (const std::string& spec : o.ood) data::parse_dataset_spec(spec);
    require_utf8(o.ood_data_dir, "--ood-data-dir");
}

void check_diagnose_inputs(const DiagnoseOptions& o) {
    validate_diagnose_options(o);
    for (const std::string& spec : o.ood) {
        try {
            data::load_dataset(data::parse_dataset_spec(spec), o.ood_data_dir, false);
        } catch (const Error& e) {
            throw Error("--ood " + spec + ": " + e.what());
        }
    }
}

void prepare_run_from_checkpoint(const std::string& checkpoint, TrainConfig config,
                                 const std::string& run_dir) {
    KELVIN_CHECK(fs::exists(checkpoint), "--from-checkpoint: " + checkpoint + " does not exist");
    // metrics.json marks a run kelvin trained: its model.safetensors and config.json are the
    // only copies, and the copy below would replace them.
    KELVIN_CHECK(!fs::exists(fs::path(run_dir) / kMetricsFile),
                 "--from-checkpoint: " + run_dir + " holds a kelvin training run (metrics.json); "
                 "its weights would be replaced; choose another RUN_DIR");
    load_safetensors(checkpoint);  // a malformed file is reported now, by name
    config.out = run_dir;
    validate_config(config);
    fs::create_directories(run_dir);
    write_file_atomically((fs::path(run_dir) / kConfigFile).string(),
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
    if (!fs::exists(run_dir / kMetricsFile)) return state;
    std::ifstream in(run_dir / kMetricsFile);
    const json text = json::parse(in, nullptr, false);
    if (text.is_discarded()) {
        state.status = "unknown (metrics.json is not valid JSON)";
    } else {
        const Metrics metrics = metrics_from_json(text);
        state.status = metrics.status.empty() ? "unknown" : metrics.status;
        state.epochs_done = static_cast<int64_t>(metrics.epochs.size());
    }
    if (state.status != kStatusComplete) {
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

// Which weights the diagnostics measure (diagnostics.json's "weights"): the digest of the file's
// tensors, and the epoch and step its metadata names (absent from a checkpoint trained
// elsewhere).
WeightsRecord weights_record(const SafetensorsFile& weights, const fs::path& path) {
    WeightsRecord record;
    record.file = path.filename().string();
    record.weights_digest = weights_digest(weights.tensors);
    if (weights.metadata.count("epochs_done"))
        record.epochs_done = metadata_integer(weights, "epochs_done", path);
    if (weights.metadata.count("global_step"))
        record.step = metadata_integer(weights, "global_step", path);
    return record;
}

// The run's architecture with the weights of weights_path, on `device`; *record names them.
std::unique_ptr<models::Model> load_trained_model(const TrainConfig& config,
                                                  const data::HostDataset& id_train,
                                                  const fs::path& weights_path, Device device,
                                                  WeightsRecord* record) {
    models::ModelOptions model_options = config.model_options;
    model_options.num_classes = id_train.num_classes;
    model_options.in_channels = int(id_train.channels);
    model_options.in_height = int(id_train.height);
    model_options.in_width = int(id_train.width);
    model_options.seed = config.seed;
    auto model = models::build_model(config.model, model_options);
    SafetensorsFile weights = load_safetensors(weights_path.string());
    *record = weights_record(weights, weights_path);
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
void measure_spectra(Diagnostics& result, const Features& test,
                     const std::vector<std::string>& layer_names, int classes, float temperature,
                     const DiagnoseOptions& options) {
    std::unique_ptr<PhaseProgress> shown =
        phase(options.show_progress ? "spectra" : "",
              2 + static_cast<int64_t>(test.layers.size()), "matrices");
    const int64_t n = test.logits.size(0);
    const RankReport logits_rank = rank_report(test.logits, options.gamma, options.center);
    std::vector<float> host_logits = test.logits.to_vector();
    std::vector<float> probabilities = softmax_rows(host_logits, n, classes, temperature);
    const RankReport softmax_rank =
        rank_report(probabilities.data(), n, classes, options.gamma, options.center);
    if (shown) shown->advance(2);
    RankSection& rank = result.rank;
    for (size_t l = 0; l < test.layers.size(); ++l) {
        int64_t used = 0;
        RankReport r = feature_rank(test.layers[l], options.gamma, options.center, used);
        rank.layers.push_back({layer_names[l], r.rank, ranks_by_gamma(r), r.rows, r.cols,
                               test.layers[l].size(1), used});
        result.singular_values.layers[layer_names[l]] = r.singular_values;
        if (shown) shown->advance(3 + static_cast<int64_t>(l));
    }
    const LogitsNormStats norms = logits_norm_stats(host_logits.data(), n, classes, logits_rank);
    rank.logits = logits_rank.rank;
    rank.softmax = softmax_rank.rank;
    rank.logits_by_gamma = ranks_by_gamma(logits_rank);
    rank.softmax_by_gamma = ranks_by_gamma(softmax_rank);
    rank.classes = classes;
    result.singular_values.logits = logits_rank.singular_values;
    result.singular_values.softmax = softmax_rank.singular_values;
    result.logits_norm = {norms.mean_row_norm, norms.frobenius, norms.sigma_1};
    result.accuracy = double(count_correct(test.logits, test.labels)) / n;
}

// One detector's AUROC and FPR95 with their 95% intervals over test samples (docs/METHODS.md),
// a fixed seed so that rerunning diagnose gives the same file.
DetectionRecord detection_record(const std::vector<double>& in, const std::vector<double>& out) {
    const analysis::DetectionIntervalOptions options;
    const analysis::DetectionIntervals intervals =
        analysis::detection_intervals(in, out, fpr_at_95_tpr, options);
    DetectionRecord d;
    d.auroc = auroc(in, out);
    d.fpr95 = fpr_at_95_tpr(in, out);
    d.auroc_delong = Bounds{intervals.auroc_delong.low, intervals.auroc_delong.high};
    d.auroc_bootstrap = Bounds{intervals.auroc_bootstrap.low, intervals.auroc_bootstrap.high};
    d.fpr95_bootstrap = Bounds{intervals.fpr95_bootstrap.low, intervals.fpr95_bootstrap.high};
    d.interval_method = IntervalMethod{analysis::kBootstrapMethod, analysis::kAurocIntervalMethod,
                                       options.resamples, options.seed, options.level};
    return d;
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
    std::unique_ptr<PhaseProgress> shown = phase(options.show_progress ? "NECO fit" : "", 1, "fits");
    neco.model = fit_neco(train.layers.back());  // on the features' device
    if (shown) shown->advance(1);
    neco.dim = options.neco_dim > 0 ? std::min<int>(options.neco_dim, int(dim))
                                    : std::min<int>(classes, int(dim));
    neco.times_max_logit = options.neco_max_logit == "yes" ||
                           (options.neco_max_logit == "auto" && model_name.rfind("resnet", 0) != 0);
    return neco;
}

// Every detector's score of every sample of `f` (higher = more in-distribution), by its key.
std::map<std::string, std::vector<double>> detector_scores(const Features& f,
                                                           const NecoScoring& neco, int classes) {
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
void ood_sections(Diagnostics& result, models::Model& model, const std::string& model_name,
                  std::vector<OodSet>& ood_sets, const Features& train, const Features& test,
                  int classes, const data::LoaderOptions& loading, const DiagnoseOptions& options) {
    const NecoScoring neco = fit_neco_scoring(train, classes, model_name, options);
    const int64_t dim = train.layers.back().size(1);
    const std::vector<float> train_penultimate = train.layers.back().to_vector();
    const std::vector<int32_t> train_labels = train.labels.to_int_vector();
    const auto scores_in = detector_scores(test, neco, classes);
    for (OodSet& set : ood_sets) {
        const std::string label = options.show_progress ? "OOD set " + set.spec + ": " : "";
        Features ood_test = extract(model, set.test, options.max_samples, loading,
                                    options.max_features, label.empty() ? "" : label + "test features");
        Features ood_train =
            extract(model, set.train, options.probe_train_samples, loading, options.max_features,
                    label.empty() ? "" : label + "training features");
        std::vector<double> ood_accuracy =
            probe_accuracies(ood_train, ood_test, set.train.num_classes, options.probe,
                             label.empty() ? "" : label + "probes");
        result.probes.ood[set.spec] = ood_accuracy;
        result.rho[set.spec] = ood_generalization_drop(ood_accuracy);
        const auto scores_out = detector_scores(ood_test, neco, classes);
        for (const OodDetector& detector : kOodDetectors) {
            const std::vector<double>& in = scores_in.at(detector.key);
            const std::vector<double>& out = scores_out.at(detector.key);
            result.ood_detection[detector.key][set.spec] = detection_record(in, out);
        }
        const std::vector<float> ood_penultimate = ood_test.layers.back().to_vector();
        result.orthodev[set.spec] = ortho_dev(train_penultimate.data(), train_labels.data(),
                                              train.layers.back().size(0), classes,
                                              ood_penultimate.data(), ood_test.logits.size(0), dim);
    }
    result.settings.neco_dim = neco.dim;
    result.settings.neco_times_max_logit = neco.times_max_logit;
}

// The settings the numbers were computed with, as the user typed them (experiments/settings.h).
DiagnoseSettings settings_record(const DiagnoseOptions& options, const Features& train,
                                 int64_t n, Device device, const RunState& run) {
    DiagnoseSettings s;
    s.gamma = options.gamma;
    s.gammas_reported = {1e-2, 1e-3, 1e-4};
    s.centered = options.center;
    s.samples_ranked = n;
    s.probe_train_samples = train.logits.size(0);
    s.max_features = options.max_features;
    s.max_rank_columns = kMaxRankColumns;
    s.probe_optimizer = "adam";
    float probe_lr = options.probe.lr;
    s.probe_lr = settings::to_json(&probe_lr).get<double>();
    s.probe_epochs = options.probe.epochs;
    s.probe_batch_size = options.probe.batch_size;
    s.probe_standardize = options.probe.standardize;
    s.kappa_fraction = 0.95;
    s.ood = options.ood;
    s.device = device_name(device);
    s.run_status = run.status;
    s.run_epochs_done = run.epochs_done;
    return s;
}

}  // namespace

Diagnostics diagnose(const std::string& run_dir_text, const DiagnoseOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    const fs::path run_dir(run_dir_text);
    validate_diagnose_options(options);  // options first: they are what the user just typed
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
    std::unique_ptr<PhaseProgress> loading_shown =
        phase(options.show_progress ? "loading data" : "",
              2 + 2 * static_cast<int64_t>(options.ood.size()), "splits");
    DiagnoseData data = load_diagnose_data(config, options);
    if (loading_shown) loading_shown->advance(2 + 2 * static_cast<int64_t>(options.ood.size()));
    loading_shown.reset();
    Diagnostics result;
    result.weights.emplace();
    auto model = load_trained_model(config, data.id_train, weights_path, device, &*result.weights);
    const int classes = data.id_train.num_classes;
    const data::LoaderOptions loading = normalisation_of(run_dir, data.id_train, device);
    const bool say = options.show_progress;

    Features test = extract(*model, data.id_test, options.max_samples, loading,
                            options.max_features, say ? "test features" : "");
    Features train = extract(*model, data.id_train, options.probe_train_samples, loading,
                             options.max_features, say ? "training features" : "");
    const std::vector<std::string> layer_names = model->probe_names();

    measure_spectra(result, test, layer_names, classes, config.temperature, options);

    std::vector<double> id_accuracy = probe_accuracies(train, test, classes, options.probe,
                                                       say ? "in-distribution probes" : "");
    result.probes.layers = layer_names;
    result.probes.id = id_accuracy;
    result.kappa = effective_depth(id_accuracy);

    result.settings = settings_record(options, train, test.logits.size(0), device, run);
    ood_sections(result, *model, config.model, data.ood, train, test, classes, loading, options);
    float temperature = config.temperature;
    result.temperature = settings::to_json(&temperature).get<double>();
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_file_atomically((run_dir / kDiagnosticsFile).string(), diagnostics_file_text(result));
    return result;
}

}  // namespace kelvin::experiments
