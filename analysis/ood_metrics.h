// Out-of-distribution diagnostics on host arrays (docs: METHODS.md, "Linear probes..." and
// "OOD detection"): detection scores (MSP, MaxLogit, Energy, NECO), the threshold-free AUROC and
// FPR at 95% TPR, NC5's OrthoDev, and the effective depth kappa and OOD generalisation drop rho
// from per-layer probe accuracies. Every score is "higher = more in-distribution".
#pragma once

#include <cstdint>
#include <vector>

namespace kelvin {

// ---- scores from an N x C row-major logits matrix ---------------------------------------------
// Maximum softmax probability at T = 1, whatever temperature the network was trained at.
std::vector<double> msp_scores(const float* logits, int64_t n, int64_t classes);
std::vector<double> max_logit_scores(const float* logits, int64_t n, int64_t classes);
// logsumexp(z): the negated free energy at T = 1.
std::vector<double> energy_scores(const float* logits, int64_t n, int64_t classes);

// ---- detection metrics; in-distribution is the positive class -----------------------------------
// Probability that a random in-distribution score exceeds a random OOD score, ties counting 1/2
// (the Mann-Whitney U statistic over n_in * n_ood). O(n log n).
double auroc(const std::vector<double>& in_scores, const std::vector<double>& ood_scores);
// Fraction of OOD scores at or above the threshold that keeps 95% of in-distribution scores;
// the exact rule is documented at the definition.
double fpr_at_95_tpr(const std::vector<double>& in_scores, const std::vector<double>& ood_scores);

// ---- NECO (Ammar et al., ICLR 2024) -------------------------------------------------------------
// A StandardScaler and a full PCA fitted on in-distribution training penultimate features.
struct NecoModel {
    int64_t dim = 0;                         // feature dimension D
    std::vector<double> mean, scale;         // scaler: s(h) = (h - mean) / scale, per feature
    std::vector<double> components;          // D x D row-major, row k = k-th principal axis
    std::vector<double> explained_variance;  // eigenvalues (ddof = 1), descending
};

// Fits on the row-major n x dim host features. scale is the standard deviation with ddof = 0
// (sklearn's StandardScaler); a feature that is constant on the training set gets scale 1.
NecoModel fit_neco(const float* features, int64_t n, int64_t dim);
// score = ||P_d s(h)|| / ||s(h)||, P_d the projection on the first d principal axes; multiplied
// by max_logits[i] when max_logits is not null (the public code does so except for ResNets).
// A sample with s(h) = 0 scores 0.
std::vector<double> neco_scores(const NecoModel& model, const float* features, int64_t n, int64_t d,
                                const double* max_logits = nullptr);

// ---- Neural Collapse NC5 ------------------------------------------------------------------------
// Mean over classes c of |cos(mu_c, mu_ood)|: mu_c the uncentred mean of the in-distribution
// features of class c (labels in [0, classes)), mu_ood the mean of all OOD features. Classes
// without samples are left out of the mean; a zero mean vector counts as cosine 0.
double ortho_dev(const float* id_features, const int32_t* id_labels, int64_t n_id, int64_t classes,
                 const float* ood_features, int64_t n_ood, int64_t dim);

// ---- probe-accuracy summaries (accuracies per layer, input side first) --------------------------
// kappa = l* / L, l* the 1-based index of the first layer whose accuracy is at least
// `fraction` of the last layer's.
double effective_depth(const std::vector<double>& layer_accuracies, double fraction = 0.95);
// rho = (max_l a_l - a_L) / max_l a_l; 0 when every accuracy is 0.
double ood_generalization_drop(const std::vector<double>& layer_accuracies);

}  // namespace kelvin
