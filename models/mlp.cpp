#include "models/mlp.h"

#include "engine/ops.h"

namespace kelvin::models {

Mlp::Mlp(const ModelOptions& options) : Model(options) {
    KELVIN_CHECK(options.depth >= 1, "mlp: depth must be at least 1, got " +
                                         std::to_string(options.depth));
    KELVIN_CHECK(options.width >= 1, "mlp: width must be at least 1");
    KELVIN_CHECK(options.activation == "relu" || options.activation == "gelu",
                 "mlp: unknown activation '" + options.activation + "': expected relu or gelu");
    KELVIN_CHECK(options.head_norm == "none",
                 "mlp: head normalisation '" + options.head_norm + "' is not implemented yet");
    nn::Generator gen(options.seed);
    int64_t in = int64_t(options.in_channels) * options.in_height * options.in_width;
    for (int i = 0; i + 1 < options.depth; ++i) {
        hidden_.push_back(register_module(
            "hidden." + std::to_string(i),
            std::make_shared<nn::Linear>(in, options.width, true, options.init_scale, gen)));
        in = options.width;
    }
    classifier_ = register_module(
        "classifier",
        std::make_shared<nn::Linear>(in, options.num_classes, true, options.init_scale, gen));
}

Tensor Mlp::forward(const Tensor& x, std::vector<Tensor>* probes) {
    Tensor h = x.ndim() == 2 ? x : ops::flatten(x);
    const bool relu = options_.activation == "relu";
    for (auto& layer : hidden_) {
        h = relu ? layer->forward_relu(h) : ops::gelu(layer->forward(h));
        if (probes) probes->push_back(h);
    }
    return classifier_->forward(h);
}

std::vector<std::string> Mlp::probe_names() const {
    std::vector<std::string> names;
    for (size_t i = 0; i < hidden_.size(); ++i) names.push_back("hidden." + std::to_string(i));
    return names;
}

}  // namespace kelvin::models
