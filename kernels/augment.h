// Training-time image augmentation on the device where a batch lives: the standard CIFAR recipe,
// RandomCrop(size, padding) followed by RandomHorizontalFlip, as one batched kernel.
//
// The randomness is counter-based, as dropout's (kernels/dropout.h): sample i's crop offset and
// flip come from splitmix64(seed, i), computed by the same inline code on the CPU and the GPU, so
// both devices give the same bits and a batch is reproducible from its seed alone.
//
// The draw, from bits = splitmix64(seed, i), with range = 2 * padding + 1:
//   dy   = (bits         & 0x1FFFFF) % range   rows of padding skipped at the top
//   dx   = ((bits >> 21) & 0x1FFFFF) % range   columns skipped at the left
//   flip =  bits >> 63                         mirror the crop left-right (when flipping is on)
// Three separate bit fields so the offsets and the flip are independent; 21-bit fields make the
// modulo bias at most range / 2^21 (4e-6 for padding 4).
#pragma once

#include <cstdint>

#include "kernels/dropout.h"  // splitmix64, KELVIN_HOST_DEVICE

namespace kelvin {

struct CropFlip {
    int64_t dy, dx;
    bool flip;
};

// Sample `index`'s crop offset in [0, 2 * padding] and its flip bit (see above).
KELVIN_HOST_DEVICE inline CropFlip crop_flip_draw(uint64_t seed, uint64_t index, int64_t padding) {
    const uint64_t bits = splitmix64(seed, index);
    const uint64_t range = static_cast<uint64_t>(2 * padding + 1);
    return {static_cast<int64_t>((bits & 0x1FFFFFull) % range),
            static_cast<int64_t>(((bits >> 21) & 0x1FFFFFull) % range), (bits >> 63) != 0};
}

#define KELVIN_AUGMENT_DECLARATIONS                                                           \
    /* in, out: [n, c, h, w], not overlapping. out[i] = the h x w window at (dy, dx) of sample  \
       i zero-padded by `padding` on every side, mirrored left-right when `flip` is set and the \
       sample's flip bit is 1 (crop_flip_draw(seed, i, padding)). padding 0 and flip false copy \
       the input. Zero is the padding value in whatever space `in` is in (after normalisation, \
       the mean colour). */                                                                  \
    void random_crop_flip(const float* in, float* out, int64_t n, int64_t c, int64_t h,        \
                          int64_t w, int64_t padding, bool flip, uint64_t seed);
namespace cpu {
KELVIN_AUGMENT_DECLARATIONS
}
namespace cuda {
KELVIN_AUGMENT_DECLARATIONS
}
#undef KELVIN_AUGMENT_DECLARATIONS
}  // namespace kelvin
