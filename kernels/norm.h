// Batch normalisation over [N, C, H*W] and layer normalisation over the last axis of [rows, D].
// Sums run in double (batch norm) or in a fixed order (layer norm): deterministic on both
// devices, with no float atomics. Optional per-channel or per-column pointers (weight, bias,
// running statistics, gradients) may be null: null weight means 1, null bias means 0, a null
// gradient output is not computed.
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_NORM_DECLARATIONS                                                             \
    /* ---- batch norm: x is [n, c, hw] contiguous; per-channel arrays are [c] ---- */       \
    /* mean[ch] and invstd[ch] = 1/sqrt(biased var + eps) of x over (n, hw). When running    \
       statistics are given they become (1-momentum)*running + momentum*stat, with the       \
       unbiased variance (n*hw > 1 is the caller's check). */                                \
    void batch_norm_statistics(const float* x, float* mean, float* invstd, float* running_mean, \
                               float* running_var, int64_t n, int64_t c, int64_t hw,          \
                               float momentum, float eps);                                   \
    /* invstd[ch] = 1/sqrt(var[ch] + eps): evaluation mode's scale from the running variance */ \
    void batch_norm_inverse_std(const float* var, float* invstd, int64_t c, float eps);       \
    /* y = (x - mean[ch]) * invstd[ch] * weight[ch] + bias[ch] */                             \
    void batch_norm_apply(const float* x, const float* mean, const float* invstd,             \
                          const float* weight, const float* bias, float* y, int64_t n,        \
                          int64_t c, int64_t hw);                                            \
    /* sum_dy[ch] = sum dy, sum_dy_xhat[ch] = sum dy * (x - mean[ch]) * invstd[ch]; these    \
       are also the bias and weight gradients */                                             \
    void batch_norm_backward_reduce(const float* x, const float* dy, const float* mean,       \
                                    const float* invstd, float* sum_dy, float* sum_dy_xhat,   \
                                    int64_t n, int64_t c, int64_t hw);                       \
    /* dx = weight*invstd * (dy - sum_dy/m - xhat*sum_dy_xhat/m) with m = n*hw when the       \
       statistics came from the batch (training); dx = weight*invstd*dy when they were        \
       constants (evaluation: sum_dy and sum_dy_xhat are then unused and may be null) */      \
    void batch_norm_backward_input(const float* x, const float* dy, const float* mean,        \
                                   const float* invstd, const float* weight,                 \
                                   const float* sum_dy, const float* sum_dy_xhat, float* dx,  \
                                   int64_t n, int64_t c, int64_t hw, bool batch_statistics);  \
    /* ---- layer norm: x is [rows, d]; weight and bias are [d]; mean and rstd are [rows] ---- */ \
    /* y = (x - mean) * rstd * weight + bias, rstd = 1/sqrt(biased var + eps) of the row */   \
    void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y, \
                            float* mean, float* rstd, int64_t rows, int64_t d, float eps);    \
    /* dx, dweight = sum over rows of dy*xhat, dbias = sum over rows of dy; each may be null */ \
    void layer_norm_backward(const float* x, const float* dy, const float* weight,            \
                             const float* mean, const float* rstd, float* dx, float* dweight, \
                             float* dbias, int64_t rows, int64_t d);
namespace cpu {
KELVIN_NORM_DECLARATIONS
}
namespace cuda {
KELVIN_NORM_DECLARATIONS
}
#undef KELVIN_NORM_DECLARATIONS
}  // namespace kelvin
