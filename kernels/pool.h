// Pooling over the planes of NCHW tensors: max (with the argmax saved for the backward),
// average (count_include_pad, PyTorch's default) and global average. A "plane" is one
// (image, channel) pair; planes = batch * channels. Square kernel, stride and padding.
// Backward kernels write every element of dx and sum each input's contributions in increasing
// output order on both devices, so CPU and CUDA agree to the last bit.
#pragma once

#include <cstdint>

namespace kelvin {

struct PoolShape {
    int64_t planes = 0, in_h = 0, in_w = 0;
    int64_t kernel = 1, stride = 1, padding = 0;
    int64_t out_h = 0, out_w = 0;
};

inline PoolShape with_output_size(PoolShape s) {
    s.out_h = (s.in_h + 2 * s.padding - s.kernel) / s.stride + 1;
    s.out_w = (s.in_w + 2 * s.padding - s.kernel) / s.stride + 1;
    return s;
}

#define KELVIN_POOL_DECLARATIONS                                                              \
    /* y = max over each window; argmax = ih * in_w + iw of the first maximum (a NaN wins) */   \
    void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const PoolShape& shape); \
    /* dx[argmax] += dy, zero elsewhere */                                                     \
    void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx,               \
                             const PoolShape& shape);                                         \
    /* y = sum over each window / kernel^2 (padding counts as zeros) */                       \
    void avg_pool2d_forward(const float* x, float* y, const PoolShape& shape);                \
    void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& shape);            \
    /* y[p] = mean of plane p of x (plane_size elements each) */                              \
    void global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t plane_size); \
    void global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t plane_size);
namespace cpu {
KELVIN_POOL_DECLARATIONS
}
namespace cuda {
KELVIN_POOL_DECLARATIONS
}
#undef KELVIN_POOL_DECLARATIONS

}  // namespace kelvin
