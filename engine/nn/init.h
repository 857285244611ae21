// Parameter initialisation. Defaults match PyTorch's: nn.Linear and nn.Conv2d draw weights and
// biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)).
// Every initialiser takes a generator so a seed fixes a model, and a scale so the paper's
// initialisation-scale study (an implicit temperature) is one multiplier.
#pragma once

#include <cstdint>
#include <random>

#include "engine/tensor.h"

namespace kelvin::nn {

using Generator = std::mt19937_64;

Tensor uniform(const Shape& shape, float low, float high, Generator& gen);
Tensor normal(const Shape& shape, float mean, float stddev, Generator& gen);
// PyTorch's default for a layer with this fan-in, times `scale`.
Tensor default_uniform(const Shape& shape, int64_t fan_in, float scale, Generator& gen);

}  // namespace kelvin::nn
