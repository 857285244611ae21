#include "experiments/sweep_status.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/device.h"
#include "engine/run_lock.h"
#include "experiments/run_files.h"
#include "experiments/run_metrics.h"
#include "experiments/slurm.h"
#include "experiments/sweep.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

enum class State { finished, diverged, running, partial, failed, pending };
const char* const kStateNames[] = {"finished", "diverged", "running", "partial", "failed", "pending"};

std::optional<Metrics> metrics_of(const fs::path& run_dir) {
    try {
        return read_metrics(run_dir, "");
    } catch (const std::exception&) {
        return std::nullopt;  // a run killed before its first metrics.json, or one being rewritten
    }
}

// "epoch 2 of 5" from a run folder's metrics.json and config.json.
std::string epochs_text(const fs::path& run_dir, const Metrics& metrics, int default_epochs) {
    const int64_t done = static_cast<int64_t>(metrics.epochs.size());
    int64_t total = default_epochs;
    try {
        total = read_json(run_dir / kConfigFile).value("epochs", default_epochs);
    } catch (const std::exception&) {
    }
    return "epoch " + std::to_string(done) + " of " + std::to_string(total);
}

// The last non-empty line of the newest worker log of run `index` (DIR/slurm/logs/*_I.out).
std::string last_log_line(const fs::path& dir, int64_t index) {
    const fs::path logs = dir / "slurm" / "logs";
    std::error_code error;
    if (!fs::is_directory(logs, error)) return "";
    const std::string suffix = "_" + std::to_string(index) + ".out";
    fs::path newest;
    fs::file_time_type newest_time{};
    for (const auto& entry : fs::directory_iterator(logs, error)) {
        const std::string name = entry.path().filename().string();
        if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        const auto time = fs::last_write_time(entry.path(), error);
        if (newest.empty() || time > newest_time) newest = entry.path(), newest_time = time;
    }
    if (newest.empty()) return "";
    std::ifstream in(newest);
    std::string line, last;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    return last.empty() ? "" : newest.filename().string() + ": " + last;
}

}  // namespace

bool print_sweep_status(const std::string& dir_text) {
    const fs::path dir(dir_text), record_path = dir / "sweep.json";
    KELVIN_CHECK(fs::exists(record_path), "sweep status: " + record_path.string() +
                                              " not found (expected the folder of kelvin sweep --out)");
    const json record = read_json(record_path, "sweep status");
    const SweepConfig config = sweep_config_from_record(record, record_path.string());
    const std::vector<std::string> names =
        run_names(record, expand_sweep(config), record_path.string());
    const std::map<int64_t, std::string> slurm = squeue_states(dir_text);

    int counts[6] = {};
    for (size_t i = 0; i < names.size(); ++i) {
        const std::string& name = names[i];
        const fs::path final_dir = dir / "runs" / name;
        const fs::path partial = dir / "runs" / (name + kPartialSuffix);
        const fs::path lock_path = dir / "locks" / (name + ".lock");
        State state = State::pending;
        std::string detail;
        if (fs::exists(final_dir)) {
            const std::optional<Metrics> m = metrics_of(final_dir);
            if (m && m->status == kStatusDiverged) {
                state = State::diverged;
                detail = "at step " + std::to_string(m->diverged_at_step.value_or(0));
            } else if (m && m->final) {
                char text[64];
                const double acc = m->final->test_acc;
                std::snprintf(text, sizeof text, "test_acc %.4f", std::isnan(acc) ? 0.0 : acc);
                detail = text;
            }
            if (state != State::diverged) state = State::finished;
        } else {
            const std::optional<Metrics> m = metrics_of(partial);
            const std::string status = m ? m->status : "";
            const std::optional<LockHolder> holder = read_lock_file(lock_path);
            const bool live = holder && !stale_reason(lock_path, *holder, std::chrono::seconds(600));
            if (live) {
                state = State::running;
                detail = "on " + holder->host + ", pid " + std::to_string(holder->pid) +
                         (holder->slurm_job_id.empty() ? "" : ", Slurm job " + holder->slurm_job_id) +
                         (m ? ", " + epochs_text(partial, *m, config.train.epochs) : "");
            } else if (status == kStatusFailed) {
                state = State::failed;
                detail = m->error.value_or("");
            } else if (m) {
                state = State::partial;
                detail = "at " + epochs_text(partial, *m, config.train.epochs);
                if (status == kStatusInterrupted && m->interrupted)
                    detail += " (interrupted at step " + std::to_string(m->interrupted->step) +
                              " by " +
                              (m->interrupted->signal.empty() ? "a signal" : m->interrupted->signal) +
                              ")";
                else if (status == kStatusComplete)
                    detail += " (trained; diagnostics not finished)";
            } else if (fs::exists(partial)) {
                state = State::partial;
                detail = "started, no metrics yet";
            }
        }
        ++counts[static_cast<int>(state)];
        std::string line = "[" + std::to_string(i) + "] " + name + ": " +
                           kStateNames[static_cast<int>(state)] + (detail.empty() ? "" : " " + detail);
        auto queued = slurm.find(static_cast<int64_t>(i));
        if (queued != slurm.end()) line += "  [" + queued->second + "]";
        if (state == State::failed || state == State::diverged) {
            const std::string log = last_log_line(dir, static_cast<int64_t>(i));
            if (!log.empty()) line += "\n      " + log;
        }
        std::printf("%s\n", line.c_str());
    }
    std::string summary = std::to_string(names.size()) + " runs:";
    for (int s = 0; s < 6; ++s)
        summary += std::string(s ? "," : "") + " " + std::to_string(counts[s]) + " " + kStateNames[s];
    std::printf("%s\n", summary.c_str());
    const bool all_finished =
        counts[static_cast<int>(State::finished)] + counts[static_cast<int>(State::diverged)] ==
        static_cast<int>(names.size());
    std::printf("%s\n", all_finished ? "all runs finished"
                                      : "not finished: exit status 1");
    return all_finished;
}

}  // namespace kelvin::experiments
