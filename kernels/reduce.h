// Reductions. Results are written to device memory (out) so that nothing waits on the host.
// Sums accumulate in double on the CPU and in a fixed-order tree on the GPU: deterministic.
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_REDUCE_DECLARATIONS                                                          \
    /* out[0] = scale * sum(x[0..n)) */                                                     \
    void sum_all(const float* x, float* out, int64_t n, float scale);                       \
    /* out[c] = sum over r of x[r, c] (a bias gradient) */                                  \
    void sum_rows(const float* x, float* out, int64_t rows, int64_t cols);                  \
    /* out[r] = argmax over c of x[r, c] (first index on ties) */                           \
    void argmax_rows(const float* x, int32_t* out, int64_t rows, int64_t cols);             \
    /* out[r] = sqrt(sum over c of x[r, c]^2) */                                            \
    void row_norms(const float* x, float* out, int64_t rows, int64_t cols);
namespace cpu {
KELVIN_REDUCE_DECLARATIONS
}
namespace cuda {
KELVIN_REDUCE_DECLARATIONS
}
#undef KELVIN_REDUCE_DECLARATIONS
}  // namespace kelvin
