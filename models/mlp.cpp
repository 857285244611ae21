#include "models/mlp.h"

#include "engine/ops.h"

namespace kelvin::models {

Mlp::Mlp(const ModelOptions& options) : Model(options) {
    KELVIN_CHECK(options.depth >= 1, "mlp: depth must be at least 1, got " +
                                         std::to_string(options.depth));
    KELVIN_CHECK(options.width >= 1, "mlp: width must be at least 1");
    KELVIN_CHECK(options.activation == "relu" || options.activation == "gelu",
                 "mlp: unknown activation '" + options.activation + "': expected relu or gelu");
    KELVIN_CHECK(options.norm == "none" || options.norm == "batchnorm" || options.norm == "layernorm",
                 "mlp: unknown normalisation '" + options.norm +
                     "': expected none, batchnorm or layernorm");
    nn::Generator gen(options.seed);
    int64_t in = int64_t(options.in_channels) * options.in_height * options.in_width;
    for (int i = 0; i + 1 < options.depth; ++i) {
        const std::string prefix = "hidden." + std::to_string(i);
        hidden_.push_back(register_module(
            prefix, std::make_shared<nn::Linear>(in, options.width, true, options.init_scale, gen)));
        if (options.norm == "batchnorm")
            batch_norms_.push_back(
                register_module("norm." + std::to_string(i), std::make_shared<nn::BatchNorm2d>(options.width)));
        if (options.norm == "layernorm")
            layer_norms_.push_back(
                register_module("norm." + std::to_string(i), std::make_shared<nn::LayerNorm>(options.width)));
        in = options.width;
    }
    head_ = make_head(in, gen);
}

Tensor Mlp::forward(const Tensor& x, std::vector<Tensor>* probes) {
    Tensor h = x.ndim() == 2 ? x : ops::flatten(x);
    const bool relu = options_.activation == "relu";
    const bool plain = options_.norm == "none";
    for (size_t i = 0; i < hidden_.size(); ++i) {
        if (plain && relu) {
            h = hidden_[i]->forward_relu(h);  // linear + bias + relu in one pass
        } else {
            h = hidden_[i]->forward(h);
            if (!batch_norms_.empty()) {
                const Shape flat = h.shape();
                h = ops::reshape(batch_norms_[i]->forward(ops::reshape(h, {flat[0], flat[1], 1, 1})), flat);
            }
            if (!layer_norms_.empty()) h = layer_norms_[i]->forward(h);
            h = relu ? ops::relu(h) : ops::gelu(h);
        }
        if (probes) probes->push_back(h);
    }
    return head_.forward(h);
}

std::vector<std::string> Mlp::probe_names() const {
    std::vector<std::string> names;
    for (size_t i = 0; i < hidden_.size(); ++i) names.push_back("hidden." + std::to_string(i));
    return names;
}

}  // namespace kelvin::models
