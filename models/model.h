// What every architecture offers the experiments layer: a forward pass that can also hand back
// the features at its named probe points (in order, the penultimate representation last), and
// the options common to all families.
#pragma once

#include <string>
#include <vector>

#include "engine/nn/module.h"

namespace kelvin::models {

struct ModelOptions {
    int num_classes = 10;
    int in_channels = 1;
    int in_height = 28;
    int in_width = 28;
    float init_scale = 1.0f;           // multiplier on the default initialisation
    std::string head_norm = "none";    // none | layernorm | normalized_logits (later families)
    // MLP
    int depth = 6;                     // number of linear layers, the classifier included
    int width = 1024;
    std::string activation = "relu";   // relu | gelu
    uint64_t seed = 0;
};

class Model : public nn::Module {
public:
    // Logits [N, num_classes] for inputs [N, C, H, W] (or [N, features]). When `probes` is
    // given, the features at each probe point are appended to it, in probe_names() order.
    virtual Tensor forward(const Tensor& x, std::vector<Tensor>* probes = nullptr) = 0;
    virtual std::vector<std::string> probe_names() const = 0;
    virtual std::string name() const = 0;
    const ModelOptions& options() const { return options_; }

protected:
    explicit Model(ModelOptions options) : options_(std::move(options)) {}
    ModelOptions options_;
};

}  // namespace kelvin::models
