#include "experiments/run_metrics.h"

#include "engine/device.h"
#include "experiments/record_fields.h"
#include "experiments/run_files.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace record_fields;

namespace {

TestEvaluation evaluation_from(const json& j) {
    return {number(j, "test_loss"), number(j, "test_acc"), number(j, "logits_norm"),
            number(j, "logits_norm_frobenius")};
}

json evaluation_json(const TestEvaluation& e) {
    return {{"test_loss", e.test_loss},
            {"test_acc", e.test_acc},
            {"logits_norm", e.logits_norm},
            {"logits_norm_frobenius", e.logits_norm_frobenius}};
}

EpochRecord epoch_from(const json& j) {
    EpochRecord e;
    e.epoch = integer(j, "epoch");
    e.steps = integer(j, "steps");
    e.test = evaluation_from(j);
    e.train_loss = number(j, "train_loss");
    e.train_acc = number(j, "train_acc");
    e.lr = number(j, "lr");
    e.seconds = number(j, "seconds");
    e.train_seconds = number(j, "train_seconds");
    e.samples_per_second = number(j, "samples_per_second");
    e.step = optional_integer(j, "step");
    e.weights_digest = optional_text(j, "weights_digest");
    return e;
}

json epoch_json(const EpochRecord& e) {
    json j = evaluation_json(e.test);
    j["epoch"] = e.epoch;
    j["steps"] = e.steps;
    j["train_loss"] = e.train_loss;
    j["train_acc"] = e.train_acc;
    j["lr"] = e.lr;
    j["seconds"] = e.seconds;
    j["train_seconds"] = e.train_seconds;
    j["samples_per_second"] = e.samples_per_second;
    put_optional(j, "step", e.step);
    put_optional(j, "weights_digest", e.weights_digest);
    return j;
}

TrackRecord track_from(const json& j) {
    return {integer(j, "step"),          integer(j, "rank"), number(j, "logits_norm"),
            number(j, "sigma_1"),        number(j, "loss"),  number(j, "accuracy")};
}

json track_json(const TrackRecord& t) {
    return {{"step", t.step},       {"rank", t.rank}, {"logits_norm", t.logits_norm},
            {"sigma_1", t.sigma_1}, {"loss", t.loss}, {"accuracy", t.accuracy}};
}

FinalRecord final_from(const json& j) {
    FinalRecord f;
    f.epochs_done = optional_integer(j, "epochs_done");
    f.step = optional_integer(j, "step");
    f.weights_digest = optional_text(j, "weights_digest");
    f.test_acc = number(j, "test_acc");
    f.test_loss = number(j, "test_loss");
    f.train_acc = number(j, "train_acc");
    f.train_loss = number(j, "train_loss");
    f.logits_norm = number(j, "logits_norm");
    f.logits_norm_init = number(j, "logits_norm_init");
    f.steps = integer(j, "steps");
    f.seconds = number(j, "seconds");
    if (field(j, "allreduce_seconds").is_number()) f.allreduce_seconds = number(j, "allreduce_seconds");
    f.allreduce_buckets = optional_integer(j, "allreduce_buckets");
    f.allreduce_buckets_in_backward = optional_integer(j, "allreduce_buckets_in_backward");
    return f;
}

json final_json(const FinalRecord& f) {
    json j = {{"test_acc", f.test_acc},       {"test_loss", f.test_loss},
              {"train_acc", f.train_acc},     {"train_loss", f.train_loss},
              {"logits_norm", f.logits_norm}, {"logits_norm_init", f.logits_norm_init},
              {"steps", f.steps},             {"seconds", f.seconds}};
    put_optional(j, "epochs_done", f.epochs_done);
    put_optional(j, "step", f.step);
    put_optional(j, "weights_digest", f.weights_digest);
    put_optional(j, "allreduce_seconds", f.allreduce_seconds);
    put_optional(j, "allreduce_buckets", f.allreduce_buckets);
    put_optional(j, "allreduce_buckets_in_backward", f.allreduce_buckets_in_backward);
    return j;
}

std::optional<CheckpointRecord> checkpoint_from(const json& j) {
    if (!j.is_object()) return std::nullopt;
    return CheckpointRecord{integer(j, "epochs_done"), integer(j, "step"), text(j, "weights_digest")};
}

json checkpoint_json(const CheckpointRecord& c) {
    return {{"epochs_done", c.epochs_done}, {"step", c.step}, {"weights_digest", c.weights_digest}};
}

InterruptionRecord interruption_from(const json& j) {
    return {text(j, "signal"), integer(j, "epoch"), integer(j, "batches_done"), integer(j, "step"),
            text(j, "resume")};
}

json interruption_json(const InterruptionRecord& i) {
    return {{"signal", i.signal},   {"epoch", i.epoch},   {"batches_done", i.batches_done},
            {"step", i.step},       {"resume", i.resume}};
}

}  // namespace

Metrics metrics_from_json(const json& j) {
    Metrics m;
    m.status = text(j, "status");
    if (field(j, "init").is_object()) m.init = evaluation_from(j["init"]);
    if (field(j, "epochs").is_array())
        for (const json& e : j["epochs"]) m.epochs.push_back(epoch_from(e));
    if (field(j, "track").is_array()) {
        m.track.emplace();
        for (const json& t : j["track"]) m.track->push_back(track_from(t));
    }
    m.checkpoint = checkpoint_from(field(j, "checkpoint"));
    if (field(j, "final").is_object()) m.final = final_from(j["final"]);
    m.diverged_at_step = optional_integer(j, "diverged_at_step");
    m.diverged_loss = optional_text(j, "diverged_loss");
    m.diverged_rank = optional_integer(j, "diverged_rank");
    m.error = optional_text(j, "error");
    if (field(j, "interrupted").is_object()) m.interrupted = interruption_from(j["interrupted"]);
    return m;
}

json metrics_to_json(const Metrics& m) {
    json j = {{"status", m.status}, {"epochs", json::array()}};
    for (const EpochRecord& e : m.epochs) j["epochs"].push_back(epoch_json(e));
    if (m.init) j["init"] = evaluation_json(*m.init);
    if (m.track) {
        j["track"] = json::array();
        for (const TrackRecord& t : *m.track) j["track"].push_back(track_json(t));
    }
    if (m.checkpoint) j["checkpoint"] = checkpoint_json(*m.checkpoint);
    if (m.final) j["final"] = final_json(*m.final);
    put_optional(j, "diverged_at_step", m.diverged_at_step);
    put_optional(j, "diverged_loss", m.diverged_loss);
    put_optional(j, "diverged_rank", m.diverged_rank);
    put_optional(j, "error", m.error);
    if (m.interrupted) j["interrupted"] = interruption_json(*m.interrupted);
    return j;
}

std::string metrics_file_text(const Metrics& m) { return metrics_to_json(m).dump(2) + "\n"; }

Metrics read_metrics(const fs::path& run_dir, const std::string& who) {
    const fs::path path = run_dir / kMetricsFile;
    return metrics_from_json(read_json(path, who));
}

}  // namespace kelvin::experiments
