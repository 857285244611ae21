#include "experiments/run_checkpoint.h"

#include <cerrno>
#include <cstdlib>

#include "engine/device.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;

json checkpoint_record(int64_t epochs_done, int64_t step, const std::string& digest) {
    return {{"epochs_done", epochs_done}, {"step", step}, {"weights_digest", digest}};
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

std::string stale_diagnostics_reason(const json& metrics, const json& diagnostics) {
    if (!metrics.is_object() || !diagnostics.is_object()) return "";
    const json* checkpoint = metrics.contains("checkpoint") && metrics["checkpoint"].is_object()
                                 ? &metrics["checkpoint"]
                                 : nullptr;
    const json* weights = diagnostics.contains("weights") && diagnostics["weights"].is_object()
                              ? &diagnostics["weights"]
                              : nullptr;
    auto text = [](const json* record, const char* key) {
        return record && record->contains(key) ? record->at(key).dump() : std::string("?");
    };
    if (checkpoint && weights) {
        if (checkpoint->value("weights_digest", json()) == weights->value("weights_digest", json()))
            return "";
        return "diagnostics.json was computed from the weights of step " + text(weights, "step") +
               " (" + text(weights, "weights_digest") + "), the run's checkpoint holds step " +
               text(checkpoint, "step") + " (" + text(checkpoint, "weights_digest") + ")";
    }
    if (checkpoint && !weights)
        return "diagnostics.json names no weights (written by an older kelvin, or before the "
               "run's last checkpoint)";
    // Both from before digests: the run status and epoch count diagnose recorded.
    const json settings = diagnostics.value("settings", json::object());
    const std::string status = metrics.value("status", "");
    const std::string measured = settings.is_object() ? settings.value("run_status", "") : "";
    const int64_t epochs = metrics.contains("epochs") && metrics["epochs"].is_array()
                               ? static_cast<int64_t>(metrics["epochs"].size())
                               : -1;
    const json done = settings.is_object() ? settings.value("run_epochs_done", json()) : json();
    if (!measured.empty() && measured != status)
        return "diagnostics.json measured the run while it was " + measured + "; it is now " +
               status;
    if (done.is_number_integer() && done.get<int64_t>() != epochs)
        return "diagnostics.json measured the weights of epoch " + done.dump() +
               "; the run has " + std::to_string(epochs);
    return "";
}

}  // namespace kelvin::experiments
