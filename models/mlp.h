// The multilayer perceptron of the Tunnel Effect and Unpacking Softmax MLP experiments:
// `depth` linear layers (depth - 1 hidden layers of `width` units and a linear classifier).
// Probe points: after every hidden layer's activation ("hidden.0" ... ), the last of which is the
// penultimate representation.
#pragma once

#include <memory>

#include "engine/nn/linear.h"
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
    std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace kelvin::models
