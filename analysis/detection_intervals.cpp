#include "analysis/detection_intervals.h"

namespace kelvin::analysis {

nlohmann::json detection_intervals(const std::vector<double>& in_scores,
                                   const std::vector<double>& ood_scores, const ScoreMetric& fpr95,
                                   const DetectionIntervalOptions& options) {
    const DelongResult d = delong_auroc(in_scores, ood_scores, options.level);
    // The same seed for both metrics: both intervals come from the same resamples.
    const Interval a = bootstrap_auroc_interval(in_scores, ood_scores, options.resamples,
                                                options.seed, options.level),
                   f = bootstrap_interval(in_scores, ood_scores, fpr95, options.resamples,
                                          options.seed, options.level);
    return {{"auroc_interval", {{"delong", {d.low, d.high}}, {"bootstrap", {a.low, a.high}}}},
            {"fpr95_interval", {{"bootstrap", {f.low, f.high}}}},
            {"interval_method", {{"bootstrap", "stratified percentile"},
                                 {"resamples", options.resamples},
                                 {"seed", options.seed},
                                 {"level", options.level},
                                 {"auroc", "DeLong (normal, clipped to [0, 1]) and bootstrap"}}}};
}

}  // namespace kelvin::analysis
