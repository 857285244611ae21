// What every architecture offers the experiments layer: a forward pass that can also hand back
// the features at its named probe points (in order, the penultimate representation last), and
// the options common to all families.
#pragma once

#include <string>
#include <vector>

#include <memory>

#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "engine/nn/norm.h"

namespace kelvin::models {

struct ModelOptions {
    int num_classes = 10;
    int in_channels = 1;
    int in_height = 28;
    int in_width = 28;
    float init_scale = 1.0f;           // multiplier on the default initialisation
    std::string head_norm = "none";    // none | layernorm | normalized_logits
    // MLP
    int depth = 6;                     // number of linear layers, the classifier included
    int width = 1024;
    std::string activation = "relu";   // relu | gelu
    std::string norm = "none";         // mlp hidden layers: none | batchnorm | layernorm
    // VGG and ResNet: channels of the first stage (64 in the papers); each later stage doubles
    // it (VGG caps at 8x, as 512 = 8 * 64). Small values give the golden-test models.
    int base_width = 64;
    std::string stem = "cifar";        // resnet: cifar (3x3 conv) | imagenet (7x7/2 + max-pool)
    // ViT (models/vit.h). The MLP's depth and width are not reused, so a sweep can set both.
    int patch = 4;                     // square patch side; must divide in_height and in_width
    int vit_width = 192;               // token dimension D
    int vit_depth = 6;                 // transformer blocks
    int vit_heads = 3;                 // attention heads; must divide vit_width
    float vit_mlp_ratio = 4.0f;        // hidden units of each block's MLP = ratio * D
    float vit_dropout = 0.0f;          // dropout after embeddings, attention and MLP layers
    uint64_t seed = 0;
};

// The classifier head every architecture shares, with the paper's normalisation placements
// (options.head_norm):
//   none               logits = W h + b
//   layernorm          logits = W LayerNorm(h) + b       (normalisation before the classifier)
//   normalized_logits  logits = (W h + b) / ||W h + b||  (unit-norm logits: the network can no
//                      longer grow the logits norm, so T alone sets the softmax's sharpness)
// Parameters: "head_norm.weight/bias" (layernorm only) and "classifier.weight/bias".
struct ClassifierHead {
    std::string placement = "none";
    std::shared_ptr<nn::LayerNorm> norm;
    std::shared_ptr<nn::Linear> classifier;
    Tensor forward(const Tensor& h) const;
};

void validate_head_norm(const std::string& placement);  // throws naming the allowed values

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
    // Builds and registers the head on this model for `features` inputs.
    ClassifierHead make_head(int64_t features, nn::Generator& gen);
    ModelOptions options_;
};

}  // namespace kelvin::models
