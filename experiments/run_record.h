// The records of one run directory, read once for every command that looks at finished runs
// (`kelvin report`, the summary a sweep writes): config.json through the settings tables,
// metrics.json and diagnostics.json. load_runs(dir) reads a sweep folder's runs/ the one way.
//
// Every file is typed: config.json through the settings tables (TrainConfig), metrics.json as
// Metrics (experiments/run_metrics.h), diagnostics.json as Diagnostics
// (experiments/run_diagnostics.h), each with one reader and one writer.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/run_diagnostics.h"
#include "experiments/run_metrics.h"
#include "experiments/train.h"

namespace kelvin::experiments {

struct RunRecord {
    std::string name;            // the folder's name, e.g. mlp_fashion-mnist_T10_init1_none_s1
    std::filesystem::path dir;
    // config.json: `config` when it reads through the settings tables; the raw JSON either way
    // (null when the file is missing), and config_error saying why it did not read.
    std::optional<TrainConfig> config;
    nlohmann::json config_json;
    std::string config_error;
    std::optional<Metrics> metrics;          // metrics.json; absent when missing
    std::optional<Diagnostics> diagnostics;  // diagnostics.json; absent when missing or stale
    // Why diagnostics.json is not of the run's current weights (experiments/run_checkpoint.h);
    // its content is then kept out of `diagnostics`, so no summary or report shows it.
    std::string stale_diagnostics;

    bool has_metrics() const { return metrics.has_value(); }
    bool has_diagnostics() const { return diagnostics.has_value(); }
    std::string status() const { return metrics ? metrics->status : ""; }
};

// runs/<name>/ of a sweep folder, sorted by name; runs/<name>.partial/ (unfinished) are counted
// in *partial and skipped. Throws kelvin::Error when DIR/runs is missing or a file present is
// not valid JSON (the message names it; `who` starts it, e.g. "report").
std::vector<RunRecord> load_runs(const std::filesystem::path& dir, const std::string& who,
                                 int* partial = nullptr);

// One run directory (no .partial test).
RunRecord load_run(const std::filesystem::path& run_dir, const std::string& who);

// RUN_DIR/diagnostics.json, absent when the file is missing; errors start with `who`.
std::optional<Diagnostics> read_diagnostics(const std::filesystem::path& run_dir,
                                            const std::string& who);

}  // namespace kelvin::experiments
