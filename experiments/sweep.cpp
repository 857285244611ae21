#include "experiments/sweep.h"

#include "engine/json_errors.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <type_traits>

#include "data/dataset_spec.h"
#include "engine/atomic_file.h"
#include "engine/paths.h"
#include "engine/phase_progress.h"
#include "engine/interruption.h"
#include "engine/run_lock.h"
#include "experiments/report.h"
#include "experiments/run_checkpoint.h"
#include "experiments/run_files.h"
#include "experiments/run_record.h"
#include "experiments/settings_tables.h"
#include "models/registry.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kHeadNorms = {"none", "layernorm", "normalized_logits"};

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string format_number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

std::string sanitize(const std::string& text) {
    std::string out;
    for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '-';
    return out;
}

// Equal, or the same float32 setting printed two ways: an older kelvin wrote a float's exact
// double expansion (0.05000000074505806), this one the shortest text that reads back (0.05).
bool same_setting(const json& a, const json& b) {
    if (a == b) return true;
    return a.is_number_float() && b.is_number() &&
           static_cast<float>(a.get<double>()) == static_cast<float>(b.get<double>());
}

// A rerun may grow the grid (more models, temperatures, seeds), but the runs it keeps were
// trained and diagnosed with the settings in `path`: other settings would put runs made two
// ways under one sweep.json and one summary. Where and device may change; keys `previous`
// lacks (written by an older kelvin) are not compared.
void check_same_settings(const json& previous, const json& now, const fs::path& path) {
    std::vector<std::string> changed;
    auto describe = [](const std::string& key, const json& a, const json& b) {
        return key + " " + (a.is_null() ? "(none)" : a.dump()) + " -> " +
               (b.is_null() ? "(none)" : b.dump());
    };
    if (previous.value("ood", json::array()) != now.value("ood", json::array()))
        changed.push_back(describe("ood", previous.value("ood", json()), now.value("ood", json())));
    json a = previous.flatten();
    const json b = now.flatten();
    if (a.contains("/training/horizontal_flip")) {  // its name before issue 10
        a["/training/flip"] = a["/training/horizontal_flip"];
        a.erase("/training/horizontal_flip");
    }
    for (auto& [pointer, value] : a.items()) {
        const bool shared = pointer.rfind("/training/", 0) == 0 ||
                            pointer.rfind("/diagnostics/", 0) == 0 || pointer == "/diagnose";
        if (!shared || pointer == "/training/device" || pointer == "/training/data_dir" ||
            pointer == "/diagnostics/ood_data_dir")
            continue;
        const json other = b.contains(pointer) ? b.at(pointer) : json();
        if (!same_setting(value, other))
            changed.push_back(describe(pointer.substr(1), value, other));
    }
    KELVIN_CHECK(changed.empty(), path.string() + ": this folder holds a sweep made with other " +
                                      "settings (" + join(changed) +
                                      "); use another --out, or the settings of that sweep");
}

}  // namespace

