#include "analysis/ood_metrics.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>

#include "engine/ops.h"

namespace kelvin {
namespace {

void check_logits(const float* logits, int64_t n, int64_t classes, const char* who) {
    KELVIN_CHECK(n > 0 && classes > 0, std::string(who) + ": empty logits " + std::to_string(n) +
                                           " x " + std::to_string(classes));
    KELVIN_CHECK(logits != nullptr, std::string(who) + ": logits is null");
}

void check_scores(const std::vector<double>& in, const std::vector<double>& ood, const char* who) {
    KELVIN_CHECK(!in.empty() && !ood.empty(),
                 std::string(who) + ": needs in-distribution and OOD scores, got " +
                     std::to_string(in.size()) + " and " + std::to_string(ood.size()));
    for (const auto* scores : {&in, &ood})
        for (double s : *scores)
            KELVIN_CHECK(!std::isnan(s), std::string(who) + ": a score is NaN");
}

// Rows of features processed at a time in double, to bound scratch memory on large sets.
constexpr int64_t kChunkRows = 1024;

}  // namespace

// ---- logit scores -------------------------------------------------------------------------------

namespace {
// The largest logit of a row and sum_c exp(z_c - top): the stable pieces of softmax and
// logsumexp.
void top_and_exp_sum(const float* z, int64_t classes, double& top, double& sum) {
    top = *std::max_element(z, z + classes);
    sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(z[c] - top);
}
}  // namespace

std::vector<double> msp_scores(const float* logits, int64_t n, int64_t classes) {
    check_logits(logits, n, classes, "msp_scores");
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        double top, sum;
        top_and_exp_sum(logits + i * classes, classes, top, sum);
        out[i] = 1.0 / sum;  // exp(top - top) / sum
    }
    return out;
}

std::vector<double> max_logit_scores(const float* logits, int64_t n, int64_t classes) {
    check_logits(logits, n, classes, "max_logit_scores");
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const float* z = logits + i * classes;
        out[i] = *std::max_element(z, z + classes);
    }
    return out;
}

std::vector<double> energy_scores(const float* logits, int64_t n, int64_t classes) {
    check_logits(logits, n, classes, "energy_scores");
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        double top, sum;
        top_and_exp_sum(logits + i * classes, classes, top, sum);
        out[i] = top + std::log(sum);
    }
    return out;
}

// ---- AUROC and FPR95 ----------------------------------------------------------------------------

double auroc(const std::vector<double>& in_scores, const std::vector<double>& ood_scores) {
    check_scores(in_scores, ood_scores, "auroc");
    // Rank all scores together (ties share their mean rank); the in-distribution rank sum minus
    // its minimum n_in (n_in + 1) / 2 counts the (in, ood) pairs won, ties as halves.
    std::vector<std::pair<double, bool>> all;
    all.reserve(in_scores.size() + ood_scores.size());
    for (double s : in_scores) all.emplace_back(s, true);
    for (double s : ood_scores) all.emplace_back(s, false);
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    double in_rank_sum = 0;  // ranks are 1-based; half-integers sum exactly in double
    for (size_t start = 0; start < all.size();) {
        size_t end = start;
        int64_t in_count = 0;
        while (end < all.size() && all[end].first == all[start].first)
            in_count += all[end++].second;
        const double mean_rank = 0.5 * static_cast<double>(start + 1 + end);
        in_rank_sum += mean_rank * static_cast<double>(in_count);
        start = end;
    }
    const double n_in = static_cast<double>(in_scores.size());
    const double n_ood = static_cast<double>(ood_scores.size());
    return (in_rank_sum - n_in * (n_in + 1) / 2) / (n_in * n_ood);
}

// The threshold is the k-th largest in-distribution score, k = ceil(0.95 * n_in) (computed in
// integers, so that 0.95 * 20 is exactly 19): the largest threshold that keeps at least 95% of
// the in-distribution samples at score >= threshold (more when scores tie at it). FPR95 is the
// fraction of OOD samples with score >= threshold.
double fpr_at_95_tpr(const std::vector<double>& in_scores, const std::vector<double>& ood_scores) {
    check_scores(in_scores, ood_scores, "fpr_at_95_tpr");
    const int64_t n_in = static_cast<int64_t>(in_scores.size());
    const int64_t k = (95 * n_in + 99) / 100;
    std::vector<double> sorted = in_scores;
    std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<>());
    const double threshold = sorted[k - 1];
    const auto false_positives = std::count_if(ood_scores.begin(), ood_scores.end(),
                                               [&](double s) { return s >= threshold; });
    return static_cast<double>(false_positives) / static_cast<double>(ood_scores.size());
}

