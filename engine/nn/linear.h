// A fully connected layer, y = x W^T + b, with PyTorch's parameter layout and names.
#pragma once

#include "engine/nn/init.h"
#include "engine/nn/module.h"

namespace kelvin::nn {

class Linear : public Module {
public:
    Linear(int64_t in_features, int64_t out_features, bool bias, float init_scale,
           Generator& gen);
    Tensor forward(const Tensor& x) const;
    Tensor forward_relu(const Tensor& x) const;  // relu(linear(x)) fused

    int64_t in_features, out_features;
    Tensor* weight;
    Tensor* bias = nullptr;
};

}  // namespace kelvin::nn
