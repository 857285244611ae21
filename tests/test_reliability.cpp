// Issue 11, the application's part: results tied to the weights they were computed from,
// resumes that never lose or invent epochs, range checks from every source, run names that
// never merge two grid points, checks before training, messages a user can act on, progress.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/cli_runner.h"

using kelvin::testing::run_kelvin;
using kelvin::testing::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const bool kHaveFashionMnist = fs::exists("/usr/share/datasets/fashion-mnist");

json read_json(const fs::path& p) {
    std::ifstream in(p);
    return json::parse(in);
}

void write_json(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(2); }

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// summary.csv as rows of fields (quoted fields may hold commas).
std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
    std::vector<std::vector<std::string>> rows(1);
    std::string field;
    bool quoted = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted && c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
        else if (c == '"') quoted = !quoted;
        else if (c == ',' && !quoted) rows.back().push_back(std::move(field)), field.clear();
        else if (c == '\n' && !quoted) {
            rows.back().push_back(std::move(field));
            field.clear();
            rows.emplace_back();
        } else field += c;
    }
    if (rows.back().empty()) rows.pop_back();
    return rows;
}

// A tiny run: 2-layer MLP on 200 samples of two classes, a few steps per epoch.
const std::string kTiny = "--dataset fashion-mnist:classes=0-1 --depth 2 --width 16 "
                          "--train-subset 200 --batch-size 50 --eval-batch-size 1000 ";

}  // namespace

