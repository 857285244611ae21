// Normalisation layers and dropout with PyTorch's names, defaults and state.
//
// BatchNorm2d and LayerNorm hold parameters "weight" (ones) and "bias" (zeros) when affine;
// BatchNorm2d also holds buffers "running_mean" (zeros) and "running_var" (ones). PyTorch's
// BatchNorm2d has a third buffer, "num_batches_tracked" (int64), used only when momentum is None
// (a cumulative average), which kelvin does not support. It is omitted: kelvin checkpoints lack
// that key, so PyTorch loads them with load_state_dict(..., strict=False) (or after adding
// "<prefix>num_batches_tracked": torch.tensor(0)); and a PyTorch state_dict must drop those
// int64 entries before kelvin reads it (its safetensors reader takes F32 and I32 only).
#pragma once

#include <cstdint>

#include "engine/nn/module.h"

namespace kelvin::distributed {
class Communicator;
}

namespace kelvin::nn {

class BatchNorm2d : public Module {
public:
    explicit BatchNorm2d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f,
                         bool affine = true);
    // Batch statistics (and a running-statistics update) in training mode, running ones in eval.
    Tensor forward(const Tensor& x) const;

    int64_t channels;
    float eps, momentum;
    Tensor* weight = nullptr;  // null when !affine
    Tensor* bias = nullptr;
    Tensor* running_mean;
    Tensor* running_var;
    // --sync-batchnorm: training statistics of the global batch over these ranks
    // (engine/distributed/sync_batch_norm.h); null: this replica's own batch, as PyTorch's DDP.
    distributed::Communicator* synchronise = nullptr;
};

class LayerNorm : public Module {
public:
    explicit LayerNorm(int64_t dim, float eps = 1e-5f, bool affine = true);
    Tensor forward(const Tensor& x) const;  // over the last axis, which must have size dim

    int64_t dim;
    float eps;
    Tensor* weight = nullptr;  // null when !affine
    Tensor* bias = nullptr;
};

// Inverted dropout with a fresh mask on every training call: call k uses the seed
// splitmix64(seed, k), so a run is reproducible from the seed given here. Identity in eval.
class Dropout : public Module {
public:
    explicit Dropout(float p = 0.5f, uint64_t seed = 0);
    Tensor forward(const Tensor& x);

    float p;
    uint64_t seed;
    uint64_t calls = 0;  // training calls so far; part of a run's state for exact resumption
};

}  // namespace kelvin::nn