SweepConfig parse_sweep_config(const json& j, const std::string& source) {
    KELVIN_CHECK(j.is_object(), source + ": expected a JSON object at the top level");
    const std::vector<std::string> allowed = sweep_keys();
    for (auto& [key, value] : j.items())
        KELVIN_CHECK(std::find(allowed.begin(), allowed.end(), key) != allowed.end(),
                     source + ": unknown key '" + key + "'; allowed keys: " + join(allowed));
    SweepConfig c;
    TrainConfig& t = c.train;
    auto& d = c.diagnose_options;
    const std::string where = source + ": ";
    settings::read_object(c, sweep_settings(), j, settings::kSweep, where);
    settings::read_object(t, training_settings(), j, settings::kSweep, where);
    settings::read_object(t, data_settings(), j, settings::kSweep, where);
    settings::read_object(t.model_options, model_settings(), j, settings::kSweep, where);
    settings::read_object(d, diagnose_settings(), j, settings::kSweep, where);
    d.ood = c.ood;

    // Values: every error names the key and what is allowed.
    const std::vector<std::string> models = models::model_names();
    for (size_t i = 0; i < c.models.size(); ++i)
        KELVIN_CHECK(std::find(models.begin(), models.end(), c.models[i]) != models.end(),
                     source + ": models[" + std::to_string(i) + "] = '" + c.models[i] +
                         "': unknown model; allowed: " + join(models));
    for (size_t i = 0; i < c.temperatures.size(); ++i)
        KELVIN_CHECK(c.temperatures[i] > 0 && std::isfinite(c.temperatures[i]),
                     source + ": temperatures[" + std::to_string(i) + "] = " +
                         format_number(c.temperatures[i]) +
                         ": a temperature must be a positive number");
    for (size_t i = 0; i < c.init_scales.size(); ++i)
        KELVIN_CHECK(c.init_scales[i] > 0 && std::isfinite(c.init_scales[i]),
                     source + ": init_scales[" + std::to_string(i) + "] = " +
                         format_number(c.init_scales[i]) + ": must be a positive number");
    for (size_t i = 0; i < c.head_norms.size(); ++i)
        KELVIN_CHECK(std::find(kHeadNorms.begin(), kHeadNorms.end(), c.head_norms[i]) != kHeadNorms.end(),
                     source + ": head_norms[" + std::to_string(i) + "] = '" + c.head_norms[i] +
                         "': allowed: " + join(kHeadNorms));
    t.out = "(sweep)";
    try {
        validate_config(t);
        validate_diagnose_options(d);
    } catch (const Error& e) {
        throw Error(source + ": " + e.what());
    }
    // Data: every set must parse and be found now, not an hour into the sweep.
    auto check_data = [&](const std::string& key, size_t i, const std::string& spec_text,
                          const std::string& dir) {
        try {
            return data::load_dataset(data::parse_dataset_spec(spec_text), dir, false);
        } catch (const Error& e) {
            throw Error(source + ": " + key + "[" + std::to_string(i) + "] = '" + spec_text +
                        "': " + e.what());
        }
    };
    for (size_t i = 0; i < c.datasets.size(); ++i) {
        const data::HostDataset set = check_data("datasets", i, c.datasets[i], t.data_dir);
        // Model options that do not fit the data (a ViT patch, a ResNet width) fail here too.
        for (size_t m = 0; m < c.models.size(); ++m) {
            TrainConfig run = t;
            run.model = c.models[m];
            run.dataset = c.datasets[i];
            try {
                build_model_for(run, set);
            } catch (const Error& e) {
                throw Error(source + ": models[" + std::to_string(m) + "] = '" + c.models[m] +
                            "' on datasets[" + std::to_string(i) + "] = '" + c.datasets[i] +
                            "': " + e.what());
            }
        }
    }
    for (size_t i = 0; i < c.ood.size(); ++i) check_data("ood", i, c.ood[i], d.ood_data_dir);
    return c;
}

SweepConfig load_sweep_config(const std::string& path) {
    KELVIN_CHECK(fs::exists(path), "sweep config " + path + " does not exist");
    return parse_sweep_config(read_json(path), path);
}

json sweep_config_to_json(const SweepConfig& c) {
    json out = settings::write_object(c, sweep_settings(), settings::kSweepRecord);
    json& train = out["training"] =
        settings::write_object(c.train, training_settings(), settings::kSweepRecord);
    train.update(settings::write_object(c.train, data_settings(), settings::kSweepRecord));
    train["model_options"] =
        settings::write_object(c.train.model_options, model_settings(), settings::kSweepRecord);
    out["diagnostics"] =
        settings::write_object(c.diagnose_options, diagnose_settings(), settings::kSweepRecord);
    return out;
}

namespace {

// A class list as a name part, one text per list (order matters: class i of the run is the
// i-th listed): ascending consecutive classes as a range, the rest joined by '+' (0-2 for
// 0,1,2; 0+2 for 0,2; 2+0 for 2,0).
std::string classes_name(const std::vector<int>& classes) {
    std::string out;
    for (size_t i = 0; i < classes.size();) {
        size_t j = i;
        while (j + 1 < classes.size() && classes[j + 1] == classes[j] + 1) ++j;
        out += (out.empty() ? "" : "+") + std::to_string(classes[i]) +
               (j > i ? "-" + std::to_string(classes[j]) : "");
        i = j + 1;
    }
    return out;
}

// The data set as a name part: the same set of classes written two ways gets one name
// (classes=0-2 and classes=0,1,2), different sets different names (0-2 and 0,2 once both
// became "0-2").
std::string dataset_name(const std::string& text) {
    const data::DatasetSpec spec = data::parse_dataset_spec(text);
    std::string out = spec.kind == "folder" ? "folder-" + sanitize(spec.path) : spec.kind;
    if (!spec.classes.empty()) out += "-classes-" + classes_name(spec.classes);
    return out;
}

// What identifies a run's training: its config.json without where it is written.
json run_identity(const TrainConfig& t) {
    TrainConfig copy = t;
    copy.out.clear();
    json j = config_to_json(copy);
    // The same classes written two ways are the same data.
    const data::DatasetSpec spec = data::parse_dataset_spec(t.dataset);
    j["dataset"] = {spec.kind, spec.path, spec.classes};
    return j;
}

// A float in a run name: as %g wrote it (the names of existing sweeps: T10, init0.1), with more
// digits where %g's six would make two floats one name (1.0000001 and 1.0000002).
std::string name_number(float value) {
    char text[32];
    for (int digits = 6; digits <= 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(value));
        if (std::strtof(text, nullptr) == value) break;
    }
    return text;
}

