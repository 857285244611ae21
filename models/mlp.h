// The multilayer perceptron of the Tunnel Effect and Unpacking Softmax MLP experiments:
// `depth` linear layers (depth - 1 hidden layers of `width` units, then the classifier head).
// Hidden layer i: linear -> optional normalisation (options.norm: none | batchnorm | layernorm)
// -> activation. Probe points: after every hidden layer ("hidden.0", ...); the last one is the
// penultimate representation.
#pragma once

#include <memory>

#include "engine/nn/linear.h"
#include "engine/nn/norm.h"
#include "models/model.h"

namespace kelvin::models {

class Mlp : public Model {
public:
    explicit Mlp(const ModelOptions& options);
    Tensor forward(const Tensor& x, std::vector<Tensor>* probes = nullptr) override;
    std::vector<std::string> probe_names() const override;
    std::string name() const override { return "mlp"; }

private:
    std::vector<std::shared_ptr<nn::Linear>> hidden_;
    std::vector<std::shared_ptr<nn::BatchNorm2d>> batch_norms_;
    std::vector<std::shared_ptr<nn::LayerNorm>> layer_norms_;
    ClassifierHead head_;
};

}  // namespace kelvin::models
