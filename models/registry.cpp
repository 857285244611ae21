#include "models/registry.h"

#include <algorithm>

#include "models/mlp.h"
#include "models/resnet.h"
#include "models/vgg.h"
#include "models/vit.h"

namespace kelvin::models {

std::vector<std::string> model_names() {
    std::vector<std::string> names = {"mlp"};
    for (const auto& n : Vgg::variants()) names.push_back(n);
    for (const auto& n : ResNet::variants()) names.push_back(n);
    names.push_back("vit");
    return names;
}

std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& options) {
    if (name == "mlp") return std::make_unique<Mlp>(options);
    if (name == "vit") return std::make_unique<VisionTransformer>(options);
    const auto has = [](const std::vector<std::string>& names, const std::string& n) {
        return std::find(names.begin(), names.end(), n) != names.end();
    };
    if (has(Vgg::variants(), name)) return std::make_unique<Vgg>(name, options);
    if (has(ResNet::variants(), name)) return std::make_unique<ResNet>(name, options);
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + name + "': expected one of " + known);
}

}  // namespace kelvin::models
