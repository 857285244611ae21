#include "engine/nn/conv.h"

#include "engine/ops.h"

namespace kelvin::nn {

Conv2d::Conv2d(int64_t in, int64_t out, int kernel_, int stride_, int padding_, bool with_bias,
               float init_scale, Generator& gen)
    : in_channels(in), out_channels(out), kernel(kernel_), stride(stride_), padding(padding_) {
    KELVIN_CHECK(in > 0 && out > 0 && kernel > 0,
                 "Conv2d: channels and kernel must be positive, got in " + std::to_string(in) +
                     ", out " + std::to_string(out) + ", kernel " + std::to_string(kernel));
    const int64_t fan_in = in * kernel * kernel;
    weight = &register_parameter("weight",
                                 default_uniform({out, in, kernel, kernel}, fan_in, init_scale, gen));
    if (with_bias) bias = &register_parameter("bias", default_uniform({out}, fan_in, init_scale, gen));
}

Tensor Conv2d::forward(const Tensor& x) const {
    return ops::conv2d(x, *weight, bias ? *bias : Tensor(), stride, padding);
}

}  // namespace kelvin::nn