TEST_CASE("results: a sweep run diagnosed in its .partial state, then resumed, gets fresh "
          "diagnostics tied to its final weights; stale ones are never shown as final" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("stale-diagnostics");
    const fs::path out = tmp.path / "sweep";
    std::ofstream(tmp.str("sweep.json")) << R"({"models": ["mlp"],
        "datasets": ["fashion-mnist:classes=0-1"], "temperatures": [1], "seeds": [1],
        "epochs": 2, "depth": 2, "width": 16, "train_subset": 200, "batch_size": 50,
        "samples": 200, "probe_train_samples": 100, "probe_epochs": 1})";
    const fs::path partial = out / "runs" / "mlp_fashion-mnist-classes-0-1_T1_init1_none_s1.partial";
    // The state of a sweep run killed after its first epoch and diagnosed there: the same
    // settings, trained for one epoch, then marked running with two epochs to do.
    auto r = run_kelvin("train " + kTiny + "--epochs 1 --out " + partial.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    REQUIRE(run_kelvin("diagnose " + partial.string() +
                       " --samples 200 --probe-train-samples 100 --probe-epochs 1")
                .exit_code == 0);
    json config = read_json(partial / "config.json");
    config["epochs"] = 2;
    write_json(partial / "config.json", config);
    json metrics = read_json(partial / "metrics.json");
    metrics["status"] = "running";
    metrics.erase("final");
    write_json(partial / "metrics.json", metrics);
    const json early = read_json(partial / "diagnostics.json");
    REQUIRE(early.contains("weights"));
    CHECK(early["weights"]["weights_digest"] == metrics["checkpoint"]["weights_digest"]);

    r = run_kelvin("sweep --config " + tmp.str("sweep.json") + " --out " + out.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const fs::path run = out / "runs" / "mlp_fashion-mnist-classes-0-1_T1_init1_none_s1";
    const json final_metrics = read_json(run / "metrics.json");
    const json diagnostics = read_json(run / "diagnostics.json");
    REQUIRE(final_metrics["epochs"].size() == 2);
    CHECK(diagnostics["settings"]["run_status"] == "complete");
    CHECK(diagnostics["weights"]["weights_digest"] == final_metrics["final"]["weights_digest"]);
    CHECK(diagnostics["weights"]["step"] == final_metrics["final"]["step"]);
    CHECK(diagnostics["weights"]["weights_digest"] != early["weights"]["weights_digest"]);
    CHECK(final_metrics["checkpoint"]["weights_digest"] == final_metrics["final"]["weights_digest"]);
    CHECK(final_metrics["epochs"][1]["weights_digest"] == final_metrics["final"]["weights_digest"]);
    CHECK(r.output.find("recomputing") != std::string::npos);
    std::string csv = read_text(out / "summary.csv");
    CHECK(csv.find("weights_digest") != std::string::npos);
    CHECK(csv.find(final_metrics["final"]["weights_digest"].get<std::string>()) != std::string::npos);

    // Diagnostics of other weights put back by hand: the summary and the report refuse them.
    write_json(run / "diagnostics.json", early);
    r = run_kelvin("report " + out.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    csv = read_text(out / "summary.csv");
    CHECK(csv.find("stale: diagnostics.json was computed from the weights of step") !=
          std::string::npos);
    const auto table = csv_rows(csv);
    REQUIRE(table.size() == 2);
    for (const char* column : {"rank_logits", "kappa"}) {
        const auto at = std::find(table[0].begin(), table[0].end(), column) - table[0].begin();
        REQUIRE(at < static_cast<long>(table[0].size()));
        CHECK_MESSAGE(table[1][at].empty(), column);
    }
    CHECK(read_text(out / "report.html").find("diagnostics not shown") != std::string::npos);
}

namespace {

// A run of one finished epoch made to look killed before its second: config asks for
// `epochs`, metrics.json says running.
fs::path interrupted_run(const TempDir& tmp, int epochs) {
    const fs::path run = tmp.path / "run";
    auto r = run_kelvin("train " + kTiny + "--epochs 1 --out " + run.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    json config = read_json(run / "config.json");
    config["epochs"] = epochs;
    write_json(run / "config.json", config);
    json metrics = read_json(run / "metrics.json");
    metrics["status"] = "running";
    metrics.erase("final");
    write_json(run / "metrics.json", metrics);
    return run;
}

void expect_refused_unchanged(const fs::path& run, const std::string& message) {
    const std::string before = read_text(run / "metrics.json");
    auto r = run_kelvin("train --resume " + run.string());
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find(message) != std::string::npos);
    for (const char* raw : {"stoll", "map::at", "json.exception", "Segmentation", "terminate"})
        CHECK_MESSAGE(r.output.find(raw) == std::string::npos, raw);
    CHECK(read_text(run / "metrics.json") == before);
}

}  // namespace

TEST_CASE("resume: a missing checkpoint, records that disagree with it and bad metadata are "
          "refused by name, and nothing is overwritten" * doctest::skip(!kHaveFashionMnist)) {
    SUBCASE("model.safetensors missing: no silent restart from epoch 0") {
        TempDir tmp("resume-no-weights");
        const fs::path run = interrupted_run(tmp, 2);
        fs::remove(run / "model.safetensors");
        expect_refused_unchanged(run, "records 1 finished epoch but " +
                                          (run / "model.safetensors").string() + " is missing");
    }
    SUBCASE("metrics.json has no epochs, the checkpoint says one is done (was a segfault)") {
        TempDir tmp("resume-no-epochs");
        const fs::path run = interrupted_run(tmp, 1);
        json metrics = read_json(run / "metrics.json");
        metrics["epochs"] = json::array();
        write_json(run / "metrics.json", metrics);
        expect_refused_unchanged(run, "holds epoch 1 but " + (run / "metrics.json").string() +
                                          " records 0 of its epochs");
    }
    SUBCASE("checkpoint metadata that is not a number (was std::stoll's text)") {
        TempDir tmp("resume-bad-metadata");
        const fs::path run = interrupted_run(tmp, 2);
        std::string bytes = read_text(run / "optimizer.safetensors");
        const size_t at = bytes.find("\"epochs_done\":\"1\"");
        REQUIRE(at != std::string::npos);
        bytes[at + 15] = 'x';
        std::ofstream(run / "optimizer.safetensors", std::ios::binary) << bytes;
        expect_refused_unchanged(run, "metadata 'epochs_done' = \"x\": expected a non-negative integer");
    }
    SUBCASE("metrics.json with a wrong type names the key") {
        TempDir tmp("resume-bad-metrics");
        const fs::path run = interrupted_run(tmp, 2);
        json metrics = read_json(run / "metrics.json");
        metrics["epochs"][0]["epoch"] = "one";
        write_json(run / "metrics.json", metrics);
        expect_refused_unchanged(run, "epochs[0] = ");
    }
}

TEST_CASE("resume: a checkpoint write that fails (file size limit) leaves metrics.json without "
          "the unsaved epoch; a later resume completes and clears the error" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("failed-save");
    const fs::path run = tmp.path / "run";
    // RLIMIT_FSIZE makes the write of the 50 kB weights fail with EFBIG (SIGXFSZ ignored) while
    // config.json and metrics.json, a few kB, still fit: a full disk, for one process.
    const std::string limited = "sh -c 'trap \"\" XFSZ; ulimit -f 24; exec " +
                                std::string(KELVIN_BINARY) + " \"$@\"' kelvin ";
    const std::string command = limited + "train " + kTiny + "--epochs 2 --out " + run.string() + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe);
    std::string output;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    const int status = pclose(pipe);
    INFO(output);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    json metrics = read_json(run / "metrics.json");
    CHECK(metrics["status"] == "failed");
    CHECK(metrics["epochs"].empty());  // epoch 1's weights were never saved
    CHECK(!metrics.contains("checkpoint"));
    CHECK(metrics["error"].get<std::string>().find("safetensors") != std::string::npos);
    CHECK(!fs::exists(run / "model.safetensors"));

    auto r = run_kelvin("train --resume " + run.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    metrics = read_json(run / "metrics.json");
    CHECK(metrics["status"] == "complete");
    CHECK(!metrics.contains("error"));
    CHECK(metrics["epochs"].size() == 2);
}
