// Pointwise kernels over n contiguous floats, and the row-broadcast bias add of a linear layer.
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_ELEMENTWISE_DECLARATIONS                                                     \
    void fill(float* out, float value, int64_t n);                                          \
    void fill_i32(int32_t* out, int32_t value, int64_t n);                                   \
    /* out = a + b */                                                                       \
    void add(const float* a, const float* b, float* out, int64_t n);                        \
    /* y += alpha * x */                                                                    \
    void axpy(float alpha, const float* x, float* y, int64_t n);                            \
    /* out = a * b */                                                                       \
    void mul(const float* a, const float* b, float* out, int64_t n);                        \
    /* out = alpha * a */                                                                   \
    void scale(const float* a, float alpha, float* out, int64_t n);                         \
    /* out[r, c] = x[r, c] + bias[c] for rows x cols */                                      \
    void bias_add(const float* x, const float* bias, float* out, int64_t rows, int64_t cols); \
    /* out[r, c] = max(x[r, c] + bias[c], 0): a linear layer's epilogue fused */            \
    void bias_relu(const float* x, const float* bias, float* out, int64_t rows, int64_t cols);
namespace cpu {
KELVIN_ELEMENTWISE_DECLARATIONS
}
namespace cuda {
KELVIN_ELEMENTWISE_DECLARATIONS
}
#undef KELVIN_ELEMENTWISE_DECLARATIONS
}  // namespace kelvin
