#include "engine/json_errors.h"
#include "experiments/run_files.h"

#include <fstream>

#include "engine/device.h"

namespace kelvin::experiments {

bool is_partial_run(const std::filesystem::path& folder) {
    return folder.extension() == kPartialSuffix;
}

nlohmann::json read_json(const std::filesystem::path& path, const std::string& who) {
    const std::string prefix = who.empty() ? "" : who + ": ";
    std::ifstream in(path);
    KELVIN_CHECK(in.good(), prefix + "cannot read " + path.string());
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error(prefix + path.string() + " is not valid JSON (" + json_error_text(e) + ")");
    }
}

}  // namespace kelvin::experiments
