// What the application's commands agree on about the files of runs and sweeps: their names, the
// statuses metrics.json records, how a JSON file is read (errors name the file), which run
// folders are unfinished, and the OOD detectors that diagnostics.json scores and the summary and
// report show, in one order.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace kelvin::experiments {

// A run folder's records (experiments/run_record.h).
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kMetricsFile = "metrics.json";
inline constexpr const char* kDiagnosticsFile = "diagnostics.json";

// metrics.json's "status" (experiments/run_metrics.h).
inline constexpr const char* kStatusRunning = "running";
inline constexpr const char* kStatusComplete = "complete";
inline constexpr const char* kStatusDiverged = "diverged";
inline constexpr const char* kStatusFailed = "failed";
inline constexpr const char* kStatusInterrupted = "interrupted";

// A sweep's run lives in runs/<name>.partial/ until it is trained and diagnosed, then becomes
// runs/<name>/ by one rename (docs/DESIGN.md, "Diagnostics and sweeps").
inline constexpr const char* kPartialSuffix = ".partial";
bool is_partial_run(const std::filesystem::path& folder);

// The file's JSON. Errors read "<who>: cannot read PATH" or "<who>: PATH is not valid JSON
// (...)", without the "<who>: " when who is empty.
nlohmann::json read_json(const std::filesystem::path& path, const std::string& who = "");

// The detectors of diagnostics.json's "ood_detection", NECO (the paper's) first.
struct OodDetector {
    const char* key;    // diagnostics.json and summary.csv: neco, msp, max_logit, energy
    const char* label;  // the report's: NECO, MSP, MaxLogit, Energy
};
inline constexpr OodDetector kOodDetectors[] = {
    {"neco", "NECO"}, {"msp", "MSP"}, {"max_logit", "MaxLogit"}, {"energy", "Energy"}};

}  // namespace kelvin::experiments
