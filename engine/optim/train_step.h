// One optimisation step under a softmax temperature, the one that training, the step benchmarks
// and the linear probes all take: gradients set to none, forward, cross-entropy at T, backward,
// and the optimizer's update.
#pragma once

#include <functional>

#include "engine/optim/optimizer.h"
#include "engine/tensor.h"

namespace kelvin::optim {

struct StepResult {
    Tensor logits;  // the forward pass's output (still recorded by autograd)
    Tensor loss;    // scalar mean cross-entropy at the temperature
    float loss_value = 0.0f;  // loss.item(), read only when the step checks for divergence
    bool stepped = false;     // false when the loss was not finite and no update was made
};

// What a data-parallel run (engine/distributed/data_parallel.h) adds to a step; empty functions
// are skipped, so a single process takes the step as before.
struct StepHooks {
    // Before forward: e.g. rank 0's BatchNorm buffers to every replica.
    std::function<void()> before_forward;
    // Given whether this process's loss is finite, whether every rank's is: the step is taken by
    // all ranks or by none (one rank stepping alone would leave the others waiting).
    std::function<bool(bool)> agree_finite;
    // During backward, each parameter whose gradient is final (engine/autograd.h's
    // GradientReadyScope): a bucket's all-reduce starts beside the rest of backward.
    std::function<void(const Tensor&)> on_gradient_ready;
    // Between backward and the update: the gradients averaged over the ranks.
    std::function<void()> before_update;
};

// With check_finite, the loss is read on the host first (one device sync) and a NaN or infinite
// loss returns before backward, leaving the parameters as they were; without it, every step
// updates and loss_value is left at 0.
StepResult train_step(const std::function<Tensor(const Tensor&)>& forward, Optimizer& optimizer,
                      const Tensor& inputs, const Tensor& labels, float temperature,
                      bool check_finite, const StepHooks& hooks = {});

}  // namespace kelvin::optim
