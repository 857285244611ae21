#include "engine/nn/module.h"

namespace kelvin::nn {

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
    value.set_requires_grad(true);
    parameters_.emplace_back(name, std::make_unique<Tensor>(std::move(value)));
    return *parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
    buffers_.emplace_back(name, std::make_unique<Tensor>(std::move(value)));
    return *buffers_.back().second;
}

void Module::collect(const std::string& prefix, bool buffers, std::vector<NamedTensor>& out) {
    for (auto& [name, tensor] : buffers ? buffers_ : parameters_)
        out.push_back({prefix + name, tensor.get()});
    for (auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
    std::vector<std::pair<std::string, Module*>> out;
    for (auto& [name, child] : children_) {
        out.emplace_back(name, child.get());
        for (auto& [below, module] : child->named_modules()) out.emplace_back(name + "." + below, module);
    }
    return out;
}

std::vector<NamedTensor> Module::named_parameters() {
    std::vector<NamedTensor> out;
    collect("", false, out);
    return out;
}

std::vector<NamedTensor> Module::named_buffers() {
    std::vector<NamedTensor> out;
    collect("", true, out);
    return out;
}

std::vector<Tensor*> Module::parameters() {
    std::vector<Tensor*> out;
    for (auto& p : named_parameters()) out.push_back(p.tensor);
    return out;
}

int64_t Module::parameter_count() {
    int64_t n = 0;
    for (auto* p : parameters()) n += p->numel();
    return n;
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
    for (auto& p : named_parameters()) {
        if (p.tensor->device() == device) continue;
        *p.tensor = p.tensor->to(device).detach();
        p.tensor->set_requires_grad(true);
    }
    for (auto& b : named_buffers())
        if (b.tensor->device() != device) *b.tensor = b.tensor->to(device);
}

void Module::zero_grad() {
    for (auto* p : parameters()) p->zero_grad();
}

}  // namespace kelvin::nn
