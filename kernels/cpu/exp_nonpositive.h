// e^x for x <= 0 as plain arithmetic, so that loops calling it vectorise at any instruction set
// (std::exp keeps a loop scalar: no vector libm without -ffast-math). Used by the GELU and
// attention softmax kernels, whose arguments are never positive. A source file using it in a
// vector loop needs -fno-trapping-math (CMakeLists.txt), or GCC keeps the clamp as a branch.
#pragma once

#include <cstdint>
#include <cstring>

namespace kelvin::cpu {

// x = n ln2 + r, |r| <= ln2 / 2; e^r by its Taylor series to r^7 (truncation < 6e-9 relative),
// 2^n from the exponent bits. n is rounded by adding and subtracting 1.5 * 2^23 (no SSE4.1
// round instruction needed) and read back as an integer from the same sum's low bits. Inputs
// below -87 give e^-87 (~1.6e-38: no subnormal results); -inf gives e^-87 too; NaN gives NaN.
// Worst error against exp in double: about 2 ulp.
inline float exp_nonpositive(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float shifted = x * 1.44269504088896341f + 12582912.0f;
    const float n = shifted - 12582912.0f;
    const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t n_bits, magic_bits;
    const float magic = 12582912.0f;
    std::memcpy(&n_bits, &shifted, sizeof n_bits);
    std::memcpy(&magic_bits, &magic, sizeof magic_bits);
    const uint32_t bits = (n_bits - magic_bits + 127u) << 23;  // (n + 127) << 23
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

}  // namespace kelvin::cpu
