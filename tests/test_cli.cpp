// The kelvin command line end to end: bad input fails cleanly, a short run writes its files.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/cli_runner.h"

using kelvin::testing::kHaveFashionMnist;
using kelvin::testing::run_kelvin;
using kelvin::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// Every bad-input case must fail with one clear line, a non-zero code, and no run directory.
void expect_clean_failure(const std::string& args, const std::string& message,
                          const std::string& run_dir) {
    auto r = run_kelvin(args);
    INFO("kelvin " << args << "\n" << r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find(message) != std::string::npos);
    CHECK(r.output.find("terminate called") == std::string::npos);
    if (!run_dir.empty()) CHECK(!fs::exists(run_dir));
}
}  // namespace

TEST_CASE("cli: --help lists the subcommands and train --help every option with defaults") {
    auto top = run_kelvin("--help");
    CHECK(top.exit_code == 0);
    CHECK(top.output.find("train") != std::string::npos);
    CHECK(top.output.find("bench") != std::string::npos);
    auto train = run_kelvin("train --help");
    CHECK(train.exit_code == 0);
    for (const char* option : {"--model", "--dataset", "--data-dir", "--temperature", "--epochs",
                               "--batch-size", "--lr", "--optimizer", "--weight-decay", "--seed",
                               "--device", "--out", "--depth", "--width", "--init-scale"})
        CHECK_MESSAGE(train.output.find(option) != std::string::npos, option);
    CHECK(train.output.find("fashion-mnist") != std::string::npos);  // a default shown
}

TEST_CASE("cli: bad options fail with a clear message and leave no run directory") {
    TempDir tmp("cli-bad");
    const std::string out = tmp.str("run");
    expect_clean_failure("train --no-such-option 3 --out " + out, "--no-such-option", out);
    expect_clean_failure("train --temperature 0 --out " + out, "temperature must be a positive", out);
    expect_clean_failure("train --temperature -5 --out " + out, "temperature must be a positive", out);
    expect_clean_failure("train --batch-size 0 --out " + out, "--batch-size must be in [1, 2147483647], got 0", out);
    expect_clean_failure("train --data-dir " + tmp.str("missing") + " --out " + out,
                         "does not exist", out);
    expect_clean_failure("train --model nosuchnet --out " + out, "unknown model 'nosuchnet'", out);
    expect_clean_failure("train --optimizer lbfgs --out " + out, "unknown --optimizer", out);
    expect_clean_failure("bench --workload nope", "unknown workload 'nope'", "");
}

TEST_CASE("cli: a truncated IDX file and a wrong magic number are reported by name") {
    TempDir tmp("cli-idx");
    const std::string out = tmp.str("run");
    // A directory with the four Fashion-MNIST file names whose image file is cut short.
    auto write = [&](const std::string& name, const std::string& bytes) {
        std::ofstream f(tmp.str(name), std::ios::binary);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    };
    auto be32 = [](uint32_t v) {
        return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    };
    write("train-images-idx3-ubyte", be32(0x803) + be32(10) + be32(28) + be32(28) + std::string(100, '\1'));
    write("train-labels-idx1-ubyte", be32(0x801) + be32(10) + std::string(10, '\1'));
    write("t10k-images-idx3-ubyte", be32(0x803) + be32(2) + be32(28) + be32(28) + std::string(2 * 784, '\1'));
    write("t10k-labels-idx1-ubyte", be32(0x801) + be32(2) + std::string(2, '\1'));
    expect_clean_failure("train --data-dir " + tmp.str() + " --out " + out,
                         "train-images-idx3-ubyte", out);
    write("train-images-idx3-ubyte", be32(0x1234) + be32(10) + be32(28) + be32(28) + std::string(7840, '\1'));
    expect_clean_failure("train --data-dir " + tmp.str() + " --out " + out, "magic", out);
}

