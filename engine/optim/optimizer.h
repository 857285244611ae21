// Optimizers update parameters in place from their .grad, one fused kernel per parameter
// (weight decay, momentum or moments, and the update in a single pass over memory).
// State tensors live on the parameter's device. The learning rate is set per step by a
// schedule (engine/optim/schedule.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kelvin::optim {

class Optimizer {
public:
    explicit Optimizer(std::vector<Tensor*> params) : params_(std::move(params)) {}
    virtual ~Optimizer() = default;
    virtual void step() = 0;
    // Sets every parameter's gradient to none (PyTorch's set_to_none): the next backward
    // writes fresh gradients instead of adding to stale ones, and no memory is filled.
    void zero_grad();
    void set_lr(float lr) { lr_ = lr; }
    float lr() const { return lr_; }
    int64_t steps_taken() const { return step_; }
    // Named state tensors (for checkpoints), e.g. "momentum.3"; and the step counter.
    virtual std::vector<std::pair<std::string, Tensor*>> state() = 0;
    void set_steps_taken(int64_t step) { step_ = step; }

protected:
    std::vector<Tensor*> params_;
    float lr_ = 0.0f;
    int64_t step_ = 0;
};

struct SgdOptions {
    float lr = 0.01f;
    float momentum = 0.9f;
    float weight_decay = 0.0f;
    bool nesterov = false;
};

class Sgd : public Optimizer {
public:
    Sgd(std::vector<Tensor*> params, SgdOptions options);
    void step() override;
    std::vector<std::pair<std::string, Tensor*>> state() override;

private:
    SgdOptions options_;
    std::vector<Tensor> momentum_;
};

struct AdamWOptions {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.01f;
};

class AdamW : public Optimizer {
public:
    AdamW(std::vector<Tensor*> params, AdamWOptions options);
    void step() override;
    std::vector<std::pair<std::string, Tensor*>> state() override;

private:
    AdamWOptions options_;
    std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

}  // namespace kelvin::optim
