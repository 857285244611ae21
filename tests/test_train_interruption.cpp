// Interrupting training (engine/interruption.h wired into experiments/train.cpp): a signal stops
// the run at a step boundary with a mid-epoch checkpoint and status "interrupted"; resuming any
// number of times ends bitwise identical to a run never interrupted, in-process and through the
// kelvin binary (kill -USR2 / -TERM). Also the run lock of `kelvin train` and `sweep run-one`.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "engine/interruption.h"
#include "experiments/sweep.h"
#include "experiments/train.h"
#include "tests/background_kelvin.h"
#include "tests/cli_runner.h"
#include "tests/file_contents.h"

using kelvin::testing::exit_status;
using kelvin::testing::read_text;
using kelvin::testing::kHaveFashionMnist;
using kelvin::testing::run_kelvin;
using kelvin::testing::spawn_kelvin;
using kelvin::testing::wait_for;
using kelvin::testing::read_json;
using kelvin::testing::read_bytes;
using kelvin::testing::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace ex = kelvin::experiments;

namespace {

// metrics.json without what legitimately differs between two runs of the same settings: the
// wall-clock times.
json without_times(json m) {
    for (auto& e : m["epochs"])
        for (const char* key : {"seconds", "train_seconds", "samples_per_second"}) e.erase(key);
    if (m.contains("final")) m["final"].erase("seconds");
    return m;
}

// Weights, optimizer state (with its metadata: step, data position, dropout calls) and metrics.
void check_identical_runs(const fs::path& a, const fs::path& b) {
    CHECK(read_bytes(a / "model.safetensors") == read_bytes(b / "model.safetensors"));
    CHECK(read_bytes(a / "optimizer.safetensors") == read_bytes(b / "optimizer.safetensors"));
    const json ma = without_times(read_json(a / "metrics.json"));
    const json mb = without_times(read_json(b / "metrics.json"));
    // Differences by key, as JSON pointers, rather than two whole files.
    const json fa = ma.flatten(), fb = mb.flatten();
    std::string differences;
    for (auto& [key, value] : fa.items())
        if (!fb.contains(key) || fb.at(key) != value)
            differences += key + ": " + value.dump() + " vs " + (fb.contains(key) ? fb.at(key).dump() : "(none)") + "\n";
    for (auto& [key, value] : fb.items())
        if (!fa.contains(key)) differences += key + ": (none) vs " + value.dump() + "\n";
    CHECK_MESSAGE(differences.empty(), differences);
}

ex::TrainConfig small_config(const fs::path& out) {
    ex::TrainConfig c;
    c.dataset = "fashion-mnist:classes=0-4";
    c.train_subset = 300;
    c.batch_size = 50;  // 6 steps per epoch
    c.eval_batch_size = 500;
    c.epochs = 3;
    c.lr = 0.05f;
    c.schedule = "cosine";
    c.track_every = 4;
    c.crop_padding = 2;  // augmentation depends on (epoch, batch): the position must be exact
    c.flip = true;
    c.model_options.depth = 3;
    c.model_options.width = 32;
    c.out = out.string();
    return c;
}

}  // namespace

