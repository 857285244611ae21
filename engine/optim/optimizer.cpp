#include "engine/optim/optimizer.h"

#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/optimizer.h"

namespace kelvin::optim {

void Optimizer::zero_grad() {
    for (Tensor* p : params_) p->set_grad(Tensor());
}

Sgd::Sgd(std::vector<Tensor*> params, SgdOptions options)
    : Optimizer(std::move(params)), options_(options) {
    lr_ = options.lr;
    for (Tensor* p : params_) momentum_.push_back(Tensor::zeros(p->shape(), DType::F32, p->device()));
}

void Sgd::step() {
    trace::PhaseScope phase("optimizer");
    trace::Scope scope("sgd", "step", params_.empty() ? Device::CPU : params_.front()->device());
    const bool first = step_ == 0;
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor& p = *params_[i];
        Tensor g = p.grad();
        if (!g.defined()) continue;
        KELVIN_DISPATCH(p.device(), sgd_step, p.f32(), g.f32(), momentum_[i].f32(), p.numel(),
                        lr_, options_.momentum, options_.weight_decay, options_.nesterov, first);
    }
    ++step_;
}

std::vector<std::pair<std::string, Tensor*>> Sgd::state() {
    std::vector<std::pair<std::string, Tensor*>> out;
    for (size_t i = 0; i < momentum_.size(); ++i)
        out.emplace_back("momentum." + std::to_string(i), &momentum_[i]);
    return out;
}

AdamW::AdamW(std::vector<Tensor*> params, AdamWOptions options)
    : Optimizer(std::move(params)), options_(options) {
    lr_ = options.lr;
    for (Tensor* p : params_) {
        exp_avg_.push_back(Tensor::zeros(p->shape(), DType::F32, p->device()));
        exp_avg_sq_.push_back(Tensor::zeros(p->shape(), DType::F32, p->device()));
    }
}

void AdamW::step() {
    trace::PhaseScope phase("optimizer");
    trace::Scope scope("adamw", "step", params_.empty() ? Device::CPU : params_.front()->device());
    ++step_;
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor& p = *params_[i];
        Tensor g = p.grad();
        if (!g.defined()) continue;
        KELVIN_DISPATCH(p.device(), adamw_step, p.f32(), g.f32(), exp_avg_[i].f32(),
                        exp_avg_sq_[i].f32(), p.numel(), lr_, options_.beta1, options_.beta2,
                        options_.eps, options_.weight_decay, step_);
    }
}

std::vector<std::pair<std::string, Tensor*>> AdamW::state() {
    std::vector<std::pair<std::string, Tensor*>> out;
    for (size_t i = 0; i < exp_avg_.size(); ++i) {
        out.emplace_back("exp_avg." + std::to_string(i), &exp_avg_[i]);
        out.emplace_back("exp_avg_sq." + std::to_string(i), &exp_avg_sq_[i]);
    }
    return out;
}

}  // namespace kelvin::optim
