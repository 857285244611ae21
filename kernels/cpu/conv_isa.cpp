// kelvin::cpu::conv2d_* (kernels/conv.h): the variant active_isa() names, looked up once.
// Compiled for the baseline architecture like everything outside the variants' objects.
#include "kernels/cpu/conv_isa.h"

extern "C" {
const kelvin::cpu::ConvKernels* kelvin_conv_kernels_generic();
#if defined(__x86_64__)
const kelvin::cpu::ConvKernels* kelvin_conv_kernels_avx2();
const kelvin::cpu::ConvKernels* kelvin_conv_kernels_avx512();
#endif
}

namespace kelvin::cpu {

const ConvKernels* conv_kernels(Isa isa) {
    switch (isa) {
        case Isa::kGeneric: return kelvin_conv_kernels_generic();
#if defined(__x86_64__)
        case Isa::kAvx2: return kelvin_conv_kernels_avx2();
        case Isa::kAvx512: return kelvin_conv_kernels_avx512();
#endif
        default: return nullptr;
    }
}

namespace {

const ConvKernels& active() {
    static const ConvKernels* const kernels = conv_kernels(active_isa());
    return *kernels;
}

}  // namespace

void conv2d_forward(const float* x, const float* weight, const float* bias, float* y,
                    const ConvShape& shape) {
    active().forward(x, weight, bias, y, shape);
}

void conv2d_backward_data(const float* dy, const float* weight, float* dx,
                          const ConvShape& shape) {
    active().backward_data(dy, weight, dx, shape);
}

void conv2d_backward_weight(const float* x, const float* dy, float* dweight,
                            const ConvShape& shape) {
    active().backward_weight(x, dy, dweight, shape);
}

void conv2d_backward_bias(const float* dy, float* dbias, const ConvShape& shape) {
    active().backward_bias(dy, dbias, shape);
}

}  // namespace kelvin::cpu
