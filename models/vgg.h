// VGG-11/13/16/19 (Simonyan & Zisserman), the CIFAR variant: 3x3 convolutions (padding 1, with
// bias) grouped in five stages of base_width * {1, 2, 4, 8, 8} channels (64..512 in the paper),
// each conv followed by ReLU, or by BatchNorm then ReLU in the "bn" variants, and a 2x2 max-pool
// (stride 2) closing each stage; then the flattened features feed the shared classifier head
// (one linear layer, models/model.h) instead of the ImageNet model's three-layer classifier.
//
// Small inputs: five floor-poolings take 32x32 to 1x1, but 28x28 (Fashion-MNIST) would reach
// 0x0 (28, 14, 7, 3, 1, 0). Rule: a stage's pool is skipped when the map is already smaller
// than 2 in either side, so 28x28 ends at 1x1 too and the head sees C_last features. Larger
// inputs keep their remaining map: the head sees C_last * h * w features (2x2 for 64x64).
//
// Names follow torchvision's nn.Sequential numbering ("features.<i>.weight"): the index counts
// every conv, BatchNorm, ReLU and pool in order, pools included even when skipped, so a
// torchvision-style state_dict of the same layout maps one-to-one (the classifier excepted).
// Probe points: the output of each conv block's ReLU, named after that ReLU's index
// ("features.2", ... as a forward hook on that torchvision module would see it), then
// "penultimate": the flattened input to the head.
//
// Initialisation: PyTorch's default for nn.Conv2d and nn.Linear (U(+-1/sqrt(fan_in)) for
// weights and biases) times options.init_scale; BatchNorm weight 1, bias 0.
#pragma once

#include <memory>

#include "engine/nn/conv.h"
#include "engine/nn/norm.h"
#include "models/model.h"

namespace kelvin::models {

class Vgg : public Model {
public:
    // variant: vgg11, vgg13, vgg16, vgg19, optionally with the suffix "bn".
    Vgg(const std::string& variant, const ModelOptions& options);
    Tensor forward(const Tensor& x, std::vector<Tensor>* probes = nullptr) override;
    std::vector<std::string> probe_names() const override;
    std::string name() const override { return variant_; }

    static std::vector<std::string> variants();

private:
    struct Layer {
        std::shared_ptr<nn::Conv2d> conv;       // null for a pool
        std::shared_ptr<nn::BatchNorm2d> norm;  // null without batch norm
        std::string probe;                      // name of the conv block's output
    };
    std::string variant_;
    std::vector<Layer> layers_;
    ClassifierHead head_;
};

}  // namespace kelvin::models
