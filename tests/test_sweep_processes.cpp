// experiments/sweep_processes.h: a sweep's runs in worker processes (`kelvin sweep run-one`, one
// thread each), as `kelvin demo` trains them on the CPU. The runs must end with the weights an
// in-process sweep with every thread gives, byte for byte, and the same diagnostics (what lets
// the demo run this way and still print docs/REPRODUCTION.md's numbers); a worker that cannot
// start is reported, not lost.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "experiments/sweep.h"
#include "experiments/sweep_processes.h"
#include "tests/cli_runner.h"
#include "tests/file_contents.h"

using kelvin::testing::kHaveFashionMnist;
using kelvin::testing::read_bytes;
using kelvin::testing::read_json;
using kelvin::testing::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace ex = kelvin::experiments;

namespace {

// Equal but for floating-point numbers, which may differ by `relative`: with two threads a
// product is split into panels, and OpenBLAS can pick another kernel (another order of the same
// sums) for a panel of half the height.
bool nearly_equal(const json& a, const json& b, double relative, std::string* where,
                  const std::string& path = "") {
    if (a.is_number_float() || b.is_number_float()) {
        const bool ok = a.is_number() && b.is_number() &&
                        std::abs(a.get<double>() - b.get<double>()) <=
                            relative * std::max(std::abs(a.get<double>()), std::abs(b.get<double>()));
        if (!ok) *where = path + ": " + a.dump() + " vs " + b.dump();
        return ok;
    }
    if (a.type() != b.type() || a.size() != b.size()) {
        *where = path + ": " + a.dump().substr(0, 80) + " vs " + b.dump().substr(0, 80);
        return false;
    }
    if (a.is_object()) {
        for (auto it = a.begin(); it != a.end(); ++it)
            if (!b.contains(it.key()) || !nearly_equal(*it, b[it.key()], relative, where, path + "/" + it.key()))
                return false;
        return true;
    }
    if (a.is_array()) {
        for (size_t i = 0; i < a.size(); ++i)
            if (!nearly_equal(a[i], b[i], relative, where, path + "/" + std::to_string(i))) return false;
        return true;
    }
    if (a != b) *where = path + ": " + a.dump() + " vs " + b.dump();
    return a == b;
}

// Three small runs (T = 1, 10, 100) of the demo's kind: an MLP wide enough (256) that a two-thread
// GEMM splits its products into panels, with an OOD set, probes and NECO.
ex::SweepConfig small_sweep() {
    return ex::parse_sweep_config({{"models", {"mlp"}},
                                   {"datasets", {"fashion-mnist:classes=0-4"}},
                                   {"ood", {"fashion-mnist:classes=5-9"}},
                                   {"temperatures", {1, 10, 100}},
                                   {"seeds", {1}},
                                   {"epochs", 1},
                                   {"train_subset", 1500},
                                   {"batch_size", 100},
                                   {"optimizer", "sgd"},
                                   {"lr", 0.05},
                                   {"momentum", 0.9},
                                   {"depth", 3},
                                   {"width", 256},
                                   {"samples", 400},
                                   {"probe_train_samples", 400},
                                   {"probe_epochs", 2},
                                   {"device", "cpu"}},
                                  "test");
}

}  // namespace

TEST_CASE("sweep processes: workers (two runs on one thread each, then the third on two) end "
          "every run byte for byte as a two-thread in-process sweep" *
          doctest::skip(!kHaveFashionMnist)) {
    REQUIRE_MESSAGE(omp_get_max_threads() >= 2,
                    "needs 2+ OpenMP threads to compare with one-thread workers (OMP_NUM_THREADS)");
    TempDir tmp("sweep-processes");
    const ex::SweepConfig config = small_sweep();
    const std::string in_process = tmp.str("in-process"), workers = tmp.str("workers");
    ex::run_sweep(config, in_process, {});
    const std::vector<ex::SweepRun> runs = ex::prepare_sweep_dir(config, workers);
    REQUIRE(runs.size() == 3);
    const ex::ProcessSweepResult result = ex::run_sweep_in_processes(workers, runs, 2, KELVIN_BINARY);
    CHECK(result.failed.empty());
    CHECK(result.stopped_by == 0);
    CHECK(result.trained == 3);
    for (const ex::SweepRun& run : runs) {
        CAPTURE(run.name);
        const fs::path a = fs::path(in_process) / "runs" / run.name;
        const fs::path b = fs::path(workers) / "runs" / run.name;
        REQUIRE(fs::exists(b / "model.safetensors"));
        CHECK(fs::exists(fs::path(workers) / "logs" / (run.name + ".log")));
        CHECK(read_bytes(a / "model.safetensors") == read_bytes(b / "model.safetensors"));
        // The diagnostics: integers (ranks, counts) exactly, the rest to 1e-6 (measured: 3e-9 at
        // most, on the logits' norms and singular values; the demo's runs, 5,000 samples, were
        // identical to the last digit).
        json da = read_json(a / "diagnostics.json"), db = read_json(b / "diagnostics.json");
        da.erase("seconds");
        db.erase("seconds");
        std::string where;
        CHECK_MESSAGE(nearly_equal(da, db, 1e-6, &where), where);
    }
    // Finished runs are not trained again.
    CHECK(ex::run_sweep_in_processes(workers, runs, 2, KELVIN_BINARY).trained == 0);
}

TEST_CASE("sweep processes: a worker that cannot start fails its run, named, and the others go on") {
    TempDir tmp("sweep-processes-fail");
    ex::SweepConfig config;
    config.temperatures = {1.0f, 10.0f, 100.0f};
    const std::vector<ex::SweepRun> runs = ex::prepare_sweep_dir(config, tmp.str());
    const ex::ProcessSweepResult result =
        ex::run_sweep_in_processes(tmp.str(), runs, 2, tmp.str("no-such-kelvin"));
    REQUIRE(result.failed.size() == 3);
    CHECK(result.trained == 0);
    for (const ex::SweepRun& run : runs) {
        CAPTURE(run.name);
        CHECK(std::find(result.failed.begin(), result.failed.end(), run.name) != result.failed.end());
        const std::string log = read_bytes(fs::path(tmp.str()) / "logs" / (run.name + ".log"));
        CHECK(log.find("cannot start the worker process") != std::string::npos);
    }
}
