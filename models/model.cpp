#include "models/model.h"

#include "engine/ops.h"

namespace kelvin::models {

void validate_head_norm(const std::string& placement) {
    KELVIN_CHECK(placement == "none" || placement == "layernorm" || placement == "normalized_logits",
                 "unknown head normalisation '" + placement +
                     "': expected none, layernorm or normalized_logits");
}

Tensor ClassifierHead::forward(const Tensor& h) const {
    Tensor logits = classifier->forward(norm ? norm->forward(h) : h);
    return placement == "normalized_logits" ? ops::l2_normalize_rows(logits) : logits;
}

ClassifierHead Model::make_head(int64_t features, nn::Generator& gen) {
    validate_head_norm(options_.head_norm);
    ClassifierHead head;
    head.placement = options_.head_norm;
    if (head.placement == "layernorm")
        head.norm = register_module("head_norm", std::make_shared<nn::LayerNorm>(features));
    head.classifier = register_module(
        "classifier", std::make_shared<nn::Linear>(features, options_.num_classes, true,
                                                   options_.init_scale, gen));
    return head;
}

}  // namespace kelvin::models
