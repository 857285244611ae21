// Batch normalisation, the reference. Channels are independent, so threads split them (or the
// (n, channel) planes for pointwise passes) and every sum runs in double within its channel in
// a fixed order (16 lanes, below): the result does not depend on the thread count.
#include <cmath>

#include "kernels/cpu/parallel.h"
#include "kernels/norm.h"

namespace kelvin::cpu {

namespace {

// Sums in double over 16 independent lanes (element s goes to lane s % 16, lanes added in
// order at the end): a fixed order, so results do not depend on the thread count, and no
// serial dependency chain, so the loop keeps up with memory (one chain ran at ~4 GB/s).
constexpr int kLanes = 16;

double lanes_total(const double* lanes) {
    double total = 0.0;
    for (int l = 0; l < kLanes; ++l) total += lanes[l];
    return total;
}

// sum of p[s] and of (p[s] - mu)^2 over a plane of n values, accumulated into the lanes.
void add_plane(const float* p, int64_t n, double* sums) {
    int64_t s = 0;
    for (; s + kLanes <= n; s += kLanes)
        for (int l = 0; l < kLanes; ++l) sums[l] += p[s + l];
    for (int l = 0; s < n; ++s, ++l) sums[l] += p[s];
}

void add_squares(const float* p, int64_t n, double mu, double* sums) {
    int64_t s = 0;
    for (; s + kLanes <= n; s += kLanes)
        for (int l = 0; l < kLanes; ++l) {
            const double d = p[s + l] - mu;
            sums[l] += d * d;
        }
    for (int l = 0; s < n; ++s, ++l) {
        const double d = p[s] - mu;
        sums[l] += d * d;
    }
}

// sum of g[s] and of g[s] * (x[s] - mu).
void add_gradient(const float* g, const float* x, int64_t n, float mu, double* sums,
                  double* centered) {
    int64_t s = 0;
    for (; s + kLanes <= n; s += kLanes)
        for (int l = 0; l < kLanes; ++l) {
            const double grad = g[s + l];
            sums[l] += grad;
            centered[l] += grad * (x[s + l] - mu);
        }
    for (int l = 0; s < n; ++s, ++l) {
        sums[l] += g[s];
        centered[l] += double(g[s]) * (x[s] - mu);
    }
}

}  // namespace

void batch_norm_statistics(const float* x, float* mean, float* invstd, float* running_mean,
                           float* running_var, int64_t n, int64_t c, int64_t hw, float momentum,
                           float eps) {
    const int64_t count = n * hw;
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelThreshold)
    for (int64_t ch = 0; ch < c; ++ch) {
        // Two passes: the mean first, then squared deviations from it, so that a channel with a
        // large mean and a small spread keeps its variance.
        double lanes[kLanes] = {};
        for (int64_t i = 0; i < n; ++i) add_plane(x + (i * c + ch) * hw, hw, lanes);
        const double mu = count > 0 ? lanes_total(lanes) / count : 0.0;
        double square_lanes[kLanes] = {};
        for (int64_t i = 0; i < n; ++i) add_squares(x + (i * c + ch) * hw, hw, mu, square_lanes);
        const double squares = lanes_total(square_lanes);
        const double var = count > 0 ? squares / count : 0.0;
        mean[ch] = static_cast<float>(mu);
        invstd[ch] = static_cast<float>(1.0 / std::sqrt(var + eps));
        if (running_mean) {
            const double unbiased = count > 1 ? squares / (count - 1) : var;
            running_mean[ch] =
                static_cast<float>((1.0 - momentum) * running_mean[ch] + momentum * mu);
            running_var[ch] =
                static_cast<float>((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        }
    }
}

void batch_norm_inverse_std(const float* var, float* invstd, int64_t c, float eps) {
    for (int64_t ch = 0; ch < c; ++ch)
        invstd[ch] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[ch]) + eps));
}

void batch_norm_apply(const float* x, const float* mean, const float* invstd,
                      const float* weight, const float* bias, float* y, int64_t n, int64_t c,
                      int64_t hw) {
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelThreshold)
    for (int64_t plane = 0; plane < n * c; ++plane) {
        const int64_t ch = plane % c;
        const float scale = invstd[ch] * (weight ? weight[ch] : 1.0f);
        const float shift = bias ? bias[ch] : 0.0f;
        const float mu = mean[ch];
        const float* xp = x + plane * hw;
        float* yp = y + plane * hw;
#pragma omp simd
        for (int64_t s = 0; s < hw; ++s) yp[s] = (xp[s] - mu) * scale + shift;
    }
}

void batch_norm_backward_reduce(const float* x, const float* dy, const float* mean,
                                const float* invstd, float* sum_dy, float* sum_dy_xhat,
                                int64_t n, int64_t c, int64_t hw) {
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelThreshold)
    for (int64_t ch = 0; ch < c; ++ch) {
        const float mu = mean[ch];
        double sums[kLanes] = {}, centered[kLanes] = {};
        for (int64_t i = 0; i < n; ++i) {
            const int64_t base = (i * c + ch) * hw;
            add_gradient(dy + base, x + base, hw, mu, sums, centered);
        }
        const double total_dy = lanes_total(sums), total_dy_centered = lanes_total(centered);
        sum_dy[ch] = static_cast<float>(total_dy);
        sum_dy_xhat[ch] = static_cast<float>(total_dy_centered * invstd[ch]);
    }
}

void batch_norm_backward_input(const float* x, const float* dy, const float* mean,
                               const float* invstd, const float* weight, const float* sum_dy,
                               const float* sum_dy_xhat, float* dx, int64_t n, int64_t c,
                               int64_t hw, bool batch_statistics) {
    const float inv_count = n * hw > 0 ? 1.0f / static_cast<float>(n * hw) : 0.0f;
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelThreshold)
    for (int64_t plane = 0; plane < n * c; ++plane) {
        const int64_t ch = plane % c;
        const float mu = mean[ch], rs = invstd[ch];
        const float gain = rs * (weight ? weight[ch] : 1.0f);
        const float mean_dy = batch_statistics ? sum_dy[ch] * inv_count : 0.0f;
        const float mean_dy_xhat = batch_statistics ? sum_dy_xhat[ch] * inv_count : 0.0f;
        const float* xp = x + plane * hw;
        const float* gp = dy + plane * hw;
        float* out = dx + plane * hw;
#pragma omp simd
        for (int64_t s = 0; s < hw; ++s)
            out[s] = gain * (gp[s] - mean_dy - (xp[s] - mu) * rs * mean_dy_xhat);
    }
}

}  // namespace kelvin::cpu
