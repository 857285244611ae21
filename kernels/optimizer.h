// Optimizer updates over n contiguous parameters, one pass over memory each.
// SGD (PyTorch semantics): g = grad + wd * p; buf = momentum * buf + g (buf = g on the first
//   step); p -= lr * (nesterov ? g + momentum * buf : buf).
// AdamW: p *= 1 - lr * wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_OPTIMIZER_DECLARATIONS                                                        \
    void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,        \
                  float lr, float momentum, float weight_decay, bool nesterov,               \
                  bool first_step);                                                          \
    void adamw_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,      \
                    int64_t n, float lr, float beta1, float beta2, float eps,                \
                    float weight_decay, int64_t step);
namespace cpu {
KELVIN_OPTIMIZER_DECLARATIONS
}
namespace cuda {
KELVIN_OPTIMIZER_DECLARATIONS
}
#undef KELVIN_OPTIMIZER_DECLARATIONS
}  // namespace kelvin
