// Activation functions and their derivatives over n contiguous floats.
// GELU is the exact form x * Phi(x) (PyTorch's default), Phi the standard normal CDF.
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_ACTIVATION_DECLARATIONS                                                      \
    void relu_forward(const float* x, float* y, int64_t n);                                 \
    /* dx = dy where the forward output y > 0, else 0 */                                    \
    void relu_backward(const float* y, const float* dy, float* dx, int64_t n);              \
    void gelu_forward(const float* x, float* y, int64_t n);                                 \
    void gelu_backward(const float* x, const float* dy, float* dx, int64_t n);
namespace cpu {
KELVIN_ACTIVATION_DECLARATIONS
}
namespace cuda {
KELVIN_ACTIVATION_DECLARATIONS
}
#undef KELVIN_ACTIVATION_DECLARATIONS
}  // namespace kelvin
