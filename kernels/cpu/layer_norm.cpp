// Layer normalisation over the last axis, the reference. Rows are independent, so threads split
// rows for the forward pass and dx; the weight and bias gradients are column sums, which threads
// split by column so that each sum still runs over rows in order (thread-count independent).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/norm.h"

namespace kelvin::cpu {

void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y,
                        float* mean, float* rstd, int64_t rows, int64_t d, float eps) {
#pragma omp parallel for schedule(static) if (rows * d > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * d;
        float* yr = y + r * d;
        double sum = 0.0;
        for (int64_t j = 0; j < d; ++j) sum += xr[j];
        const double mu = sum / d;
        double squares = 0.0;  // second pass: deviations from the mean, no cancellation
        for (int64_t j = 0; j < d; ++j) {
            const double dev = xr[j] - mu;
            squares += dev * dev;
        }
        const float m = static_cast<float>(mu);
        const float rs = static_cast<float>(1.0 / std::sqrt(squares / d + eps));
        mean[r] = m;
        rstd[r] = rs;
        for (int64_t j = 0; j < d; ++j) {
            const float xhat = (xr[j] - m) * rs;
            yr[j] = xhat * (weight ? weight[j] : 1.0f) + (bias ? bias[j] : 0.0f);
        }
    }
}

void layer_norm_backward(const float* x, const float* dy, const float* weight, const float* mean,
                         const float* rstd, float* dx, float* dweight, float* dbias,
                         int64_t rows, int64_t d) {
    if (dx) {
        // With g = dy * weight: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
#pragma omp parallel for schedule(static) if (rows * d > kParallelThreshold)
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * d;
            const float* gr = dy + r * d;
            float* out = dx + r * d;
            const float m = mean[r], rs = rstd[r];
            double sum_g = 0.0, sum_g_xhat = 0.0;
            for (int64_t j = 0; j < d; ++j) {
                const double g = gr[j] * (weight ? weight[j] : 1.0f);
                sum_g += g;
                sum_g_xhat += g * ((xr[j] - m) * rs);
            }
            const float mean_g = static_cast<float>(sum_g / d);
            const float mean_g_xhat = static_cast<float>(sum_g_xhat / d);
            for (int64_t j = 0; j < d; ++j) {
                const float g = gr[j] * (weight ? weight[j] : 1.0f);
                const float xhat = (xr[j] - m) * rs;
                out[j] = rs * (g - mean_g - xhat * mean_g_xhat);
            }
        }
    }
    if (dweight || dbias) {
        // Columns in blocks of 64 per task: each task walks every row over its own columns.
        constexpr int64_t kColumnBlock = 64;
        const int64_t blocks = (d + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (rows * d > kParallelThreshold)
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t begin = b * kColumnBlock, end = std::min(d, begin + kColumnBlock);
            double acc_w[kColumnBlock] = {}, acc_b[kColumnBlock] = {};
            for (int64_t r = 0; r < rows; ++r) {
                const float* xr = x + r * d;
                const float* gr = dy + r * d;
                const float m = mean[r], rs = rstd[r];
                for (int64_t j = begin; j < end; ++j) {
                    acc_w[j - begin] += static_cast<double>(gr[j]) * ((xr[j] - m) * rs);
                    acc_b[j - begin] += gr[j];
                }
            }
            for (int64_t j = begin; j < end; ++j) {
                if (dweight) dweight[j] = static_cast<float>(acc_w[j - begin]);
                if (dbias) dbias[j] = static_cast<float>(acc_b[j - begin]);
            }
        }
    }
}

}  // namespace kelvin::cpu
