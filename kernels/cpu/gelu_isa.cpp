// kelvin::cpu::gelu_* (kernels/activation.h): the variant active_isa() names, looked up once.
// Compiled for the baseline architecture like everything outside the variants' objects.
#include "kernels/activation.h"
#include "kernels/cpu/gelu_isa.h"

extern "C" {
const kelvin::cpu::GeluKernels* kelvin_gelu_kernels_generic();
#if defined(__x86_64__)
const kelvin::cpu::GeluKernels* kelvin_gelu_kernels_avx2();
const kelvin::cpu::GeluKernels* kelvin_gelu_kernels_avx512();
#endif
}

namespace kelvin::cpu {

const GeluKernels* gelu_kernels(Isa isa) {
    switch (isa) {
        case Isa::kGeneric: return kelvin_gelu_kernels_generic();
#if defined(__x86_64__)
        case Isa::kAvx2: return kelvin_gelu_kernels_avx2();
        case Isa::kAvx512: return kelvin_gelu_kernels_avx512();
#endif
        default: return nullptr;
    }
}

namespace {

const GeluKernels& active() {
    static const GeluKernels* const kernels = gelu_kernels(active_isa());
    return *kernels;
}

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n) { active().forward(x, y, n); }

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
    active().backward(x, dy, dx, n);
}

}  // namespace kelvin::cpu
