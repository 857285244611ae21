// The column matrix of a convolution (im2col) and its transpose (col2im), for the conv paths
// that form B as a copy (kernels/cpu/conv.cpp). Internal to the conv kernels; compiled once per
// instruction set like conv_gemm.h.
//
// col[t][pixel], t = (c, i, j), is the input value that tap t of an output pixel reads, 0 in
// the padding. A tile holds all taps for output rows [oh0, oh1) of `images` consecutive images,
// as [C*kh*kw, images * (oh1 - oh0) * out_w], columns ordered (image, oh, ow).
#pragma once

#include <cstdint>

#include "kernels/conv.h"

#if !defined(KELVIN_ISA)
#error "kernels/cpu/conv_columns.h is compiled once per instruction set: define KELVIN_ISA"
#endif

namespace kelvin::cpu::KELVIN_ISA::conv_columns {

// The column tile of output rows [oh0, oh1) of `images` images starting at x (the first image).
void im2col(const float* x, int64_t images, int64_t oh0, int64_t oh1, const ConvShape& s,
            float* col);

// Adds a dcol tile (same layout) into dx, the images' input gradient: the transpose of im2col.
// Each dx element receives its taps in (c, i, j) order, so the sum does not depend on threads.
void col2im(const float* dcol, int64_t images, int64_t oh0, int64_t oh1, const ConvShape& s,
            float* dx);

}  // namespace kelvin::cpu::KELVIN_ISA::conv_columns
