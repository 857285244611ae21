#include "kernels/dropout.h"

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

void dropout_apply(const float* x, float* out, int64_t n, uint64_t seed, uint64_t threshold,
                   float scale) {
    // Each element's word depends only on its index, so any split of the range gives the
    // same mask; out may alias x. A multiply rather than a select, so that a NaN stays NaN
    // (PyTorch's x * mask / (1 - p) does the same).
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i)
        out[i] = x[i] * (dropout_word(seed, static_cast<uint64_t>(i)) >= threshold ? scale : 0.0f);
}

}  // namespace kelvin::cpu
