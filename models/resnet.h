// ResNet-18 and ResNet-34 (He et al.) with BasicBlocks, torchvision's layout and names:
//   stem     "cifar" (default): conv1 3x3 stride 1 -> bn1 -> ReLU, no max-pool (32x32 inputs keep
//            their resolution into layer1); "imagenet": conv1 7x7 stride 2 padding 3 -> bn1 ->
//            ReLU -> 3x3 max-pool stride 2 padding 1.
//   layer1..layer4  [2,2,2,2] (18) or [3,4,6,3] (34) BasicBlocks of base_width * {1,2,4,8}
//            channels (64..512 in the paper); the first block of layers 2-4 has stride 2.
//   BasicBlock  relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is the
//            identity, or downsample = 1x1 conv (stride 2) + BatchNorm where the shape changes.
//   global average pool -> the shared classifier head.
// Convolutions have no bias, as in torchvision. Parameter names are torchvision's ("conv1.weight",
// "layer1.0.bn1.running_mean", "layer2.0.downsample.0.weight", ...) except the head, which every
// kelvin model shares and names "classifier" (torchvision: "fc"); "head_norm" precedes it when
// options.head_norm is layernorm.
//
// Initialisation: PyTorch's nn.Conv2d/nn.Linear default (U(+-1/sqrt(fan_in))) times
// options.init_scale, BatchNorm weight 1 and bias 0 — not torchvision's kaiming_normal, so that
// init_scale means the same thing in every family.
//
// Probe points: the output of every residual block ("layer1.0", "layer1.1", ..., after the
// block's final ReLU), then "penultimate": the pooled [N, 8 * base_width] features.
#pragma once

#include <memory>

#include "engine/nn/conv.h"
#include "engine/nn/norm.h"
#include "models/model.h"

namespace kelvin::models {

class BasicBlock : public nn::Module {
public:
    BasicBlock(int64_t in_channels, int64_t out_channels, int stride, float init_scale,
               nn::Generator& gen);
    Tensor forward(const Tensor& x) const;

private:
    std::shared_ptr<nn::Conv2d> conv1_, conv2_, shortcut_conv_;
    std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_, shortcut_norm_;
};

class ResNet : public Model {
public:
    // variant: resnet18 or resnet34.
    ResNet(const std::string& variant, const ModelOptions& options);
    Tensor forward(const Tensor& x, std::vector<Tensor>* probes = nullptr) override;
    std::vector<std::string> probe_names() const override;
    std::string name() const override { return variant_; }

    static std::vector<std::string> variants() { return {"resnet18", "resnet34"}; }

private:
    std::string variant_;
    std::shared_ptr<nn::Conv2d> conv1_;
    std::shared_ptr<nn::BatchNorm2d> bn1_;
    std::vector<std::shared_ptr<BasicBlock>> blocks_;
    std::vector<std::string> block_names_;
    ClassifierHead head_;
};

}  // namespace kelvin::models
