#include "experiments/run_record.h"

#include <algorithm>

#include "engine/device.h"
#include "experiments/run_checkpoint.h"
#include "experiments/run_files.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::optional<Diagnostics> read_diagnostics(const fs::path& run_dir, const std::string& who) {
    const fs::path path = run_dir / kDiagnosticsFile;
    if (!fs::exists(path)) return std::nullopt;
    return diagnostics_from_json(read_json(path, who));
}

RunRecord load_run(const fs::path& run_dir, const std::string& who) {
    RunRecord r;
    r.name = run_dir.filename().string();
    r.dir = run_dir;
    if (fs::exists(run_dir / kConfigFile)) r.config_json = read_json(run_dir / kConfigFile, who);
    if (fs::exists(run_dir / kMetricsFile)) r.metrics = read_metrics(run_dir, who);
    r.diagnostics = read_diagnostics(run_dir, who);
    if (r.metrics && r.diagnostics)
        r.stale_diagnostics = stale_diagnostics_reason(*r.metrics, *r.diagnostics);
    if (!r.stale_diagnostics.empty()) r.diagnostics.reset();
    if (r.config_json.is_null()) {
        r.config_error = "no config.json";
    } else {
        try {
            r.config = config_from_json(r.config_json);
        } catch (const Error& e) {
            r.config_error = (run_dir / kConfigFile).string() + ": " + e.what();
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
