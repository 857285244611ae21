#include "analysis/neco_fit.h"

#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops.h"

namespace kelvin {

NecoModel fit_neco(const Tensor& features) {
    NoGradGuard no_grad;
    KELVIN_CHECK(features.ndim() == 2 && features.size(0) >= 2 && features.size(1) >= 1,
                 "fit_neco: needs [N >= 2, D >= 1] features, got " + features.describe());
    const int64_t n = features.size(0), dim = features.size(1);
    // Mean and (ddof 0) standard deviation from the column sums of x and x^2; both sums
    // accumulate in double on either device.
    const std::vector<float> sums = ops::sum_rows(features).to_vector();
    const std::vector<float> squares = ops::sum_rows(ops::mul(features, features)).to_vector();
    NecoModel model;
    model.dim = dim;
    model.mean.resize(dim);
    model.scale.resize(dim);
    std::vector<float> inv_scale(dim), shift(dim);
    for (int64_t j = 0; j < dim; ++j) {
        const double mean = double(sums[j]) / n;
        const double variance = std::max(0.0, double(squares[j]) / n - mean * mean);
        KELVIN_CHECK(std::isfinite(variance),
                     "fit_neco: feature " + std::to_string(j) + " has non-finite values");
        const double std_dev = std::sqrt(variance);
        // As in sklearn, a feature whose spread is at rounding level is constant: scale 1.
        const double tiny = 1e-6 * std::max(1.0, std::fabs(mean));
        model.mean[j] = mean;
        model.scale[j] = std_dev < tiny ? 1.0 : std_dev;
        inv_scale[j] = static_cast<float>(1.0 / model.scale[j]);
        shift[j] = static_cast<float>(-mean / model.scale[j]);
    }
    const Device device = features.device();
    Tensor scaled = ops::column_affine(features, Tensor::from_vector(inv_scale, {dim}, device),
                                       Tensor::from_vector(shift, {dim}, device));
    // Covariance with ddof 1, as sklearn's PCA (the scaled data has mean ~0).
    Tensor covariance = ops::scale(ops::gram(scaled), 1.0f / static_cast<float>(n - 1));
    std::vector<float> host_cov = covariance.to_vector();
    std::vector<double> cov(host_cov.begin(), host_cov.end());
    for (int64_t i = 0; i < dim; ++i)  // exact symmetry for the eigensolver
        for (int64_t j = i + 1; j < dim; ++j)
            cov[i * dim + j] = cov[j * dim + i] = 0.5 * (cov[i * dim + j] + cov[j * dim + i]);
    ops::SymmetricEigen pca = ops::symmetric_eigen(cov, dim, device);
    model.explained_variance = std::move(pca.eigenvalues);
    model.components = std::move(pca.eigenvectors);
    return model;
}

}  // namespace kelvin
