// Winograd F(2x2, 3x3) convolution on the CPU, for 3x3 stride-1 layers: each 2x2 block of
// outputs costs 16 multiplies per (input, output) channel pair instead of 36 (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2016). Internal to kernels/cpu/conv.cpp,
// which picks it by shape; docs/KERNELS-conv.md has the measurements.
//
// With G, B^T, A^T the F(2x2, 3x3) matrices, for a 4x4 input tile d (stride 2 between tiles)
// and a 3x3 filter g:
//     U = G g G^T,  V = B^T d B  (4x4 each),  output tile Y = A^T (U (.) V) A  (2x2)
// Summed over input channels, each of the 16 positions xi of U (.) V is a GEMM:
//     M_xi [out_channels, tiles] = U_xi [out_channels, in_channels] * V_xi [in_channels, tiles]
// and the weight gradient runs the same algebra backwards:
//     dU_xi [O, C] = sum over tiles of (A dY A^T)_xi [O, tile] * V_xi [C, tile],
//     dW = G^T dU G.
// F(2x2, 3x3)'s transforms only add, subtract and halve, so results stay within a few ulps
// of the direct convolution (the larger F(4x4, 3x3) loses ~2 digits in float32).
#pragma once

#include "kernels/conv.h"

namespace kelvin::cpu::conv_winograd {

// Whether the shape is one these kernels compute: 3x3 kernel, stride 1, padding <= 2.
inline bool supports(const ConvShape& s) {
    return s.kernel_h == 3 && s.kernel_w == 3 && s.stride == 1 && s.padding >= 0 &&
           s.padding <= 2 && s.out_h > 0 && s.out_w > 0 && s.batch > 0 && s.in_channels > 0 &&
           s.out_channels > 0;
}

}  // namespace kelvin::cpu::conv_winograd

// The kernels, one variant per instruction set (kernels/cpu/conv_gemm.h); reached from outside
// through kernels/cpu/conv_isa.h.
#if defined(KELVIN_ISA)
namespace kelvin::cpu::KELVIN_ISA::conv_winograd {

using cpu::conv_winograd::supports;

// Whether Winograd is the path for this pass of s: 3x3 stride-1 layers with enough channels
// to amortise its transforms; KELVIN_CONV_WINOGRAD=0 turns it off, =all uses it wherever it
// applies (comparisons).
enum class Pass { kForward, kData, kWeight };
bool pays(const ConvShape& s, Pass pass);

// y = conv(x, weight) + bias (bias may be null) for a supported shape; weight
// [out_channels, in_channels, 3, 3].
void forward(const float* x, const float* weight, const float* bias, float* y,
             const ConvShape& s);

// dx for a supported shape: the stride-1 convolution of dy, padded by 2 - padding, with the
// weights flipped in space and transposed in channels (transformed straight from `weight`).
void backward_data(const float* dy, const float* weight, float* dx, const ConvShape& s);

// dweight (overwritten) for a supported shape.
void backward_weight(const float* x, const float* dy, float* dweight, const ConvShape& s);

}  // namespace kelvin::cpu::KELVIN_ISA::conv_winograd
#endif
