#include "experiments/sweep_worker.h"

#include <cstdio>
#include <filesystem>

#include "engine/device.h"
#include "experiments/run_files.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

RunOutcome run_one(const std::string& dir, int64_t index, bool show_progress) {
    const fs::path record_path = fs::path(dir) / "sweep.json";
    KELVIN_CHECK(fs::exists(record_path),
                 "sweep run-one: " + record_path.string() +
                     " not found; create the sweep first with kelvin sweep --config C --out " + dir +
                     " (--slurm --dry-run writes it without running anything)");
    const json record = read_json(record_path, "sweep run-one");
    const SweepConfig config = sweep_config_from_record(record, record_path.string());
    const std::vector<SweepRun> runs = expand_sweep(config);
    const std::vector<std::string> names = run_names(record, runs, record_path.string());
    KELVIN_CHECK(index >= 0 && index < static_cast<int64_t>(names.size()),
                 "sweep run-one: --index " + std::to_string(index) + ": the sweep in " + dir +
                     " has " + std::to_string(names.size()) + " runs, indices 0 to " +
                     std::to_string(static_cast<int64_t>(names.size()) - 1));
    const std::string& name = names[index];
    const SweepRun* run = nullptr;
    for (const SweepRun& r : runs)
        if (r.name == name) run = &r;
    KELVIN_CHECK(run != nullptr, "sweep run-one: --index " + std::to_string(index) + " is run " +
                                     name + ", which the settings in " + record_path.string() +
                                     " no longer include");
    SweepOptions options;
    options.show_progress = show_progress;
    options.command = "kelvin sweep run-one " + dir + " --index " + std::to_string(index);
    options.resume_command = options.command;
    const std::string tag = "[index " + std::to_string(index) + " of " +
                            std::to_string(names.size()) + "] " + name;
    const RunOutcome outcome = train_sweep_run(config, dir, *run, tag, options);
    if (outcome == RunOutcome::finished || outcome == RunOutcome::kept) publish_summary(dir, true);
    return outcome;
}

}  // namespace kelvin::experiments
