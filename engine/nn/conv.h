// A 2-D convolution layer with PyTorch's parameter layout ("weight" [out, in, k, k], "bias"
// [out]) and default initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in*k*k,
// for weight and bias alike), times `init_scale`.
#pragma once

#include "engine/nn/init.h"
#include "engine/nn/module.h"

namespace kelvin::nn {

class Conv2d : public Module {
public:
    Conv2d(int64_t in_channels, int64_t out_channels, int kernel, int stride, int padding,
           bool bias, float init_scale, Generator& gen);
    Tensor forward(const Tensor& x) const;

    int64_t in_channels, out_channels;
    int kernel, stride, padding;
    Tensor* weight;
    Tensor* bias = nullptr;
};

}  // namespace kelvin::nn
