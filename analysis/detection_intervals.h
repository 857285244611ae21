// The 95% intervals diagnose writes beside a detector's AUROC and FPR95 (docs/METHODS.md):
// DeLong's normal interval for AUROC, and a stratified percentile bootstrap over the test
// samples for both (analysis/statistics.h: bootstrap_auroc_interval, which is
// bootstrap_interval with kelvin::auroc computed in O(n) per resample, and bootstrap_interval).
// FPR95 comes in as a function so that this file needs no detector code: pass
// kelvin::fpr_at_95_tpr.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "analysis/statistics.h"

namespace kelvin::analysis {

struct DetectionIntervalOptions {
    int64_t resamples = 1000;
    uint64_t seed = 1;
    double level = 0.95;
};

// {"auroc_interval": {"delong": [low, high], "bootstrap": [low, high]},
//  "fpr95_interval": {"bootstrap": [low, high]},
//  "interval_method": {"bootstrap": "stratified percentile", "resamples": R, "seed": S,
//                      "level": 0.95, "auroc": "DeLong (normal, clipped to [0, 1]) and bootstrap"}}
// to merge into diagnostics.json's ood_detection.<method>.<set> object.
nlohmann::json detection_intervals(const std::vector<double>& in_scores,
                                   const std::vector<double>& ood_scores, const ScoreMetric& fpr95,
                                   const DetectionIntervalOptions& options = {});

}  // namespace kelvin::analysis
