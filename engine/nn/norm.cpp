#include "engine/nn/norm.h"

#include "engine/distributed/sync_batch_norm.h"

#include "engine/ops.h"
#include "kernels/dropout.h"

namespace kelvin::nn {

BatchNorm2d::BatchNorm2d(int64_t channels_, float eps_, float momentum_, bool affine)
    : channels(channels_), eps(eps_), momentum(momentum_) {
    KELVIN_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got " +
                                   std::to_string(channels));
    if (affine) {
        weight = &register_parameter("weight", Tensor::full({channels}, 1.0f));
        bias = &register_parameter("bias", Tensor::zeros({channels}));
    }
    running_mean = &register_buffer("running_mean", Tensor::zeros({channels}));
    running_var = &register_buffer("running_var", Tensor::full({channels}, 1.0f));
}

Tensor BatchNorm2d::forward(const Tensor& x) const {
    if (synchronise && training() && synchronise->world_size() > 1)
        return distributed::sync_batch_norm2d(x, weight ? *weight : Tensor(),
                                              bias ? *bias : Tensor(), *running_mean,
                                              *running_var, momentum, eps, *synchronise);
    return ops::batch_norm2d(x, weight ? *weight : Tensor(), bias ? *bias : Tensor(),
                             *running_mean, *running_var, training(), momentum, eps);
}

LayerNorm::LayerNorm(int64_t dim_, float eps_, bool affine) : dim(dim_), eps(eps_) {
    KELVIN_CHECK(dim > 0, "LayerNorm: dim must be positive, got " + std::to_string(dim));
    if (affine) {
        weight = &register_parameter("weight", Tensor::full({dim}, 1.0f));
        bias = &register_parameter("bias", Tensor::zeros({dim}));
    }
}

Tensor LayerNorm::forward(const Tensor& x) const {
    KELVIN_CHECK(x.ndim() >= 1 && x.size(-1) == dim,
                 "LayerNorm(" + std::to_string(dim) + "): expected x [..., " +
                     std::to_string(dim) + "], got " + x.describe());
    return ops::layer_norm(x, weight ? *weight : Tensor(), bias ? *bias : Tensor(), eps);
}

Dropout::Dropout(float p_, uint64_t seed_) : p(p_), seed(seed_) {
    KELVIN_CHECK(p >= 0.0f && p < 1.0f, "Dropout: p must be in [0, 1), got " + std::to_string(p));
}

Tensor Dropout::forward(const Tensor& x) {
    if (!training() || p == 0.0f) return x;
    return ops::dropout(x, p, true, splitmix64(seed, calls++));
}

}  // namespace kelvin::nn
