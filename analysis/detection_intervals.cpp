#include "analysis/detection_intervals.h"

namespace kelvin::analysis {

DetectionIntervals detection_intervals(const std::vector<double>& in_scores,
                                       const std::vector<double>& ood_scores,
                                       const ScoreMetric& fpr95,
                                       const DetectionIntervalOptions& options) {
    DetectionIntervals out;
    out.auroc_delong = delong_auroc(in_scores, ood_scores, options.level);
    // The same seed for both metrics: both intervals come from the same resamples.
    out.auroc_bootstrap = bootstrap_auroc_interval(in_scores, ood_scores, options.resamples,
                                                   options.seed, options.level);
    out.fpr95_bootstrap = bootstrap_interval(in_scores, ood_scores, fpr95, options.resamples,
                                             options.seed, options.level);
    return out;
}

}  // namespace kelvin::analysis
