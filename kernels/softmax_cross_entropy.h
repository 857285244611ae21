// Cross-entropy of a softmax with temperature T, fused and numerically stable.
//   loss_r = logsumexp(z_r / T) - z_{r, y_r} / T
//   dL/dz_{r,c} = scale * (softmax(z_r / T)_c - [c == y_r]) / T
// The forward writes each row's loss and its logsumexp (saved for the backward, so the
// backward recomputes softmax in one pass without a max reduction).
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_SOFTMAX_CE_DECLARATIONS                                                      \
    void softmax_cross_entropy_forward(const float* logits, const int32_t* labels,          \
                                       float* row_loss, float* row_logsumexp, int64_t rows, \
                                       int64_t classes, float temperature);                 \
    /* grad_scale is dL/d(mean loss) / rows for a mean reduction; read from device memory */ \
    void softmax_cross_entropy_backward(const float* logits, const int32_t* labels,         \
                                        const float* row_logsumexp, const float* grad_scale, \
                                        float* grad_logits, int64_t rows, int64_t classes,  \
                                        float temperature);
namespace cpu {
KELVIN_SOFTMAX_CE_DECLARATIONS
}
namespace cuda {
KELVIN_SOFTMAX_CE_DECLARATIONS
}
#undef KELVIN_SOFTMAX_CE_DECLARATIONS
}  // namespace kelvin
