// conv2d: NCHW cross-correlation with a square stride and padding, as PyTorch's conv2d.
// Kernels: kernels/cpu/conv.cpp (im2col + OpenBLAS) and kernels/cuda/conv.cu (implicit GEMM), or
// cuDNN on a CUDA device with --conv-backend cudnn (engine/conv_backend.h).
#include "engine/conv_backend.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/conv.h"

namespace kelvin::ops {

namespace {

ConvShape conv_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride,
                     int padding) {
    const char* op = "conv2d";
    check_f32(x, op);
    check_f32(weight, op);
    check_same_device(x, weight, op);
    KELVIN_CHECK(x.ndim() == 4, "conv2d: expected x [N, C, H, W], got " + x.describe());
    KELVIN_CHECK(weight.ndim() == 4 && weight.size(1) == x.size(1),
                 "conv2d: expected weight [O, " + std::to_string(x.size(1)) +
                     ", kh, kw] for x " + x.describe() + ", got " + weight.describe());
    KELVIN_CHECK(weight.size(0) > 0 && weight.size(1) > 0 && weight.size(2) > 0 &&
                     weight.size(3) > 0,
                 "conv2d: weight " + weight.describe() + " has an empty dimension");
    if (bias.defined()) {
        check_f32(bias, op);
        check_same_device(x, bias, op);
        KELVIN_CHECK(bias.ndim() == 1 && bias.size(0) == weight.size(0),
                     "conv2d: bias " + bias.describe() + " does not match weight " +
                         weight.describe());
    }
    KELVIN_CHECK(stride >= 1 && padding >= 0,
                 "conv2d: stride must be >= 1 and padding >= 0, got stride " +
                     std::to_string(stride) + ", padding " + std::to_string(padding));
    ConvShape s;
    s.batch = x.size(0);
    s.in_channels = x.size(1);
    s.in_h = x.size(2);
    s.in_w = x.size(3);
    s.out_channels = weight.size(0);
    s.kernel_h = weight.size(2);
    s.kernel_w = weight.size(3);
    s.stride = stride;
    s.padding = padding;
    KELVIN_CHECK(s.in_h + 2 * s.padding >= s.kernel_h && s.in_w + 2 * s.padding >= s.kernel_w,
                 "conv2d: kernel " + std::to_string(s.kernel_h) + "x" +
                     std::to_string(s.kernel_w) + " is larger than the padded input " +
                     std::to_string(s.in_h + 2 * s.padding) + "x" +
                     std::to_string(s.in_w + 2 * s.padding) + " of x " + x.describe());
    return with_output_size(s);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride,
              int padding) {
    KELVIN_TRACE_OP("conv2d", x.device());
    const ConvShape s = conv_shape(x, weight, bias, stride, padding);
    const Device device = x.device();
    Tensor y = Tensor::empty({s.batch, s.out_channels, s.out_h, s.out_w}, DType::F32, device);
    KELVIN_CONV_DISPATCH(device, conv2d_forward, x.f32(), weight.f32(),
                    bias.defined() ? bias.f32() : nullptr, y.f32(), s);

    if (!needs_grad({&x, &weight, &bias})) return y;
    const bool need_x = x.requires_grad(), need_weight = weight.requires_grad();
    const bool need_bias = bias.defined() && bias.requires_grad();
    // x is only needed for the weight's gradient, the weight only for x's.
    Tensor x_saved = need_weight ? x.detach() : Tensor();
    Tensor weight_saved = need_x ? weight.detach() : Tensor();
    return record(y, "conv2d", {x, weight, bias},
                  [=](const Tensor& dy) {
                      Tensor dx, dweight, dbias;
                      if (need_x) {
                          dx = Tensor::empty({s.batch, s.in_channels, s.in_h, s.in_w},
                                             DType::F32, device);
                          KELVIN_CONV_DISPATCH(device, conv2d_backward_data, dy.f32(),
                                          weight_saved.f32(), dx.f32(), s);
                      }
                      if (need_weight) {
                          dweight = Tensor::empty(
                              {s.out_channels, s.in_channels, s.kernel_h, s.kernel_w},
                              DType::F32, device);
                          KELVIN_CONV_DISPATCH(device, conv2d_backward_weight, x_saved.f32(),
                                          dy.f32(), dweight.f32(), s);
                      }
                      if (need_bias) {
                          dbias = Tensor::empty({s.out_channels}, DType::F32, device);
                          KELVIN_DISPATCH(device, conv2d_backward_bias, dy.f32(), dbias.f32(),
                                          s);
                      }
                      return std::vector<Tensor>{dx, dweight, dbias};
                  });
}

}  // namespace kelvin::ops
