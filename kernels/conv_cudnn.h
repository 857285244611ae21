// Convolution through cuDNN (the legacy convolution API of cuDNN 9), as the reference a user can
// select with `--conv-backend cudnn` on a CUDA device (engine/conv_backend.h): the forward,
// backward-data and backward-filter products of kernels/conv.h with the same raw-pointer
// signatures, on kelvin's stream. FP32 with FMA math only (no TF32), so results compare with
// kelvin's kernels to float rounding. The algorithm of each product is chosen once per shape
// from cuDNN's heuristics (cudnnGet*Algorithm_v7, the first that succeeds) and cached with its
// workspace size; workspaces come from kelvin's caching allocator. The bias gradient stays
// kelvin's kernel (a reduction, not a convolution). Defined in kernels/cuda/conv_cudnn.cu, only
// in builds where cuDNN was found (KELVIN_CUDNN=1; the CUDA emulator serves the calls on the
// host in tests).
#pragma once

#include "kernels/conv.h"

namespace kelvin::cudnn {

void conv2d_forward(const float* x, const float* weight, const float* bias, float* y,
                    const ConvShape& shape);
void conv2d_backward_data(const float* dy, const float* weight, float* dx, const ConvShape& shape);
void conv2d_backward_weight(const float* x, const float* dy, float* dweight,
                            const ConvShape& shape);
// How many (product, shape) plans have been chosen and cached so far.
int cached_plans();

}  // namespace kelvin::cudnn
