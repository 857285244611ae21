// Issue 11, the application's part: results tied to the weights they were computed from,
// resumes that never lose or invent epochs, range checks from every source, run names that
// never merge two grid points, checks before training, messages a user can act on, progress.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "experiments/sweep.h"
#include "tests/cli_runner.h"
#include "tests/file_contents.h"

using kelvin::testing::kHaveFashionMnist;
using kelvin::testing::run_kelvin;
using kelvin::testing::read_json;
using kelvin::testing::read_text;
using kelvin::testing::write_json;
using kelvin::testing::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

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

namespace {

void expect_refused(const std::string& args, const std::string& message,
                    const fs::path& must_not_exist = {}) {
    auto r = run_kelvin(args);
    INFO("kelvin " << args << "\n" << r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find(message) != std::string::npos);
    for (const char* raw : {"stoll", "map::at", "json.exception", "filesystem error",
                            "terminate", "A subcommand is required"})
        CHECK_MESSAGE(r.output.find(raw) == std::string::npos, raw);
    if (!must_not_exist.empty()) CHECK(!fs::exists(must_not_exist));
}

}  // namespace

TEST_CASE("ranges: every numeric option is checked by the same rule from the command line, "
          "config.json and sweep.json, naming the option, the value and the range") {
    TempDir tmp("ranges");
    const fs::path out = tmp.path / "run";
    // The command line: no wrap, no clamp, no crash (a batch size of 2^63-1 was a segfault).
    expect_refused("train --batch-size 9223372036854775807 --out " + out.string(),
                   "--batch-size must be in [1, 2147483647], got 9223372036854775807", out);
    expect_refused("train --seed -5 --out " + out.string(),
                   "--seed -5: expected a non-negative integer", out);
    expect_refused("train --epochs 2.5 --out " + out.string(), "--epochs 2.5: expected an integer",
                   out);
    expect_refused("train --epochs 99999999999 --out " + out.string(),
                   "--epochs 99999999999: expected an integer in [1, 2147483647]", out);
    expect_refused("train --width 0 --out " + out.string(),
                   "--width must be in [1, 2147483647], got 0", out);
    expect_refused("train --vit-heads -1 --out " + out.string(),
                   "--vit-heads must be in [1, 2147483647], got -1", out);
    expect_refused("train -T nan --out " + out.string(), "--temperature nan: expected a number",
                   out);
    expect_refused("diagnose " + out.string() + " --samples 0",
                   "--samples must be in [1, 2147483647], got 0");
    // sweep.json: the same rules.
    auto sweep = [&](const std::string& body) {
        std::ofstream(tmp.str("sweep.json")) << body;
        return "sweep --config " + tmp.str("sweep.json") + " --out " + tmp.str("sweep");
    };
    expect_refused(sweep(R"({"batch_size": 9223372036854775807})"),
                   "--batch-size must be in [1, 2147483647], got 9223372036854775807",
                   tmp.path / "sweep");
    expect_refused(sweep(R"({"seeds": [1, -5]})"),
                   "seeds[1] = -5: expected a non-negative integer", tmp.path / "sweep");
    expect_refused(sweep(R"({"width": 0})"), "--width must be in [1, 2147483647], got 0",
                   tmp.path / "sweep");
    expect_refused(sweep(R"({"probe_train_samples": 1})"),
                   "--probe-train-samples must be in [2, 2147483647], got 1", tmp.path / "sweep");
    // A run's config.json (read by --resume and diagnose).
    fs::create_directories(out);
    std::ofstream(out / "config.json") << R"({"batch_size": 9223372036854775807})";
    expect_refused("train --resume " + out.string(),
                   (out / "config.json").string() +
                       ": --batch-size must be in [1, 2147483647], got 9223372036854775807");
    std::ofstream(out / "config.json") << R"({"seed": -5})";
    expect_refused("train --resume " + out.string(), "'seed' = -5: expected a non-negative integer");
    std::ofstream(out / "config.json") << R"({"model_options": {"width": "wide"}})";
    expect_refused("diagnose " + out.string(),
                   "model_options: 'width' = \"wide\": expected an integer in [1, 2147483647]");
}

namespace {

kelvin::experiments::SweepConfig grid(std::vector<std::string> datasets, std::vector<float> ts) {
    kelvin::experiments::SweepConfig c;
    c.datasets = std::move(datasets);
    c.temperatures = std::move(ts);
    return c;
}

std::set<std::string> names_of(const std::vector<kelvin::experiments::SweepRun>& runs) {
    std::set<std::string> names;
    for (const auto& r : runs) names.insert(r.name);
    return names;
}

}  // namespace