TEST_CASE("train: interrupted at any step boundary, any number of times, resumes bitwise identical" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("interrupt-inprocess");
    const fs::path straight = tmp.path / "straight", paused = tmp.path / "paused";
    ex::TrainOptions quiet;
    quiet.print_epochs = false;
    REQUIRE(ex::train(small_config(straight), quiet).status == "complete");

    // Steps 1 (the first), 6 (the last of epoch 1: the epoch's evaluation is still to come),
    // 7, 11 and 17 (one before the end). A stop before any step (0) is checked too.
    const std::set<int64_t> stops = {1, 6, 7, 11, 17};
    std::set<int64_t> used;
    kelvin::InterruptionHandlers handlers;
    ex::TrainOptions options = quiet;
    options.on_step = [&](int64_t step) {
        if (stops.count(step) && used.insert(step).second) ::raise(SIGUSR2);
    };
    ::raise(SIGTERM);  // already pending when training starts: stops before the first step
    int interruptions = 0;
    for (;;) {
        const std::string status = ex::train(small_config(paused), options).status;
        if (status == "complete") break;
        REQUIRE(status == "interrupted");
        const json on_disk = read_json(paused / "metrics.json");
        CHECK(on_disk["status"] == "interrupted");
        CHECK(on_disk["interrupted"]["resume"] == "kelvin train --resume " + paused.string());
        CHECK(on_disk["interrupted"]["signal"] == (interruptions == 0 ? "SIGTERM" : "SIGUSR2"));
        CHECK(on_disk["interrupted"]["step"] ==
              (interruptions == 0 ? 0 : *std::next(stops.begin(), interruptions - 1)));
        CHECK(!fs::exists(paused / ex::kTrainLockName));  // released on return
        ++interruptions;
        REQUIRE(interruptions <= 6);
        kelvin::clear_stop_request();
        options.resume = true;
    }
    CHECK(interruptions == 6);
    check_identical_runs(straight, paused);
}

TEST_CASE("train: kill -USR2 and -TERM stop the binary at a step with a checkpoint; the resumed "
          "run is bitwise identical; exit 140 / 143" * doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("interrupt-binary");
    const std::string run = "train --dataset fashion-mnist:classes=0-4 --depth 3 --width 256 "
                            "--batch-size 50 --train-subset 4000 --eval-batch-size 1000 --lr 0.05 "
                            "--schedule cosine --crop-padding 2 --epochs 8 --out ";
    const fs::path straight = tmp.path / "straight", paused = tmp.path / "paused";
    auto r = run_kelvin(run + straight.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);

    // Each stop right after the first epoch line its process prints: mid-epoch (an epoch takes
    // a quarter of a second here), with epochs still to come.
    int interrupted = 0;
    std::string args = run + paused.string();
    for (const auto& [signal, code] : {std::pair{SIGUSR2, 140}, std::pair{SIGTERM, 143}}) {
        const std::string log = (tmp.path / ("log" + std::to_string(interrupted))).string();
        const pid_t pid = spawn_kelvin(args, log);
        const bool started = wait_for([&] {
            return read_text(log).find("train_loss") != std::string::npos;
        }, 120);
        ::kill(pid, signal);
        const int status = exit_status(pid);
        REQUIRE(started);
        const std::string output = read_text(log);
        if (status == 0) {
            MESSAGE("the run finished before the signal arrived: " << output);
            break;
        }
        INFO(output);
        REQUIRE(status == code);
        const json m = read_json(paused / "metrics.json");
        CHECK(m["status"] == "interrupted");
        CHECK(output.find("checkpoint written; resume with: kelvin train --resume " + paused.string()) !=
              std::string::npos);
        ++interrupted;
        args = "train --resume " + paused.string();
    }
    CHECK(interrupted >= 1);
    r = run_kelvin("train --resume " + paused.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    check_identical_runs(straight, paused);
}

TEST_CASE("train: a second kelvin train on a run being trained names the holder and changes "
          "nothing; Ctrl-C then stops the first with exit 130" * doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("train-lock");
    const fs::path out = tmp.path / "run";
    const std::string run = "train --dataset fashion-mnist:classes=0-4 --depth 3 --width 256 "
                            "--batch-size 50 --train-subset 4000 --epochs 400 --out " + out.string();
    const pid_t first = spawn_kelvin(run, (tmp.path / "log").string());
    REQUIRE(wait_for([&] { return fs::exists(out / "metrics.json"); }, 120));
    auto second = run_kelvin("train --resume " + out.string());
    CHECK(second.exit_code == 2);
    CHECK(second.output.find("is held by pid " + std::to_string(first)) != std::string::npos);
    INFO(second.output);
    CHECK(fs::exists(out / ex::kTrainLockName));
    ::kill(first, SIGINT);
    CHECK(exit_status(first) == 130);
    const json m = read_json(out / "metrics.json");
    CHECK(m["status"] == "interrupted");
    CHECK(m["interrupted"]["signal"] == "SIGINT");
    CHECK(!fs::exists(out / ex::kTrainLockName));
}
