// Runs the kelvin binary built beside the tests (or any command) and captures its exit code and
// output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace kelvin::testing {

struct CommandResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

// A shell command, its stdout and stderr together (exit code -1 when it could not start or was
// killed).
inline CommandResult run_command(const std::string& command) {
    CommandResult result;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return result;
    std::array<char, 4096> buffer;
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
    int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

inline CommandResult run_kelvin(const std::string& args) {
    return run_command(std::string(KELVIN_BINARY) + " " + args);
}

// Debian's dataset-fashion-mnist, which the tests that train read; without it they are reported
// as skipped (doctest::skip(!kHaveFashionMnist)).
inline const bool kHaveFashionMnist = std::filesystem::exists("/usr/share/datasets/fashion-mnist");

// The smallest run `kelvin train` finishes (3 steps of a 2-layer MLP on two classes); add --out.
inline const std::string kTinyTraining =
    "train --dataset fashion-mnist:classes=0-1 --depth 2 --width 16 --epochs 1 --max-steps 3 "
    "--train-subset 300 ";

// A fresh empty directory under the system temporary folder, removed on destruction.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& tag) {
        path = std::filesystem::temp_directory_path() /
               ("kelvin-test-" + tag + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string str(const std::string& child = "") const { return (path / child).string(); }
};

}  // namespace kelvin::testing
