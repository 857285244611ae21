// A digest of a model's weights, so that every result file can say which weights it was computed
// from: the checkpoint writes it into model.safetensors' metadata and metrics.json, and
// diagnostics.json, the summary and the report carry it; a result whose digest differs from the
// run's current checkpoint is stale (docs/RELIABILITY.md, "Results tied to weights").
// FNV-1a (64 bit) over every tensor's name, dtype, shape and bytes, in name order: a change of
// any weight, name or shape changes it. It guards against mix-ups, not against tampering.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/checkpoint.h"

namespace kelvin {

// "fnv1a64:" and 16 hex digits.
std::string weights_digest(const std::vector<NamedTensorRef>& tensors);
std::string weights_digest(const std::map<std::string, Tensor>& tensors);

}  // namespace kelvin
