#include "experiments/run_checkpoint.h"

#include <cerrno>
#include <cstdlib>

#include "engine/device.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;

CheckpointRecord checkpoint_record(int64_t epochs_done, int64_t step, const std::string& digest) {
    return {epochs_done, step, digest};
}

int64_t metadata_integer(const SafetensorsFile& file, const std::string& key,
                         const fs::path& path) {
    auto it = file.metadata.find(key);
    KELVIN_CHECK(it != file.metadata.end(),
                 path.string() + ": metadata has no '" + key +
                     "' (expected a non-negative integer); was it written by kelvin train?");
    const std::string& text = it->second;
    errno = 0;
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    KELVIN_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0 && value >= 0,
                 path.string() + ": metadata '" + key + "' = \"" + text +
                     "\": expected a non-negative integer");
    return value;
}

namespace {

void check_list_of_records(const json& metrics, const char* list, const char* key,
                           const fs::path& path) {
    if (!metrics.contains(list)) return;
    const json& items = metrics.at(list);
    KELVIN_CHECK(items.is_array(), path.string() + ": '" + list + "' = " +
                                       items.dump().substr(0, 80) + ": expected a list");
    for (size_t i = 0; i < items.size(); ++i)
        KELVIN_CHECK(items[i].is_object() && items[i].contains(key) &&
                         items[i].at(key).is_number_integer(),
                     path.string() + ": " + list + "[" + std::to_string(i) + "] = " +
                         items[i].dump().substr(0, 80) + ": expected an object with an integer '" +
                         key + "'");
}

}  // namespace

void check_metrics_shape(const json& metrics, const fs::path& path) {
    KELVIN_CHECK(metrics.is_object(), path.string() + ": expected a JSON object at the top level");
    KELVIN_CHECK(metrics.contains("status") && metrics.at("status").is_string(),
                 path.string() + ": 'status' = " +
                     (metrics.contains("status") ? metrics.at("status").dump() : "(none)") +
                     ": expected a string");
    KELVIN_CHECK(metrics.contains("epochs"), path.string() + ": no 'epochs' list");
    check_list_of_records(metrics, "epochs", "epoch", path);
    check_list_of_records(metrics, "track", "step", path);
    KELVIN_CHECK(!metrics.contains("init") || metrics.at("init").is_object(),
                 path.string() + ": 'init' = " + metrics.at("init").dump().substr(0, 80) +
                     ": expected an object");
}

std::string stale_diagnostics_reason(const Metrics& metrics, const Diagnostics& diagnostics) {
    const std::optional<CheckpointRecord>& checkpoint = metrics.checkpoint;
    const std::optional<WeightsRecord>& weights = diagnostics.weights;
    if (checkpoint && weights) {
        if (checkpoint->weights_digest == weights->weights_digest) return "";
        auto step = [](std::optional<int64_t> s) { return s ? std::to_string(*s) : "?"; };
        auto digest = [](const std::string& d) { return json(d).dump(); };
        return "diagnostics.json was computed from the weights of step " + step(weights->step) +
               " (" + digest(weights->weights_digest) + "), the run's checkpoint holds step " +
               std::to_string(checkpoint->step) + " (" + digest(checkpoint->weights_digest) + ")";
    }
    if (checkpoint && !weights)
        return "diagnostics.json names no weights (written by an older kelvin, or before the "
               "run's last checkpoint)";
    // Both from before digests: the run status and epoch count diagnose recorded.
    const std::string& measured = diagnostics.settings.run_status;
    const int64_t epochs = static_cast<int64_t>(metrics.epochs.size());
    const std::optional<int64_t> done = diagnostics.settings.run_epochs_done;
    if (!measured.empty() && measured != metrics.status)
        return "diagnostics.json measured the run while it was " + measured + "; it is now " +
               metrics.status;
    if (done && *done != epochs)
        return "diagnostics.json measured the weights of epoch " + std::to_string(*done) +
               "; the run has " + std::to_string(epochs);
    return "";
}

}  // namespace kelvin::experiments
