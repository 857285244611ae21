#include "engine/nn/init.h"

#include <cmath>
#include <vector>

namespace kelvin::nn {

Tensor uniform(const Shape& shape, float low, float high, Generator& gen) {
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> values(shape_numel(shape));
    for (float& v : values) v = dist(gen);
    return Tensor::from_vector(values, shape);
}

Tensor normal(const Shape& shape, float mean, float stddev, Generator& gen) {
    std::normal_distribution<float> dist(mean, stddev);
    std::vector<float> values(shape_numel(shape));
    for (float& v : values) v = dist(gen);
    return Tensor::from_vector(values, shape);
}

Tensor default_uniform(const Shape& shape, int64_t fan_in, float scale, Generator& gen) {
    const float bound = fan_in > 0 ? scale / std::sqrt(static_cast<float>(fan_in)) : 0.0f;
    return uniform(shape, -bound, bound, gen);
}

}  // namespace kelvin::nn
