#include "experiments/run_record.h"

#include <algorithm>

#include "engine/device.h"
#include "experiments/run_checkpoint.h"
#include "experiments/run_files.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string RunRecord::status() const {
    if (!metrics.is_object()) return "";
    auto it = metrics.find("status");
    return it != metrics.end() && it->is_string() ? it->get<std::string>() : "";
}

RunRecord load_run(const fs::path& run_dir, const std::string& who) {
    RunRecord r;
    r.name = run_dir.filename().string();
    r.dir = run_dir;
    auto read_if_present = [&](const char* file) {
        return fs::exists(run_dir / file) ? read_json(run_dir / file, who) : json();
    };
    r.config_json = read_if_present("config.json");
    r.metrics = read_if_present("metrics.json");
    r.diagnostics = read_if_present("diagnostics.json");
    r.stale_diagnostics = stale_diagnostics_reason(r.metrics, r.diagnostics);
    if (!r.stale_diagnostics.empty()) r.diagnostics = json();
    if (r.config_json.is_null()) {
        r.config_error = "no config.json";
    } else {
        try {
            r.config = config_from_json(r.config_json);
        } catch (const Error& e) {
            r.config_error = (run_dir / "config.json").string() + ": " + e.what();
        }
    }
    return r;
}

std::vector<RunRecord> load_runs(const fs::path& dir, const std::string& who, int* partial) {
    const fs::path runs_dir = dir / "runs";
    KELVIN_CHECK(fs::is_directory(runs_dir),
                 who + ": " + runs_dir.string() +
                     " not found (expected the output folder of `kelvin sweep`)");
    std::vector<fs::path> folders;
    int unfinished = 0;
    for (const auto& entry : fs::directory_iterator(runs_dir)) {
        if (!entry.is_directory()) continue;
        if (is_partial_run(entry.path())) {
            ++unfinished;
            continue;
        }
        folders.push_back(entry.path());
    }
    if (partial) *partial = unfinished;
    std::sort(folders.begin(), folders.end());
    std::vector<RunRecord> runs;
    for (const fs::path& folder : folders) runs.push_back(load_run(folder, who));
    return runs;
}

}  // namespace kelvin::experiments
