#include "engine/nn/linear.h"

#include "engine/ops.h"

namespace kelvin::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, float init_scale, Generator& gen)
    : in_features(in), out_features(out) {
    weight = &register_parameter("weight", default_uniform({out, in}, in, init_scale, gen));
    if (with_bias) bias = &register_parameter("bias", default_uniform({out}, in, init_scale, gen));
}

Tensor Linear::forward(const Tensor& x) const {
    return ops::linear(x, *weight, bias ? *bias : Tensor());
}

Tensor Linear::forward_relu(const Tensor& x) const {
    return ops::linear_relu(x, *weight, bias ? *bias : Tensor());
}

}  // namespace kelvin::nn