uint64_t fnv1a(const std::string& text) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// A name too long for the file system (with ".partial") keeps its start and gets a hash of the
// whole: still one name per grid point.
std::string fit_name(const std::string& name, size_t name_max) {
    const size_t limit = name_max - std::string(kPartialSuffix).size();
    if (name.size() <= limit) return name;
    char hash[24];
    std::snprintf(hash, sizeof hash, "-h%016llx", static_cast<unsigned long long>(fnv1a(name)));
    return name.substr(0, limit - std::string(hash).size()) + hash;
}

}  // namespace

std::vector<SweepRun> expand_sweep(const SweepConfig& c, size_t name_max) {
    std::vector<SweepRun> runs;
    std::map<std::string, size_t> by_name;
    for (size_t m = 0; m < c.models.size(); ++m)
        for (size_t d = 0; d < c.datasets.size(); ++d)
            for (size_t i = 0; i < c.init_scales.size(); ++i)
                for (size_t h = 0; h < c.head_norms.size(); ++h)
                    for (size_t ti = 0; ti < c.temperatures.size(); ++ti)
                        for (size_t si = 0; si < c.seeds.size(); ++si) {
                            const float t = c.temperatures[ti], init = c.init_scales[i];
                            const uint64_t seed = c.seeds[si];
                            SweepRun run;
                            run.train = c.train;
                            run.train.model = c.models[m];
                            run.train.dataset = c.datasets[d];
                            run.train.temperature = t;
                            run.train.seed = seed;
                            run.train.model_options.init_scale = init;
                            run.train.model_options.head_norm = c.head_norms[h];
                            // Every float as the shortest text that reads back as it: two
                            // temperatures that differ past 6 digits get two names.
                            run.name = fit_name(c.models[m] + "_" + dataset_name(c.datasets[d]) +
                                                    "_T" + name_number(t) + "_init" +
                                                    name_number(init) + "_" +
                                                    c.head_norms[h] + "_s" + std::to_string(seed),
                                                name_max);
                            run.grid_point = "models[" + std::to_string(m) + "] = " + c.models[m] +
                                             ", datasets[" + std::to_string(d) + "] = " +
                                             c.datasets[d] + ", init_scales[" + std::to_string(i) +
                                             "] = " + name_number(init) +
                                             ", head_norms[" + std::to_string(h) + "] = " +
                                             c.head_norms[h] + ", temperatures[" +
                                             std::to_string(ti) + "] = " +
                                             name_number(t) + ", seeds[" +
                                             std::to_string(si) + "] = " + std::to_string(seed);
                            auto [it, fresh] = by_name.emplace(run.name, runs.size());
                            if (fresh) {
                                runs.push_back(std::move(run));
                                continue;
                            }
                            SweepRun& first = runs[it->second];
                            // The same training twice: one run, said. Different training
                            // under one name would merge two grid points: refused.
                            KELVIN_CHECK(run_identity(first.train) == run_identity(run.train),
                                         "sweep: two grid points would share the run name '" +
                                             run.name + "': (" + first.grid_point + ") and (" +
                                             run.grid_point +
                                             "); make them differ in a way a folder name shows, "
                                             "or drop one");
                            first.same_as.push_back(run.grid_point);
                        }
    return runs;
}

