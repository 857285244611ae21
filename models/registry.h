// Builds a model from its name and options: the one place that knows every architecture.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace kelvin::models {

std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& options);
std::vector<std::string> model_names();

}  // namespace kelvin::models
