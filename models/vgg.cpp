#include "models/vgg.h"

#include <map>

#include "engine/ops.h"

namespace kelvin::models {

namespace {

constexpr int kPool = 0;

// Channel multipliers of base_width per conv; kPool closes a stage.
const std::map<std::string, std::vector<int>>& configurations() {
    static const std::map<std::string, std::vector<int>> table = {
        {"vgg11", {1, kPool, 2, kPool, 4, 4, kPool, 8, 8, kPool, 8, 8, kPool}},
        {"vgg13", {1, 1, kPool, 2, 2, kPool, 4, 4, kPool, 8, 8, kPool, 8, 8, kPool}},
        {"vgg16", {1, 1, kPool, 2, 2, kPool, 4, 4, 4, kPool, 8, 8, 8, kPool, 8, 8, 8, kPool}},
        {"vgg19",
         {1, 1, kPool, 2, 2, kPool, 4, 4, 4, 4, kPool, 8, 8, 8, 8, kPool, 8, 8, 8, 8, kPool}},
    };
    return table;
}

bool pool_applies(int64_t height, int64_t width) { return height >= 2 && width >= 2; }

}  // namespace

std::vector<std::string> Vgg::variants() {
    std::vector<std::string> names;
    for (const auto& [depth, config] : configurations()) {
        names.push_back(depth);
        names.push_back(depth + "bn");
    }
    return names;
}

Vgg::Vgg(const std::string& variant, const ModelOptions& options)
    : Model(options), variant_(variant) {
    const bool batch_norm = variant.size() > 2 && variant.compare(variant.size() - 2, 2, "bn") == 0;
    const std::string depth = batch_norm ? variant.substr(0, variant.size() - 2) : variant;
    const auto found = configurations().find(depth);
    KELVIN_CHECK(found != configurations().end(),
                 "vgg: unknown variant '" + variant +
                     "': expected vgg11, vgg13, vgg16 or vgg19, optionally with the suffix bn");
    KELVIN_CHECK(options.base_width >= 1,
                 "vgg: base_width must be at least 1, got " + std::to_string(options.base_width));
    KELVIN_CHECK(options.in_channels >= 1 && options.in_height >= 1 && options.in_width >= 1,
                 "vgg: input channels, height and width must be positive");

    nn::Generator gen(options.seed);
    int64_t channels = options.in_channels, height = options.in_height, width = options.in_width;
    int index = 0;  // torchvision's position in nn.Sequential
    for (int multiplier : found->second) {
        Layer layer;
        if (multiplier == kPool) {
            if (pool_applies(height, width)) height /= 2, width /= 2;
            layers_.push_back(layer);
            index += 1;
            continue;
        }
        const int64_t out = int64_t(options.base_width) * multiplier;
        layer.conv = register_module("features." + std::to_string(index++),
                                     std::make_shared<nn::Conv2d>(channels, out, 3, 1, 1, true,
                                                                  options.init_scale, gen));
        if (batch_norm)
            layer.norm = register_module("features." + std::to_string(index++),
                                         std::make_shared<nn::BatchNorm2d>(out));
        layer.probe = "features." + std::to_string(index++);  // the ReLU
        layers_.push_back(layer);
        channels = out;
    }
    head_ = make_head(channels * height * width, gen);
}

Tensor Vgg::forward(const Tensor& x, std::vector<Tensor>* probes) {
    KELVIN_CHECK(x.ndim() == 4 && x.size(1) == options_.in_channels,
                 name() + ": expected images [N, " + std::to_string(options_.in_channels) +
                     ", H, W], got " + x.describe());
    Tensor h = x;
    for (const Layer& layer : layers_) {
        if (!layer.conv) {
            if (pool_applies(h.size(2), h.size(3))) h = ops::max_pool2d(h, 2, 2);
            continue;
        }
        h = layer.conv->forward(h);
        if (layer.norm) h = layer.norm->forward(h);
        h = ops::relu(h);
        if (probes) probes->push_back(h);
    }
    h = ops::flatten(h);
    if (probes) probes->push_back(h);
    return head_.forward(h);
}

std::vector<std::string> Vgg::probe_names() const {
    std::vector<std::string> names;
    for (const Layer& layer : layers_)
        if (layer.conv) names.push_back(layer.probe);
    names.push_back("penultimate");
    return names;
}

}  // namespace kelvin::models