TEST_CASE("run names: every grid point gets its own run; one training written two ways runs "
          "once and is said; a name two different points would share is refused") {
    using kelvin::experiments::expand_sweep;
    // Different class sets (0-2 and 0,2 were both "classes-0-2"), and the order of the list,
    // which numbers the classes, give different names.
    auto runs = expand_sweep(grid({"fashion-mnist:classes=0-2", "fashion-mnist:classes=0,2",
                                   "fashion-mnist:classes=2,0"}, {1.0f}));
    CHECK(runs.size() == 3);
    CHECK(names_of(runs).size() == 3);
    // Temperatures that differ past 6 significant digits were both "T1".
    runs = expand_sweep(grid({"fashion-mnist"}, {1.0000001f, 1.0000002f, 10.0f}));
    CHECK(names_of(runs).size() == 3);
    CHECK(names_of(runs).count("mlp_fashion-mnist_T10_init1_none_s1") == 1);  // names kept
    // The same classes written two ways: one run, the other point recorded.
    runs = expand_sweep(grid({"fashion-mnist:classes=0-2", "fashion-mnist:classes=0,1,2"}, {1.0f}));
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].name == "mlp_fashion-mnist-classes-0-2_T1_init1_none_s1");
    REQUIRE(runs[0].same_as.size() == 1);
    CHECK(runs[0].same_as[0].find("datasets[1] = fashion-mnist:classes=0,1,2") != std::string::npos);
    // Two folders whose paths sanitise alike: refused, naming both grid points.
    try {
        expand_sweep(grid({"folder:/data/a-b", "folder:/data/a/b"}, {1.0f}));
        FAIL("expected a refusal");
    } catch (const kelvin::Error& e) {
        const std::string m = e.what();
        CHECK(m.find("datasets[0] = folder:/data/a-b") != std::string::npos);
        CHECK(m.find("datasets[1] = folder:/data/a/b") != std::string::npos);
    }
    // A name longer than the file system allows is cut and made unique by a hash.
    const std::string deep = "folder:/" + std::string(200, 'x') + "/";
    runs = expand_sweep(grid({deep + "one", deep + "two"}, {1.0f}), 255);
    REQUIRE(runs.size() == 2);
    CHECK(names_of(runs).size() == 2);
    for (const auto& r : runs) CHECK(r.name.size() + std::string(".partial").size() <= 255);
}

TEST_CASE("before training: diagnose inputs of train --diagnose and of a sweep are checked "
          "before anything trains" * doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("before-training");
    const fs::path out = tmp.path / "run";
    expect_refused("train " + kTiny + "--epochs 1 --diagnose --probe-train-samples 1 --out " +
                       out.string(),
                   "--probe-train-samples must be in [2, 2147483647], got 1", out);
    expect_refused("train " + kTiny + "--epochs 1 --diagnose --ood fashion-mnist:classes=10-12 "
                   "--out " + out.string(),
                   "--ood fashion-mnist:classes=10-12: dataset spec 'fashion-mnist:classes=10-12': "
                   "class 10 out of range", out);
    std::ofstream(tmp.str("sweep.json")) << R"({"datasets": ["fashion-mnist:classes=0-1"],
        "ood": ["fashion-mnist:classes=10-12"], "epochs": 1, "depth": 2, "width": 16})";
    expect_refused("sweep --config " + tmp.str("sweep.json") + " --out " + tmp.str("sweep"),
                   "ood[0] = 'fashion-mnist:classes=10-12'", tmp.path / "sweep");
    std::ofstream(tmp.str("sweep.json")) << R"({"datasets": ["fashion-mnist:classes=0-1"],
        "probe_train_samples": 1, "epochs": 1})";
    expect_refused("sweep --config " + tmp.str("sweep.json") + " --out " + tmp.str("sweep"),
                   "--probe-train-samples must be in [2, 2147483647], got 1", tmp.path / "sweep");
}

TEST_CASE("messages: unknown commands, over-long and non-UTF-8 paths are named before any work") {
    TempDir tmp("messages");
    expect_refused("frobnicate", "unknown command 'frobnicate'; the commands are train, diagnose");
    expect_refused("", "a command is required; the commands are train");
    const fs::path long_out = tmp.path / std::string(300, 'r');
    expect_refused("train --out " + long_out.string(), "is 300 bytes, and this file system allows "
                                                       "at most 255 bytes per name");
    expect_refused("train --out " + tmp.str("bad\xff"), "--out '" + tmp.str("bad\\xff") +
                                                           "' is not valid UTF-8 (byte 0xff");
    expect_refused("train --data-dir " + tmp.str("d\xfe") + " --out " + tmp.str("run"),
                   "--data-dir '" + tmp.str("d\\xfe") + "' is not valid UTF-8",
                   tmp.path / "run");
    expect_refused("sweep --config /dev/null --out " + tmp.str(std::string(260, 's')),
                   "allows at most 255 bytes per name");
}

TEST_CASE("progress: every long phase of train, diagnose and sweep prints one plain line when "
          "stderr is not a terminal" * doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("progress");
    const fs::path out = tmp.path / "sweep";
    std::ofstream(tmp.str("sweep.json")) << R"({"models": ["mlp"],
        "datasets": ["fashion-mnist:classes=0-1"], "ood": ["fashion-mnist:classes=2-3"],
        "temperatures": [1, 10], "epochs": 1, "depth": 2, "width": 16, "train_subset": 200,
        "batch_size": 50, "samples": 200, "probe_train_samples": 100, "probe_epochs": 1})";
    auto r = run_kelvin("sweep --config " + tmp.str("sweep.json") + " --out " + out.string());
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    for (const char* line :
         {"loading fashion-mnist:classes=0-1: 2 splits in ", "evaluation at initialisation: 2 batches in ",
          "evaluation after epoch 1: 2 batches in ", "diagnose: loading data: 4 splits in ",
          "diagnose: test features: 1 batches in ", "diagnose: training features: 1 batches in ",
          "diagnose: spectra: 3 matrices in ", "diagnose: in-distribution probes: 1 layers in ",
          "diagnose: NECO fit: 1 fits in ",
          "diagnose: OOD set fashion-mnist:classes=2-3: probes: 1 layers in ",
          "sweep: 0:00 elapsed\n", " left for 1 runs\n",
          "sweep: summary and report: 2 files in "})
        CHECK_MESSAGE(r.output.find(line) != std::string::npos, line);
    CHECK(r.output.find('\r') == std::string::npos);  // no bar redraws in a log
    CHECK(r.output.find("\033[") == std::string::npos);
}
