// Modules own parameters (leaves that require gradients) and buffers (state such as running
// statistics), and nest. Names follow PyTorch's dotted convention ("hidden.0.weight") so that
// checkpoints map one-to-one onto a PyTorch state_dict.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace kelvin::nn {

struct NamedTensor {
    std::string name;
    Tensor* tensor;  // points into the owning module; stable while the module lives
};

class Module {
public:
    virtual ~Module() = default;

    std::vector<NamedTensor> named_parameters();
    std::vector<NamedTensor> named_buffers();
    std::vector<Tensor*> parameters();
    int64_t parameter_count();
    // Every module below this one (not itself), depth first, with its dotted name.
    std::vector<std::pair<std::string, Module*>> named_modules();

    void train(bool on = true);
    void eval() { train(false); }
    bool training() const { return training_; }
    // Moves every parameter and buffer to `device` (parameters stay leaves that need grads).
    void to(Device device);
    void zero_grad();

protected:
    Tensor& register_parameter(const std::string& name, Tensor value);
    Tensor& register_buffer(const std::string& name, Tensor value);
    template <typename M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        children_.emplace_back(name, module);
        return module;
    }

private:
    void collect(const std::string& prefix, bool buffers, std::vector<NamedTensor>& out);

    // unique_ptr keeps each Tensor's address stable as more are registered.
    std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> parameters_;
    std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

}  // namespace kelvin::nn
