#include "kernels/augment.h"

#include <algorithm>

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

void random_crop_flip(const float* in, float* out, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t padding, bool flip, uint64_t seed) {
    // One plane (sample, channel) per iteration; each draws its sample's offsets, which depend
    // only on the sample index, so any split of the planes gives the same output.
    const int64_t plane = h * w;
#pragma omp parallel for schedule(static) if (n * c * plane > kParallelThreshold)
    for (int64_t p = 0; p < n * c; ++p) {
        const CropFlip draw = crop_flip_draw(seed, static_cast<uint64_t>(p / c), padding);
        const bool mirror = flip && draw.flip;
        const float* src = in + p * plane;
        float* dst = out + p * plane;
        for (int64_t y = 0; y < h; ++y) {
            float* row = dst + y * w;
            const int64_t sy = y + draw.dy - padding;
            if (sy < 0 || sy >= h) {
                std::fill(row, row + w, 0.0f);
                continue;
            }
            const float* source_row = src + sy * w;
            for (int64_t x = 0; x < w; ++x) {
                const int64_t sx = (mirror ? w - 1 - x : x) + draw.dx - padding;
                row[x] = (sx >= 0 && sx < w) ? source_row[sx] : 0.0f;
            }
        }
    }
}

}  // namespace kelvin::cpu
