// 2-D convolution (cross-correlation, PyTorch's conv2d) on NCHW tensors: forward, the gradient
// with respect to the input ("backward data"), the weight, and the bias. Square stride and
// padding, any kernel size. CPU: an own register-blocked GEMM fed by Winograd F(2x2, 3x3)
// transforms (3x3 stride 1), direct or im2col operands otherwise. CUDA: a shared-memory tiled
// implicit GEMM (no im2col buffer, no cuDNN), FP32 accumulate. See docs/KERNELS-conv.md.
#pragma once

#include <cstdint>

namespace kelvin {

// Sizes of one convolution. x [batch, in_channels, in_h, in_w], weight [out_channels,
// in_channels, kernel_h, kernel_w], y [batch, out_channels, out_h, out_w].
struct ConvShape {
    int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
    int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
    int64_t stride = 1, padding = 0;
    int64_t out_h = 0, out_w = 0;
};

// Fills out_h and out_w from the other fields (PyTorch's floor rule).
inline ConvShape with_output_size(ConvShape s) {
    s.out_h = (s.in_h + 2 * s.padding - s.kernel_h) / s.stride + 1;
    s.out_w = (s.in_w + 2 * s.padding - s.kernel_w) / s.stride + 1;
    return s;
}

// n images of c channels, h x w pixels, o filters of kh x kw taps, with the output size filled in.
inline ConvShape conv_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh,
                            int64_t kw, int64_t stride, int64_t padding) {
    ConvShape s;
    s.batch = n;
    s.in_channels = c;
    s.in_h = h;
    s.in_w = w;
    s.out_channels = o;
    s.kernel_h = kh;
    s.kernel_w = kw;
    s.stride = stride;
    s.padding = padding;
    return with_output_size(s);
}

// A square convolution (the shapes of benchmarks and tests): hw x hw pixels, k x k taps.
inline ConvShape square_conv_shape(int64_t n, int64_t c, int64_t hw, int64_t o, int64_t k,
                                   int64_t stride, int64_t padding) {
    return conv_shape(n, c, hw, hw, o, k, k, stride, padding);
}

// Backward data of a stride-1 convolution s, seen as a forward one: dY (s's output) padded by
// k-1-p, convolved with the weights flipped in space and transposed in channels. Its output is
// dx (in_h x in_w) when the kernel is square and p <= k-1; callers check that.
inline ConvShape flipped_stride1_shape(const ConvShape& s) {
    return conv_shape(s.batch, s.out_channels, s.out_h, s.out_w, s.in_channels, s.kernel_h,
                      s.kernel_w, 1, s.kernel_h - 1 - s.padding);
}

#define KELVIN_CONV_DECLARATIONS                                                              \
    /* y = conv(x, weight) + bias; bias may be null */                                        \
    void conv2d_forward(const float* x, const float* weight, const float* bias, float* y,    \
                        const ConvShape& shape);                                              \
    /* dx = transposed conv of dy with weight (every element of dx is written) */             \
    void conv2d_backward_data(const float* dy, const float* weight, float* dx,               \
                              const ConvShape& shape);                                        \
    /* dweight = correlation of x with dy, summed over the batch (overwritten, not added) */  \
    void conv2d_backward_weight(const float* x, const float* dy, float* dweight,             \
                                const ConvShape& shape);                                      \
    /* dbias[o] = sum of dy over batch and pixels */                                          \
    void conv2d_backward_bias(const float* dy, float* dbias, const ConvShape& shape);
namespace cpu {
KELVIN_CONV_DECLARATIONS
}
namespace cuda {
KELVIN_CONV_DECLARATIONS
}
#undef KELVIN_CONV_DECLARATIONS

}  // namespace kelvin
