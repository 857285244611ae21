// metrics.json, typed: what `kelvin train` records of a run, epoch by epoch. train writes it
// (metrics_to_json) and reads it back on --resume; the summary, the report, the claims, sweep
// and sweep status read it (metrics_from_json, through experiments/run_record.h). No other code
// looks into its JSON.
//
// {"status": "running"|"complete"|"diverged"|"failed"|"interrupted",
//  "init": {...}, "epochs": [{...}], "track": [{...}], "checkpoint": {...}, "final": {...},
//  "diverged_at_step", "diverged_loss", "diverged_rank", "error", "interrupted": {...}}
// Every part but status and epochs is optional: a field the file lacks is absent here, and the
// writer leaves it out again. Runs written before a field existed (the fixture
// tests/fixtures/sweep-before-issue10) read with it absent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kelvin::experiments {

// A number the file may lack. Missing or not a number: NaN, written back as JSON null.
inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// The model on the whole test set (metrics.json "init", and the test half of an epoch record).
struct TestEvaluation {
    double test_loss = kNoValue;
    double test_acc = kNoValue;
    double logits_norm = kNoValue;            // mean over samples of ||z_n||_2
    double logits_norm_frobenius = kNoValue;
};

// One finished epoch: "epochs"[i].
struct EpochRecord {
    int64_t epoch = 0;  // 1-based
    int64_t steps = 0;
    TestEvaluation test;
    double train_loss = kNoValue, train_acc = kNoValue;
    double lr = kNoValue;  // the last step's
    double seconds = kNoValue, train_seconds = kNoValue, samples_per_second = kNoValue;
    // The weights the record measured (absent before digests were recorded).
    std::optional<int64_t> step;
    std::optional<std::string> weights_digest;
};

// The fixed monitoring batch every --track-every steps: "track"[i].
struct TrackRecord {
    int64_t step = 0;
    int64_t rank = 0;
    double logits_norm = kNoValue, sigma_1 = kNoValue, loss = kNoValue, accuracy = kNoValue;
};

// The weights model.safetensors holds (experiments/run_checkpoint.h): "checkpoint".
struct CheckpointRecord {
    int64_t epochs_done = 0;
    int64_t step = 0;
    std::string weights_digest;
};

// The run's result: the last epoch's numbers, "final".
struct FinalRecord {
    std::optional<int64_t> epochs_done, step;
    std::optional<std::string> weights_digest;
    double test_acc = kNoValue, test_loss = kNoValue, train_acc = kNoValue, train_loss = kNoValue;
    double logits_norm = kNoValue, logits_norm_init = kNoValue;
    int64_t steps = 0;
    double seconds = kNoValue;
    // Data-parallel runs: the all-reduce's time not hidden behind backward, its buckets, and
    // how many the last step started during backward (--overlap-allreduce).
    std::optional<double> allreduce_seconds;
    std::optional<int64_t> allreduce_buckets, allreduce_buckets_in_backward;
};

// Where a signal stopped the run and how to continue it: "interrupted".
struct InterruptionRecord {
    std::string signal;
    int64_t epoch = 0, batches_done = 0, step = 0;
    std::string resume;  // the command
};

struct Metrics {
    std::string status;  // kStatus* (experiments/run_files.h)
    std::optional<TestEvaluation> init;
    std::vector<EpochRecord> epochs;
    std::optional<std::vector<TrackRecord>> track;  // with --track-every only
    std::optional<CheckpointRecord> checkpoint;
    std::optional<FinalRecord> final;
    std::optional<int64_t> diverged_at_step;
    std::optional<std::string> diverged_loss;  // "nan", "inf" or "not finite"
    std::optional<int64_t> diverged_rank;
    std::optional<std::string> error;  // status failed
    std::optional<InterruptionRecord> interrupted;
};

// The one reader. Lenient, as every reader of finished runs was: a number of another type (or
// a file that is not an object) reads as NaN, an optional part as absent. The shape a resumed
// run needs is checked strictly before, by check_metrics_shape (experiments/run_checkpoint.h).
Metrics metrics_from_json(const nlohmann::json& j);
// The one writer: the JSON metrics.json holds (dump(2) and a newline: metrics_file_text).
nlohmann::json metrics_to_json(const Metrics& m);
std::string metrics_file_text(const Metrics& m);

// RUN_DIR/metrics.json; errors start with `who`.
Metrics read_metrics(const std::filesystem::path& run_dir, const std::string& who);

}  // namespace kelvin::experiments
