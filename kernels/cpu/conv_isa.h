// The CPU convolution kernels of each instruction-set variant (kernels/cpu/cpu_isa.h), as a table
// of functions. kelvin::cpu::conv2d_* (kernels/conv.h) forward to the table of active_isa();
// tests and benchmarks take a variant's table to run it whatever the active one is.
#pragma once

#include "kernels/conv.h"
#include "kernels/cpu/cpu_isa.h"

namespace kelvin::cpu {

struct ConvKernels {
    const char* isa;  // isa_name of the variant
    void (*forward)(const float* x, const float* weight, const float* bias, float* y,
                    const ConvShape& shape);
    void (*backward_data)(const float* dy, const float* weight, float* dx, const ConvShape& shape);
    void (*backward_weight)(const float* x, const float* dy, float* dweight,
                            const ConvShape& shape);
    void (*backward_bias)(const float* dy, float* dbias, const ConvShape& shape);
    // The Winograd F(2x2, 3x3) kernels alone, for shapes conv_winograd::supports
    // (kernels/cpu/conv_winograd.h), whatever shapes conv2d would route to them.
    void (*winograd_forward)(const float* x, const float* weight, const float* bias, float* y,
                             const ConvShape& shape);
    void (*winograd_backward_data)(const float* dy, const float* weight, float* dx,
                                   const ConvShape& shape);
    void (*winograd_backward_weight)(const float* x, const float* dy, float* dweight,
                                     const ConvShape& shape);
};

// The kernels of one variant; null when this binary does not carry it (only generic outside
// x86-64). Whether this CPU can run them is can_run(isa)'s question.
const ConvKernels* conv_kernels(Isa isa);

}  // namespace kelvin::cpu

// Each variant's object exports exactly one symbol, kelvin_conv_kernels_<isa>.
#define KELVIN_CONV_KERNELS_ENTRY_(isa) kelvin_conv_kernels_##isa
#define KELVIN_CONV_KERNELS_ENTRY(isa) KELVIN_CONV_KERNELS_ENTRY_(isa)
