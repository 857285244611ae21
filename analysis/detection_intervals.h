// The 95% intervals diagnose writes beside a detector's AUROC and FPR95 (docs/METHODS.md):
// DeLong's normal interval for AUROC, and a stratified percentile bootstrap over the test
// samples for both (analysis/statistics.h: bootstrap_auroc_interval, which is
// bootstrap_interval with kelvin::auroc computed in O(n) per resample, and bootstrap_interval).
// FPR95 comes in as a function so that this file needs no detector code: pass
// kelvin::fpr_at_95_tpr.
#pragma once

#include <vector>

#include "analysis/statistics.h"

namespace kelvin::analysis {

struct DetectionIntervalOptions {
    int64_t resamples = 1000;
    uint64_t seed = 1;
    double level = 0.95;
};

// How the intervals are computed, as diagnostics.json records it beside them.
inline constexpr const char* kBootstrapMethod = "stratified percentile";
inline constexpr const char* kAurocIntervalMethod = "DeLong (normal, clipped to [0, 1]) and bootstrap";

struct DetectionIntervals {
    DelongResult auroc_delong;
    Interval auroc_bootstrap, fpr95_bootstrap;  // from the same resamples
};

DetectionIntervals detection_intervals(const std::vector<double>& in_scores,
                                       const std::vector<double>& ood_scores,
                                       const ScoreMetric& fpr95,
                                       const DetectionIntervalOptions& options = {});

}  // namespace kelvin::analysis
