#include "models/registry.h"

#include "models/mlp.h"

namespace kelvin::models {

std::vector<std::string> model_names() { return {"mlp"}; }

std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& options) {
    if (name == "mlp") return std::make_unique<Mlp>(options);
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + name + "': expected one of " + known);
}

}  // namespace kelvin::models