SweepConfig sweep_config_from_record(const json& record, const std::string& source) {
    const std::string where = source + ": ";
    KELVIN_CHECK(record.is_object(), where + "expected a JSON object at the top level");
    SweepConfig c;
    settings::read_object(c, sweep_settings(), record, settings::kSweepRecord, where);
    auto section = [&](const json& parent, const char* key, const std::string& at) -> json {
        if (!parent.contains(key)) return json::object();
        KELVIN_CHECK(parent.at(key).is_object(),
                     where + at + "'" + key + "' = " + parent.at(key).dump() + ": expected an object");
        return parent.at(key);
    };
    const json training = section(record, "training", "");
    settings::read_object(c.train, training_settings(), training, settings::kSweepRecord,
                          where + "training: ");
    settings::read_object(c.train, data_settings(), training, settings::kSweepRecord,
                          where + "training: ");
    settings::read_object(c.train.model_options, model_settings(),
                          section(training, "model_options", "training: "),
                          settings::kSweepRecord, where + "training: model_options: ");
    settings::read_object(c.diagnose_options, diagnose_settings(),
                          section(record, "diagnostics", ""), settings::kSweepRecord,
                          where + "diagnostics: ");
    c.diagnose_options.ood = c.ood;
    try {
        validate_diagnose_options(c.diagnose_options);
    } catch (const Error& e) {
        throw Error(where + e.what());
    }
    return c;
}

std::vector<std::string> run_names(const json& record, const std::vector<SweepRun>& runs,
                                   const std::string& source) {
    std::vector<std::string> names;
    if (record.contains("runs")) {
        const json& listed = record.at("runs");
        KELVIN_CHECK(listed.is_array(), source + ": 'runs' = " + listed.dump().substr(0, 80) +
                                            ": expected a list of run names");
        for (size_t i = 0; i < listed.size(); ++i) {
            KELVIN_CHECK(listed[i].is_string(), source + ": runs[" + std::to_string(i) + "] = " +
                                                    listed[i].dump() + ": expected a run name");
            names.push_back(listed[i].get<std::string>());
        }
    }
    for (const SweepRun& run : runs)
        if (std::find(names.begin(), names.end(), run.name) == names.end()) names.push_back(run.name);
    return names;
}

namespace {

// Whoever trains or diagnoses a run holds DIR/locks/<name>.lock: outside the run's folder, which
// is renamed when the run finishes, and outside runs/, which holds only run folders.
fs::path run_lock_path(const fs::path& dir, const std::string& name) {
    fs::create_directories(dir / "locks");
    return dir / "locks" / (name + ".lock");
}

// Whether the run's diagnostics.json exists and was computed from its current weights; a stale
// one (a run diagnosed in its .partial state, then resumed) is said and then recomputed.
bool diagnostics_current(const fs::path& run) {
    const std::optional<Diagnostics> diagnostics = read_diagnostics(run, "");
    if (!diagnostics) return false;
    const std::string stale = stale_diagnostics_reason(read_metrics(run, ""), *diagnostics);
    if (!stale.empty())
        std::fprintf(stderr, "%s: %s; recomputing them\n", run.string().c_str(), stale.c_str());
    return stale.empty();
}

}  // namespace

std::vector<SweepRun> prepare_sweep_dir(const SweepConfig& config, const std::string& out_dir) {
    require_utf8(out_dir, "sweep --out");
    require_name_lengths(out_dir, "sweep --out");
    const fs::path dir(out_dir), path = fs::path(out_dir) / "sweep.json";
    // Run names are checked before anything is written (two grid points, one name: refused).
    std::vector<SweepRun> runs = expand_sweep(config);
    json settings = sweep_config_to_json(config);
    json previous = json::object();
    if (fs::exists(path)) {
        previous = read_json(path);
        check_same_settings(previous, settings, path);
    }
    const std::vector<std::string> names = run_names(previous, runs, path.string());
    settings["runs"] = names;
    fs::create_directories(dir / "runs");
    write_file_atomically(path.string(), settings.dump(2) + "\n");
    for (const SweepRun& run : runs)
        for (const std::string& other : run.same_as)
            std::fprintf(stderr,
                         "note: (%s) and (%s) are the same training run (%s); it runs once\n",
                         run.grid_point.c_str(), other.c_str(), run.name.c_str());
    std::vector<SweepRun> ordered;
    for (const std::string& name : names)
        for (const SweepRun& run : runs)
            if (run.name == name) ordered.push_back(run);
    return ordered;
}

