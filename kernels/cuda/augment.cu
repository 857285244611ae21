// Random crop and flip: one thread per output element, grid-stride. Each thread redraws its
// sample's offsets (three 64-bit multiplies) rather than reading them from a table: the hash is
// the same inline function the CPU kernel calls, so both devices crop and flip alike, and the
// kernel stays a single pass bound by memory traffic.
#include "kernels/augment.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

__global__ void random_crop_flip_kernel(const float* in, float* out, int64_t n, int64_t c,
                                        int64_t h, int64_t w, int64_t padding, bool flip,
                                        uint64_t seed) {
    const int64_t plane = h * w, image = c * plane, total = n * image;
    for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
        const int64_t sample = i / image;
        const int64_t within = i - (i / plane) * plane;
        const int64_t y = within / w, x = within - y * w;
        const CropFlip draw = crop_flip_draw(seed, static_cast<uint64_t>(sample), padding);
        const int64_t sy = y + draw.dy - padding;
        const int64_t sx = ((flip && draw.flip) ? w - 1 - x : x) + draw.dx - padding;
        out[i] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? in[i - within + sy * w + sx] : 0.0f;
    }
}

}  // namespace

void random_crop_flip(const float* in, float* out, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t padding, bool flip, uint64_t seed) {
    const int64_t total = n * c * h * w;
    if (total == 0) return;
    // launch: 256 threads, occupancy >= 75%
    random_crop_flip_kernel<<<grid_size(total), kBlockSize, 0, current_stream()>>>(
        in, out, n, c, h, w, padding, flip, seed);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
