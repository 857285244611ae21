// diagnostics.json, typed: what `kelvin diagnose` measured of a run's weights. diagnose writes
// it (diagnostics_to_json); the summary, the report, the claims and sweep read it
// (diagnostics_from_json, through experiments/run_record.h). No other code looks into its JSON.
//
// {"accuracy", "kappa", "temperature", "seconds",
//  "rank": {"logits", "softmax", "classes", "by_gamma": {"logits": {G: r}, "softmax": {G: r}},
//           "layers": [{"name", "rank", "by_gamma", "rows", "cols", "features",
//                       "columns_ranked"}]},
//  "singular_values": {"logits": [...], "softmax": [...], "layers": {NAME: [...]}},
//  "logits_norm": {"mean", "frobenius", "sigma_1"},
//  "probes": {"layers": [NAME], "id": [acc], "ood": {SET: [acc]}},
//  "rho": {SET: r}, "orthodev": {SET: d},
//  "ood_detection": {DETECTOR: {SET: {"auroc", "fpr95", "auroc_interval", "fpr95_interval",
//                                      "interval_method"}}},
//  "settings": {...}, "weights": {"file", "weights_digest", "epochs_done", "step"}}
// G is a rank threshold as "%g" ("0.001"); SET an OOD data set spec as the user wrote it;
// DETECTOR one of kOodDetectors (experiments/run_files.h). Files written before a part existed
// (intervals, weights: tests/fixtures/sweep-before-issue10) read with it absent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/run_metrics.h"  // kNoValue

namespace kelvin::experiments {

// Ranks at the reported thresholds, by the threshold's "%g" text.
using RanksByGamma = std::map<std::string, int64_t>;

struct LayerRank {
    std::string name;  // the probe point (models' probe_names)
    int64_t rank = 0;
    RanksByGamma by_gamma;
    int64_t rows = 0, cols = 0;
    int64_t features = 0;        // the layer's width after pooling
    int64_t columns_ranked = 0;  // <= features: a seeded subset beyond max_rank_columns
};

struct RankSection {
    int64_t logits = 0, softmax = 0;
    int64_t classes = 0;
    RanksByGamma logits_by_gamma, softmax_by_gamma;
    std::vector<LayerRank> layers;
};

struct SpectraSection {
    std::vector<double> logits, softmax;
    std::map<std::string, std::vector<double>> layers;  // by probe point
};

struct LogitsNormSection {
    double mean = kNoValue, frobenius = kNoValue, sigma_1 = kNoValue;
};

struct ProbeSection {
    std::vector<std::string> layers;
    std::vector<double> id;                                // in-distribution accuracy per layer
    std::map<std::string, std::vector<double>> ood;        // by OOD set
};

// A [low, high] 95% interval.
struct Bounds {
    double low = kNoValue, high = kNoValue;
};

// How the intervals were computed (analysis/detection_intervals.h).
struct IntervalMethod {
    std::string bootstrap, auroc;
    int64_t resamples = 0;
    uint64_t seed = 0;
    double level = kNoValue;
};

// One detector on one OOD set.
struct DetectionRecord {
    double auroc = kNoValue, fpr95 = kNoValue;
    std::optional<Bounds> auroc_delong, auroc_bootstrap, fpr95_bootstrap;
    std::optional<IntervalMethod> interval_method;
};

// The settings the numbers were computed with.
struct DiagnoseSettings {
    double gamma = kNoValue;
    std::vector<double> gammas_reported;
    bool centered = false;
    int64_t samples_ranked = 0, probe_train_samples = 0, max_features = 0, max_rank_columns = 0;
    std::string probe_optimizer;
    double probe_lr = kNoValue;
    int64_t probe_epochs = 0, probe_batch_size = 0;
    bool probe_standardize = false;
    double kappa_fraction = kNoValue;
    std::vector<std::string> ood;
    std::string device;
    // What the run was when it was measured (compared by stale_diagnostics_reason).
    std::string run_status;
    std::optional<int64_t> run_epochs_done;  // -1: no metrics.json
    int64_t neco_dim = 0;
    bool neco_times_max_logit = false;
};

// The weights the diagnostics were computed from.
struct WeightsRecord {
    std::string file;
    std::string weights_digest;
    std::optional<int64_t> epochs_done, step;  // absent for a checkpoint trained elsewhere
};

struct Diagnostics {
    double accuracy = kNoValue;
    double kappa = kNoValue;
    double temperature = kNoValue;
    double seconds = kNoValue;
    RankSection rank;
    SpectraSection singular_values;
    LogitsNormSection logits_norm;
    ProbeSection probes;
    std::map<std::string, double> rho, orthodev;  // by OOD set
    // ood_detection[detector][set]
    std::map<std::string, std::map<std::string, DetectionRecord>> ood_detection;
    DiagnoseSettings settings;
    std::optional<WeightsRecord> weights;
};

// The one reader, lenient as every reader of finished runs was: a part the file lacks or holds
// with another type (or a file that is not an object) reads as empty (numbers NaN).
Diagnostics diagnostics_from_json(const nlohmann::json& j);
// The one writer: the JSON diagnostics.json holds (dump(2) and a newline:
// diagnostics_file_text).
nlohmann::json diagnostics_to_json(const Diagnostics& d);
std::string diagnostics_file_text(const Diagnostics& d);

}  // namespace kelvin::experiments
