// The CPU convolution's weight gradient, one variant per instruction set (kernels/cpu/conv.cpp
// puts it in the variant's table):
//     dW[:, :, i, j] [O, C] = sum over output pixels of dY (O values) outer x shifted by tap
//     (i, j) (C values), dY packed as the A operand and x made channel-last once per call;
// Winograd for 3x3 stride 1, pixel-lane dot products for few input channels, a split by pixels
// for layers of few weights.
#pragma once

#include "kernels/conv.h"

#if !defined(KELVIN_ISA)
#error "kernels/cpu/conv_weight_gradient.h is compiled once per instruction set: define KELVIN_ISA"
#endif

namespace kelvin::cpu::KELVIN_ISA {

// dweight [O, C, kh, kw] (overwritten) = the gradient of sum(y * dy) with respect to the weights.
void conv2d_backward_weight(const float* x, const float* dy, float* dweight,
                            const ConvShape& shape);

}  // namespace kelvin::cpu::KELVIN_ISA
