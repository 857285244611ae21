// What ties a run's result files to the weights they were computed from, and the checks a
// resumed run makes on the files it continues from (docs/RELIABILITY.md).
//
// metrics.json's "checkpoint" names the weights model.safetensors holds: {"epochs_done",
// "step", "weights_digest"} (engine/weights_digest.h); every epoch record and "final" carry the
// step and digest of the weights they measured, and diagnostics.json's "weights" the ones it
// was computed from. A diagnostics.json whose weights are not the run's checkpoint is stale:
// a sweep recomputes it, and the summary and the report refuse to show it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/checkpoint.h"
#include "experiments/run_diagnostics.h"
#include "experiments/run_metrics.h"

namespace kelvin::experiments {

CheckpointRecord checkpoint_record(int64_t epochs_done, int64_t step, const std::string& digest);

// A checkpoint's metadata value `key` as a non-negative integer; errors name the file, the key
// and the value (never std::stoll's or map::at's text).
int64_t metadata_integer(const SafetensorsFile& file, const std::string& key,
                         const std::filesystem::path& path);

// Throws kelvin::Error naming the file and key unless metrics.json has the shape train writes:
// a string "status", an "epochs" list of objects each with an integer "epoch", a "track" list
// of objects with an integer "step", an "init" object.
void check_metrics_shape(const nlohmann::json& metrics, const std::filesystem::path& path);

// Why the diagnostics do not belong to the run's current weights, or "" when they do.
// Diagnostics and metrics written by kelvin before digests are compared by the run status and
// epoch count the diagnostics recorded.
std::string stale_diagnostics_reason(const Metrics& metrics, const Diagnostics& diagnostics);

}  // namespace kelvin::experiments