// ---- NECO ---------------------------------------------------------------------------------------

// The public NECO code fits sklearn's StandardScaler, then PCA(n_components=D) on the scaled
// training features, and scores ||pca.transform(s(h))[:, :d]|| / ||s(h)||. PCA.transform also
// subtracts the mean of the scaled training features; that mean is zero (up to rounding) because
// the scaler already centred them, so kelvin omits it: transform(s(h)) = V s(h).
// The covariance is accumulated in double (a Gram matrix in float32 would blur the small
// principal directions NECO's null space is made of).
namespace {
// out (rows x D, float64) = the scaler s(h) = (h - mean) / scale applied to rows of features.
void standardize_rows(const NecoModel& model, const float* features, int64_t rows, double* out) {
    const int64_t dim = model.dim;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < dim; ++j)
            out[i * dim + j] = (features[i * dim + j] - model.mean[j]) / model.scale[j];
}
}  // namespace

NecoModel fit_neco(const float* features, int64_t n, int64_t dim) {
    KELVIN_CHECK(n >= 2 && dim > 0, "fit_neco: needs at least 2 samples of dimension >= 1, got " +
                                        std::to_string(n) + " x " + std::to_string(dim));
    NecoModel model;
    model.dim = dim;
    model.mean.assign(static_cast<size_t>(dim), 0.0);
    model.scale.assign(static_cast<size_t>(dim), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < dim; ++j) model.mean[j] += features[i * dim + j];
    for (double& m : model.mean) m /= static_cast<double>(n);
    std::vector<double> variance(static_cast<size_t>(dim), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < dim; ++j) {
            const double centred = features[i * dim + j] - model.mean[j];
            variance[j] += centred * centred;
        }
    for (int64_t j = 0; j < dim; ++j) {
        KELVIN_CHECK(std::isfinite(variance[j]),
                     "fit_neco: feature " + std::to_string(j) + " has non-finite values");
        const double std_dev = std::sqrt(variance[j] / static_cast<double>(n));
        // As in sklearn, a feature whose spread is at rounding level is constant: scale 1.
        const double tiny =
            10 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::fabs(model.mean[j]));
        model.scale[j] = std_dev < tiny ? 1.0 : std_dev;
    }

    std::vector<double> covariance(static_cast<size_t>(dim * dim), 0.0);
    std::vector<double> scaled(static_cast<size_t>(std::min(n, kChunkRows) * dim));
    for (int64_t r0 = 0; r0 < n; r0 += kChunkRows) {
        const int64_t rows = std::min(kChunkRows, n - r0);
        standardize_rows(model, features + r0 * dim, rows, scaled.data());
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(dim),
                    static_cast<int>(rows), 1.0, scaled.data(), static_cast<int>(dim), 1.0,
                    covariance.data(), static_cast<int>(dim));
    }
    const double inv = 1.0 / static_cast<double>(n - 1);  // ddof = 1, as sklearn's PCA
    for (int64_t i = 0; i < dim; ++i)
        for (int64_t j = i; j < dim; ++j) {
            covariance[i * dim + j] *= inv;
            covariance[j * dim + i] = covariance[i * dim + j];
        }

    ops::SymmetricEigen pca = ops::symmetric_eigen(covariance, dim, Device::CPU);
    model.explained_variance = std::move(pca.eigenvalues);
    model.components = std::move(pca.eigenvectors);
    return model;
}

std::vector<double> neco_scores(const NecoModel& model, const float* features, int64_t n, int64_t d,
                                const double* max_logits) {
    const int64_t dim = model.dim;
    KELVIN_CHECK(dim > 0 && static_cast<int64_t>(model.components.size()) == dim * dim,
                 "neco_scores: the model is not fitted");
    KELVIN_CHECK(d >= 1 && d <= dim, "neco_scores: d must lie in 1.." + std::to_string(dim) +
                                         ", got " + std::to_string(d));
    KELVIN_CHECK(n >= 0, "neco_scores: negative sample count");
    std::vector<double> out(static_cast<size_t>(n));
    std::vector<double> scaled(static_cast<size_t>(std::min(n, kChunkRows) * dim));
    std::vector<double> projected(static_cast<size_t>(std::min(n, kChunkRows) * d));
    for (int64_t r0 = 0; r0 < n; r0 += kChunkRows) {
        const int64_t rows = std::min(kChunkRows, n - r0);
        standardize_rows(model, features + r0 * dim, rows, scaled.data());
        // projected (rows x d) = scaled (rows x D) * components[:d]^T
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                    static_cast<int>(d), static_cast<int>(dim), 1.0, scaled.data(),
                    static_cast<int>(dim), model.components.data(), static_cast<int>(dim), 0.0,
                    projected.data(), static_cast<int>(d));
        for (int64_t i = 0; i < rows; ++i) {
            double full = 0, kept = 0;
            for (int64_t j = 0; j < dim; ++j) full += scaled[i * dim + j] * scaled[i * dim + j];
            for (int64_t j = 0; j < d; ++j) kept += projected[i * d + j] * projected[i * d + j];
            double score = full > 0 ? std::sqrt(kept / full) : 0.0;
            if (max_logits) score *= max_logits[r0 + i];
            out[r0 + i] = score;
        }
    }
    return out;
}

