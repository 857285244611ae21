// GELU, compiled once per instruction set (kernels/cpu/gelu_isa.h; CMakeLists.txt builds it with
// the conv kernels' variants).
#include <cmath>
#include <cstdint>

#include "kernels/cpu/exp_nonpositive.h"
#include "kernels/cpu/gelu_isa.h"
#include "kernels/cpu/parallel.h"

#if !defined(KELVIN_ISA)
#error "kernels/cpu/gelu.cpp is compiled once per instruction set: define KELVIN_ISA"
#endif

namespace kelvin::cpu::KELVIN_ISA {

// GELU (exact: x * Phi(x), Phi the normal CDF) without libm. std::erf and std::exp kept the
// loops scalar: 12 ns per element, 22% of a ViT step (GELU's 1.6 M elements at 0.3 GFLOP/s).
// Below, everything is arithmetic and selects that GCC vectorises at any instruction set
// (with -fno-trapping-math, set for this file in CMakeLists.txt: otherwise it keeps the branches).
namespace {
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// Phi(x) = erfc(-x / sqrt 2) / 2 with erfc(z) = q(t) e^(-z^2), t = 1 / (1 + 0.3275911 z) for
// z >= 0 (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7 in erf), reflected for z < 0. The tail
// is computed directly (0.5 q), not as 1 - erf: no cancellation for negative x. `gauss` is
// e^(-x^2 / 2), shared with the derivative.
inline float normal_cdf(float x, float gauss) {
    const float z = std::fabs(x) * kInvSqrt2;
    const float t = 1.0f / (1.0f + 0.3275911f * z);
    float q = 1.061405429f;
    q = q * t - 1.453152027f;
    q = q * t + 1.421413741f;
    q = q * t - 0.284496736f;
    q = q * t + 0.254829592f;
    const float tail = 0.5f * q * t * gauss, body = 1.0f - tail;  // P(N > |x|), P(N < |x|)
    return x < 0.0f ? tail : body;
}

void gelu_forward(const float* x, float* y, int64_t n) {
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = v * normal_cdf(v, exp_nonpositive(-0.5f * v * v));
    }
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i], gauss = exp_nonpositive(-0.5f * v * v);
        dx[i] = dy[i] * (normal_cdf(v, gauss) + v * kInvSqrt2Pi * gauss);
    }
}

const GeluKernels kGeluKernels = {KELVIN_STRINGIFY(KELVIN_ISA), gelu_forward, gelu_backward};

}  // namespace

}  // namespace kelvin::cpu::KELVIN_ISA

extern "C" __attribute__((visibility("default"))) const kelvin::cpu::GeluKernels*
KELVIN_GELU_KERNELS_ENTRY(KELVIN_ISA)() {
    return &kelvin::cpu::KELVIN_ISA::kGeluKernels;
}
