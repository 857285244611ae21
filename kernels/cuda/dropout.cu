// Dropout: one thread per pair of elements, since one splitmix64 hash gives both their words
// (kernels/dropout.h). The hash is the same inline function the CPU kernel calls, so the two
// devices drop the same elements.
#include "kernels/dropout.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

__global__ void dropout_kernel(const float* x, float* out, int64_t n, uint64_t seed,
                               uint64_t threshold, float scale) {
    const int64_t pairs = (n + 1) / 2;
    for (int64_t pair = global_thread_index(); pair < pairs; pair += grid_stride()) {
        const uint64_t bits = splitmix64(seed, static_cast<uint64_t>(pair));
        const int64_t i = 2 * pair;
        // Low word for the even element, high word for the odd one, as dropout_word.
        out[i] = x[i] * (static_cast<uint32_t>(bits) >= threshold ? scale : 0.0f);
        if (i + 1 < n) out[i + 1] = x[i + 1] * ((bits >> 32) >= threshold ? scale : 0.0f);
    }
}

}  // namespace

void dropout_apply(const float* x, float* out, int64_t n, uint64_t seed, uint64_t threshold,
                   float scale) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    dropout_kernel<<<grid_size((n + 1) / 2), kBlockSize, 0, current_stream()>>>(
        x, out, n, seed, threshold, scale);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
