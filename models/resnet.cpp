#include "models/resnet.h"

#include "engine/ops.h"

namespace kelvin::models {

// Children registered under dotted names ("layer1.0", "downsample.0") give torchvision's
// nn.Sequential names without a container module.

BasicBlock::BasicBlock(int64_t in, int64_t out, int stride, float init_scale, nn::Generator& gen) {
    conv1_ = register_module("conv1",
                             std::make_shared<nn::Conv2d>(in, out, 3, stride, 1, false, init_scale, gen));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out));
    conv2_ = register_module("conv2",
                             std::make_shared<nn::Conv2d>(out, out, 3, 1, 1, false, init_scale, gen));
    bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out));
    if (stride != 1 || in != out) {
        shortcut_conv_ = register_module(
            "downsample.0",
            std::make_shared<nn::Conv2d>(in, out, 1, stride, 0, false, init_scale, gen));
        shortcut_norm_ = register_module("downsample.1", std::make_shared<nn::BatchNorm2d>(out));
    }
}

Tensor BasicBlock::forward(const Tensor& x) const {
    Tensor h = ops::relu(bn1_->forward(conv1_->forward(x)));
    h = bn2_->forward(conv2_->forward(h));
    const Tensor shortcut = shortcut_conv_ ? shortcut_norm_->forward(shortcut_conv_->forward(x)) : x;
    return ops::relu(ops::add(h, shortcut));
}

ResNet::ResNet(const std::string& variant, const ModelOptions& options)
    : Model(options), variant_(variant) {
    std::vector<int> blocks_per_layer;
    if (variant == "resnet18") blocks_per_layer = {2, 2, 2, 2};
    else if (variant == "resnet34") blocks_per_layer = {3, 4, 6, 3};
    else throw Error("resnet: unknown variant '" + variant + "': expected resnet18 or resnet34");
    KELVIN_CHECK(options.stem == "cifar" || options.stem == "imagenet",
                 "resnet: unknown stem '" + options.stem + "': expected cifar or imagenet");
    KELVIN_CHECK(options.base_width >= 1, "resnet: base_width must be at least 1, got " +
                                              std::to_string(options.base_width));

    nn::Generator gen(options.seed);
    const int64_t base = options.base_width;
    const bool imagenet = options.stem == "imagenet";
    conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(
                                          options.in_channels, base, imagenet ? 7 : 3,
                                          imagenet ? 2 : 1, imagenet ? 3 : 1, false,
                                          options.init_scale, gen));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(base));
    int64_t channels = base;
    for (size_t l = 0; l < blocks_per_layer.size(); ++l) {
        const std::string layer_name = "layer" + std::to_string(l + 1);
        const int64_t out = base << l;
        for (int b = 0; b < blocks_per_layer[l]; ++b) {
            const int stride = (l > 0 && b == 0) ? 2 : 1;
            const std::string block_name = layer_name + "." + std::to_string(b);
            blocks_.push_back(register_module(
                block_name,
                std::make_shared<BasicBlock>(channels, out, stride, options.init_scale, gen)));
            block_names_.push_back(block_name);
            channels = out;
        }
    }
    head_ = make_head(channels, gen);
}

Tensor ResNet::forward(const Tensor& x, std::vector<Tensor>* probes) {
    KELVIN_CHECK(x.ndim() == 4 && x.size(1) == options_.in_channels,
                 name() + ": expected images [N, " + std::to_string(options_.in_channels) +
                     ", H, W], got " + x.describe());
    Tensor h = ops::relu(bn1_->forward(conv1_->forward(x)));
    if (options_.stem == "imagenet") h = ops::max_pool2d(h, 3, 2, 1);
    for (const auto& block : blocks_) {
        h = block->forward(h);
        if (probes) probes->push_back(h);
    }
    h = ops::global_avg_pool(h);
    if (probes) probes->push_back(h);
    return head_.forward(h);
}

std::vector<std::string> ResNet::probe_names() const {
    std::vector<std::string> names = block_names_;
    names.push_back("penultimate");
    return names;
}

}  // namespace kelvin::models