// ---- OrthoDev -----------------------------------------------------------------------------------

double ortho_dev(const float* id_features, const int32_t* id_labels, int64_t n_id, int64_t classes,
                 const float* ood_features, int64_t n_ood, int64_t dim) {
    KELVIN_CHECK(n_id > 0 && n_ood > 0 && classes > 0 && dim > 0,
                 "ortho_dev: needs in-distribution and OOD samples, classes and features");
    std::vector<double> class_sum(static_cast<size_t>(classes * dim), 0.0);
    std::vector<int64_t> class_count(static_cast<size_t>(classes), 0);
    for (int64_t i = 0; i < n_id; ++i) {
        const int32_t y = id_labels[i];
        KELVIN_CHECK(y >= 0 && y < classes, "ortho_dev: label " + std::to_string(y) +
                                                " of sample " + std::to_string(i) +
                                                " is outside 0.." + std::to_string(classes - 1));
        ++class_count[y];
        for (int64_t j = 0; j < dim; ++j) class_sum[y * dim + j] += id_features[i * dim + j];
    }
    std::vector<double> ood_mean(static_cast<size_t>(dim), 0.0);
    for (int64_t i = 0; i < n_ood; ++i)
        for (int64_t j = 0; j < dim; ++j) ood_mean[j] += ood_features[i * dim + j];
    // Cosines do not see the 1/count factors of the means: sums will do.
    double ood_norm = 0;
    for (double v : ood_mean) ood_norm += v * v;
    ood_norm = std::sqrt(ood_norm);

    double total = 0;
    int64_t present = 0;
    for (int64_t c = 0; c < classes; ++c) {
        if (class_count[c] == 0) continue;
        ++present;
        double dot = 0, norm = 0;
        for (int64_t j = 0; j < dim; ++j) {
            dot += class_sum[c * dim + j] * ood_mean[j];
            norm += class_sum[c * dim + j] * class_sum[c * dim + j];
        }
        const double denominator = std::sqrt(norm) * ood_norm;
        if (denominator > 0) total += std::fabs(dot) / denominator;
    }
    return total / static_cast<double>(present);
}

// ---- probe summaries ----------------------------------------------------------------------------

namespace {
void check_accuracies(const std::vector<double>& a, const char* who) {
    KELVIN_CHECK(!a.empty(), std::string(who) + ": no layer accuracies");
    for (double v : a)
        KELVIN_CHECK(
            std::isfinite(v) && v >= 0,
            std::string(who) + ": accuracies must be finite and >= 0, got " + std::to_string(v));
}
}  // namespace

double effective_depth(const std::vector<double>& layer_accuracies, double fraction) {
    check_accuracies(layer_accuracies, "effective_depth");
    KELVIN_CHECK(fraction > 0 && fraction <= 1,
                 "effective_depth: fraction must lie in (0, 1], got " + std::to_string(fraction));
    const double target = fraction * layer_accuracies.back();
    size_t first = layer_accuracies.size() - 1;  // the last layer always reaches its own level
    for (size_t l = 0; l < layer_accuracies.size(); ++l)
        if (layer_accuracies[l] >= target) {
            first = l;
            break;
        }
    return static_cast<double>(first + 1) / static_cast<double>(layer_accuracies.size());
}

double ood_generalization_drop(const std::vector<double>& layer_accuracies) {
    check_accuracies(layer_accuracies, "ood_generalization_drop");
    const double best = *std::max_element(layer_accuracies.begin(), layer_accuracies.end());
    if (best == 0) return 0;
    return (best - layer_accuracies.back()) / best;
}

}  // namespace kelvin