json publish_summary(const std::string& out_dir, bool with_report) {
    // Not a sweep's folder: write_summary's own error says so, before any lock file is made.
    if (!fs::is_directory(fs::path(out_dir) / "runs")) return write_summary(out_dir);
    fs::create_directories(fs::path(out_dir) / "locks");
    const fs::path path = fs::path(out_dir) / "locks" / "summary.lock";
    RunLockOptions options;
    options.command = "kelvin: writing the summary of " + out_dir;
    options.heartbeat_interval = std::chrono::seconds(0);
    std::string holder;
    // Writers of a summary hold it for a second or two: wait for them (2 minutes at most).
    for (int attempt = 0;; ++attempt) {
        std::optional<RunLock> lock = RunLock::try_acquire(path, options, &holder);
        if (lock) {
            if (!lock->takeover_note().empty())
                std::fprintf(stderr, "%s\n", lock->takeover_note().c_str());
            json rows = write_summary(out_dir);
            if (with_report) write_report(out_dir);
            return rows;
        }
        KELVIN_CHECK(attempt < 600, path.string() + " has been held for 2 minutes by " + holder +
                                        "; the summary was not rewritten (run `kelvin report " +
                                        out_dir + "` when that process is done)");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

namespace {

// The run's lock for this process, or nothing (*refused says why: held by another process, or
// the lock could not be taken).
std::optional<RunLock> take_run_lock(const std::string& out_dir, const std::string& name,
                                     const std::string& tag, const SweepOptions& options,
                                     RunOutcome* refused) {
    RunLockOptions lock_options;
    lock_options.command = options.command.empty() ? "kelvin sweep --out " + out_dir : options.command;
    std::string holder;
    std::optional<RunLock> lock;
    try {
        lock = RunLock::try_acquire(run_lock_path(out_dir, name), lock_options, &holder);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: failed: %s\n", tag.c_str(), e.what());
        *refused = RunOutcome::failed;
        return std::nullopt;
    }
    if (!lock) {
        std::fprintf(stderr, "%s: held by %s; left to that process\n", tag.c_str(), holder.c_str());
        *refused = RunOutcome::held;
        return std::nullopt;
    }
    if (!lock->takeover_note().empty())
        std::fprintf(stderr, "%s: %s\n", tag.c_str(), lock->takeover_note().c_str());
    return lock;
}

void diagnose_run(const SweepConfig& config, const fs::path& run_dir) {
    DiagnoseOptions d = config.diagnose_options;
    d.show_progress = true;  // phase lines (engine/phase_progress.h) on any stderr
    diagnose(run_dir.string(), d);
}

// Trains (or resumes) the run in its .partial folder, diagnoses it and makes it finished by one
// rename; the lock is released before the summary is rewritten.
RunOutcome train_to_final(const SweepConfig& config, const std::string& out_dir,
                          const SweepRun& run, const std::string& tag,
                          const SweepOptions& options, RunLock& lock) {
    const fs::path final_dir = fs::path(out_dir) / "runs" / run.name;
    const fs::path partial = fs::path(out_dir) / "runs" / (run.name + kPartialSuffix);
    TrainConfig train_config = run.train;
    train_config.out = partial.string();
    TrainOptions train_options;
    train_options.show_progress = options.show_progress;
    train_options.resume_command = options.resume_command.empty()
                                       ? "rerun the same kelvin sweep command"
                                       : options.resume_command;
    std::string status;
    if (fs::exists(partial / kMetricsFile) && fs::exists(partial / kConfigFile)) {
        status = read_metrics(partial, "").status;
        train_options.resume = true;
        std::fprintf(stderr, "%s: resuming (%s)\n", tag.c_str(), status.c_str());
    } else {
        fs::remove_all(partial);
        std::fprintf(stderr, "%s: starting\n", tag.c_str());
    }
    try {
        status = train(train_config, train_options).status;
        if (status == kStatusInterrupted) return RunOutcome::interrupted;
        if (status == kStatusComplete && config.diagnose && !diagnostics_current(partial))
            diagnose_run(config, partial);
        if (status != kStatusComplete && status != kStatusDiverged)
            throw Error("training ended with status '" + status + "'");
        // The run directory names its final place, then becomes finished in one rename.
        json cfg = read_json(partial / kConfigFile);
        cfg["out"] = final_dir.string();
        write_file_atomically((partial / kConfigFile).string(), cfg.dump(2) + "\n");
        fs::rename(partial, final_dir);
        lock.release();
        publish_summary(out_dir, false);
        return RunOutcome::finished;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: failed: %s (left in %s; rerun the sweep to retry)\n",
                     tag.c_str(), e.what(), partial.c_str());
        return RunOutcome::failed;
    }
}

}  // namespace

RunOutcome train_sweep_run(const SweepConfig& config, const std::string& out_dir,
                           const SweepRun& run, const std::string& tag,
                           const SweepOptions& options) {
    const fs::path final_dir = fs::path(out_dir) / "runs" / run.name;
    // A finished run is kept; one whose diagnostics are missing or stale (a run diagnosed in
    // its .partial state, then resumed) is diagnosed again, under its lock.
    auto needs_diagnostics = [&] {
        try {
            return config.diagnose && load_run(final_dir, "sweep").status() == kStatusComplete &&
                   !diagnostics_current(final_dir);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", tag.c_str(), e.what());
            return false;
        }
    };
    if (fs::exists(final_dir) && !needs_diagnostics()) {
        std::fprintf(stderr, "%s: finished earlier, kept\n", tag.c_str());
        return RunOutcome::kept;
    }
    RunOutcome refused = RunOutcome::failed;
    std::optional<RunLock> lock = take_run_lock(out_dir, run.name, tag, options, &refused);
    if (!lock) return refused;
    if (!fs::exists(final_dir)) return train_to_final(config, out_dir, run, tag, options, *lock);
    // Finished earlier, or by another process while this one looked.
    std::fprintf(stderr, "%s: finished earlier, kept\n", tag.c_str());
    if (!needs_diagnostics()) return RunOutcome::kept;
    try {
        diagnose_run(config, final_dir);
        return RunOutcome::kept;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: diagnose failed: %s\n", tag.c_str(), e.what());
        return RunOutcome::failed;
    }
}

SweepResult run_sweep(const SweepConfig& config, const std::string& out_dir,
                      const SweepOptions& options) {
    prepare_sweep_dir(config, out_dir);
    const std::vector<SweepRun> runs = expand_sweep(config);
    SweepResult result;
    const fs::path runs_dir = fs::path(out_dir) / "runs";
    int failed = 0, index = 0;
    const auto sweep_start = std::chrono::steady_clock::now();
    int64_t trained = 0;  // runs this invocation trained: the pace of the estimate
    for (const SweepRun& run : runs) {
        ++index;
        if (stop_requested()) break;  // a signal came between runs
        const std::string tag = "[" + std::to_string(index) + "/" + std::to_string(runs.size()) + "] " + run.name;
        if (!fs::exists(runs_dir / run.name)) {
            // The sweep's progress, one plain line per run: elapsed, and what the runs left
            // would take at the pace of those trained so far.
            const double elapsed = std::chrono::duration<double>(
                                       std::chrono::steady_clock::now() - sweep_start).count();
            int64_t left = 0;
            for (size_t j = index - 1; j < runs.size(); ++j)
                left += !fs::exists(runs_dir / runs[j].name);
            const double remaining = estimate_remaining(elapsed, trained, trained + left);
            std::fprintf(stderr, "sweep: %s elapsed%s\n", format_duration(elapsed).c_str(),
                         remaining >= 0 ? (", ~" + format_duration(remaining) + " left for " +
                                           std::to_string(left) + " runs").c_str()
                                        : "");
            ++trained;
        }
        const RunOutcome outcome = train_sweep_run(config, out_dir, run, tag, options);
        if (outcome == RunOutcome::failed) ++failed;
        if (outcome == RunOutcome::held) result.held_elsewhere.push_back(run.name);
        if (outcome == RunOutcome::interrupted) break;
    }
    {
        PhaseProgress shown("sweep: summary and report", 2, "files");
        result.rows = publish_summary(out_dir, true);
        shown.advance(2);
    }
    result.stopped_by = stop_signal();
    if (result.stopped_by != 0) {
        std::fprintf(stderr, "sweep stopped by %s; rerun the same command to continue it\n",
                     signal_name(result.stopped_by));
        return result;
    }
    KELVIN_CHECK(failed == 0, std::to_string(failed) + " of " + std::to_string(runs.size()) +
                                  " runs failed; rerun the same command to retry them");
    return result;
}

}  // namespace kelvin::experiments
