// Inverted dropout with a counter-based mask: whether element i survives is a pure function of
// (seed, i), computed by the same inline code on the CPU and the GPU, so both devices drop the
// same elements, the backward pass recomputes the mask instead of storing it, and a run is
// reproducible from its seed.
//
// The mask: splitmix64 (Steele, Lea and Flood, 2014) applied to the counter i/2 of a stream
// that starts at `seed` gives 64 well-mixed bits; element i takes the high half when i is odd and
// the low half when even (one hash per pair of elements, since on the GPU the 64-bit multiplies
// cost about as much as the memory traffic). The element survives when its 32-bit word is at
// least threshold = round(p * 2^32), that is with probability 1 - p to within 2^-32.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define KELVIN_HOST_DEVICE __host__ __device__
#else
#define KELVIN_HOST_DEVICE
#endif

namespace kelvin {

KELVIN_HOST_DEVICE inline uint64_t splitmix64(uint64_t seed, uint64_t counter) {
    uint64_t z = seed + (counter + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The 32-bit random word of element `index` (see above).
KELVIN_HOST_DEVICE inline uint32_t dropout_word(uint64_t seed, uint64_t index) {
    const uint64_t bits = splitmix64(seed, index >> 1);
    return static_cast<uint32_t>((index & 1) ? bits >> 32 : bits);
}

// Words below this are dropped; p in [0, 1) so the result is below 2^32.
inline uint64_t dropout_threshold(float p) {
    return static_cast<uint64_t>(std::llround(static_cast<double>(p) * 4294967296.0));
}

// The factor applied to kept elements, 1/(1-p), rounded once to float on the host.
inline float dropout_scale(float p) { return 1.0f / (1.0f - p); }

#define KELVIN_DROPOUT_DECLARATIONS                                                         \
    /* out[i] = x[i] * scale when dropout_word(seed, i) >= threshold, else 0. The op is      \
       linear in x, so the backward pass is the same call on the output gradient. */         \
    void dropout_apply(const float* x, float* out, int64_t n, uint64_t seed, uint64_t threshold, \
                       float scale);
namespace cpu {
KELVIN_DROPOUT_DECLARATIONS
}
namespace cuda {
KELVIN_DROPOUT_DECLARATIONS
}
#undef KELVIN_DROPOUT_DECLARATIONS
}  // namespace kelvin