TEST_CASE("cli: a short training run writes config, metrics and a checkpoint" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("cli-train");
    const std::string out = tmp.str("run");
    auto r = run_kelvin("train --dataset fashion-mnist:classes=0-4 --depth 3 --width 64 "
                        "--epochs 2 --max-steps 30 --batch-size 64 --train-subset 2000 "
                        "--temperature 10 --out " + out);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    for (const char* f : {"config.json", "metrics.json", "model.safetensors", "optimizer.safetensors"})
        CHECK_MESSAGE(fs::exists(fs::path(out) / f), f);
    std::ifstream in(fs::path(out) / "metrics.json");
    auto metrics = nlohmann::json::parse(in);
    CHECK(metrics["status"] == "complete");
    REQUIRE(metrics["epochs"].size() == 1);  // 2000/64 = 32 steps per epoch, stopped at 30
    for (const char* key : {"epoch", "train_loss", "train_acc", "test_acc", "logits_norm", "seconds"})
        CHECK_MESSAGE(metrics["epochs"][0].contains(key), key);
    CHECK(metrics["final"]["steps"] == 30);
    CHECK(metrics["init"].contains("logits_norm"));
    // Plain lines, not a progress bar, when stderr is not a terminal.
    CHECK(r.output.find("epoch 1/2") != std::string::npos);
    CHECK(r.output.find('\r') == std::string::npos);
    CHECK(r.output.find("larger than the") == std::string::npos);
}

TEST_CASE("cli: a batch size larger than the training set is said, not silently shrunk" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("cli-big-batch");
    auto r = run_kelvin("train --dataset fashion-mnist:classes=0-1 --depth 2 --width 16 "
                        "--epochs 1 --batch-size 500 --train-subset 300 --out " + tmp.str("run"));
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    CHECK(r.output.find("--batch-size 500 is larger than the 300 training samples") !=
          std::string::npos);
}

TEST_CASE("cli: train refuses to overwrite an existing run" * doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("cli-overwrite");
    const std::string out = tmp.str("run");
    const std::string args = kelvin::testing::kTinyTraining + "--out " + out;
    REQUIRE(run_kelvin(args).exit_code == 0);
    const auto before = fs::last_write_time(fs::path(out) / "metrics.json");
    auto again = run_kelvin(args);
    CHECK(again.exit_code != 0);
    CHECK(again.output.find("already holds a run") != std::string::npos);
    CHECK(again.output.find("--resume") != std::string::npos);
    CHECK(fs::last_write_time(fs::path(out) / "metrics.json") == before);
}

TEST_CASE("cli: train --resume refuses settings given beside it, which it would ignore" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("cli-resume-flags");
    const std::string out = tmp.str("run");
    REQUIRE(run_kelvin(kelvin::testing::kTinyTraining + "--out " + out).exit_code == 0);
    const auto before = fs::last_write_time(fs::path(out) / "metrics.json");
    auto r = run_kelvin("train --resume " + out + " -T 10 --epochs 5");
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("--temperature, --epochs") != std::string::npos);
    CHECK(r.output.find("config.json") != std::string::npos);
    CHECK(fs::last_write_time(fs::path(out) / "metrics.json") == before);
    CHECK(run_kelvin("train --resume " + out).exit_code == 0);  // alone, it still works
}

TEST_CASE("cli: training data and batches the model cannot use fail before the run directory" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("cli-unusable");
    const std::string out = tmp.str("run");
    expect_clean_failure("train --dataset fashion-mnist:classes=5 --out " + out,
                         "has 1 class; a classifier needs at least 2", out);
    // 65 samples in batches of 64 leave a last batch of 1, which BatchNorm cannot normalise:
    // it used to fail at the end of the first epoch, leaving a failed run behind.
    expect_clean_failure("train --norm batchnorm --train-subset 65 --batch-size 64 --out " + out,
                         "last batch of each epoch holds 1 sample (65 training samples, "
                         "--batch-size 64)", out);
    expect_clean_failure("train --norm batchnorm --batch-size 1 --out " + out,
                         "--batch-size is 1", out);
    // Without BatchNorm the same batches are fine.
    auto r = run_kelvin("train --train-subset 65 --batch-size 64 --max-steps 2 --out " + out);
    CHECK_MESSAGE(r.exit_code == 0, r.output);
}

TEST_CASE("cli: bench rejects a negative warm-up and an unwritable --trace up front") {
    TempDir tmp("cli-bench");
    // A warm-up of -1 used to leave no timed step, and reading the median crashed.
    expect_clean_failure("bench --steps 1 --warmup -1", "--warmup must be >= 0, got -1", "");
    expect_clean_failure("bench --workload rank10000x100 --steps 0", "--steps must be at least 1", "");
    // The trace is written at exit; an unwritable path was found only after the work.
    expect_clean_failure("bench --steps 1 --warmup 0 --trace " + tmp.str("no/such/dir/t.json"),
                         "--trace: cannot write", "");
}
