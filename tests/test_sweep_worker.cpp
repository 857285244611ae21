// The pieces of a sweep that many workers share (experiments/sweep.h, sweep_worker.h,
// sweep_status.h, slurm.h): the run index list in sweep.json, reading sweep.json back, run-one's
// errors, `kelvin sweep status` on a folder in every state, and the sbatch script. No training:
// the end-to-end tests with a real Slurm are scripts/slurm-test.sh.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/run_lock.h"
#include "experiments/slurm.h"
#include "experiments/sweep.h"
#include "tests/cli_runner.h"
#include "tests/file_contents.h"

using kelvin::testing::kHaveFashionMnist;
using kelvin::testing::run_kelvin;
using kelvin::testing::read_json;
using kelvin::testing::write_text;
using kelvin::testing::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace ex = kelvin::experiments;

namespace {

std::vector<std::string> names_of(const std::vector<ex::SweepRun>& runs) {
    std::vector<std::string> out;
    for (const auto& r : runs) out.push_back(r.name);
    return out;
}

}  // namespace

TEST_CASE("sweep.json fixes the run indices when the sweep is created; a grown grid appends") {
    TempDir tmp("sweep-indices");
    ex::SweepConfig config;
    config.temperatures = {1.0f, 10.0f};
    const auto first = ex::prepare_sweep_dir(config, tmp.str());
    REQUIRE(first.size() == 2);
    CHECK(read_json(tmp.path / "sweep.json")["runs"] == json(names_of(first)));
    // More temperatures, one of them sorting before the others in the grid's own order.
    config.temperatures = {0.5f, 1.0f, 10.0f};
    const auto grown = ex::prepare_sweep_dir(config, tmp.str());
    REQUIRE(grown.size() == 3);
    CHECK(grown[0].name == first[0].name);
    CHECK(grown[1].name == first[1].name);
    CHECK(grown[2].name.find("_T0.5_") != std::string::npos);
    CHECK(read_json(tmp.path / "sweep.json")["runs"] == json(names_of(grown)));
    // Other training settings are refused, as before.
    config.train.lr = 0.5f;
    CHECK_THROWS_WITH(ex::prepare_sweep_dir(config, tmp.str()),
                      doctest::Contains("holds a sweep made with other settings (training/lr"));
}

TEST_CASE("sweep.json reads back into the configuration it was written from") {
    ex::SweepConfig c;
    c.models = {"mlp", "vit"};
    c.ood = {"fashion-mnist:classes=5-9"};
    c.temperatures = {0.25f, 30.0f};
    c.seeds = {3, 4};
    c.diagnose = false;
    c.train.epochs = 7;
    c.train.lr = 0.125f;
    c.train.flip = true;
    c.train.data_dir = "/data/here";
    c.train.model_options.width = 48;
    c.diagnose_options.max_samples = 123;
    c.diagnose_options.ood_data_dir = "/ood/here";
    const json record = ex::sweep_config_to_json(c);
    const ex::SweepConfig back = ex::sweep_config_from_record(record, "sweep.json");
    CHECK(ex::sweep_config_to_json(back) == record);
    CHECK(back.diagnose_options.ood == c.ood);
    CHECK(back.diagnose_options.ood_data_dir == "/ood/here");
    CHECK_THROWS_WITH(ex::sweep_config_from_record(json{{"training", {{"epochs", "many"}}}}, "S.json"),
                      doctest::Contains("S.json: training: 'epochs' = \"many\""));
}

TEST_CASE("sweep run-one: a missing sweep.json or an index out of range is named") {
    TempDir tmp("run-one-errors");
    auto r = run_kelvin("sweep run-one " + tmp.str("none") + " --index 0");
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("none/sweep.json not found; create the sweep first") != std::string::npos);
    ex::SweepConfig config;
    config.ood = {"fashion-mnist:classes=5-9"};
    config.temperatures = {1.0f, 10.0f};
    ex::prepare_sweep_dir(config, tmp.str("s"));
    r = run_kelvin("sweep run-one " + tmp.str("s") + " --index 2");
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("--index 2: the sweep in " + tmp.str("s") + " has 2 runs, indices 0 to 1") !=
          std::string::npos);
    r = run_kelvin("sweep --out " + tmp.str("s") + " --partition gpu --config x.json");
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("--partition is a setting of --slurm, which is not given") != std::string::npos);
}

TEST_CASE("sweep status: finished, diverged, running, partial, failed and pending runs; exit 1 "
          "until all are finished") {
    TempDir tmp("sweep-status");
    ex::SweepConfig config;
    config.ood = {"fashion-mnist:classes=5-9"};
    config.temperatures = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    const auto runs = ex::prepare_sweep_dir(config, tmp.str());
    const fs::path r = tmp.path / "runs";
    write_text(r / runs[0].name / "metrics.json", R"({"status": "complete", "final": {"test_acc": 0.875}})");
    write_text(r / runs[1].name / "metrics.json", R"({"status": "diverged", "diverged_at_step": 42})");
    write_text(r / (runs[2].name + ".partial") / "metrics.json", R"({"status": "running", "epochs": [{}]})");
    write_text(r / (runs[3].name + ".partial") / "metrics.json",
          R"({"status": "interrupted", "epochs": [{}, {}], "interrupted": {"step": 77, "signal": "SIGUSR2"}})");
    write_text(r / (runs[3].name + ".partial") / "config.json", R"({"epochs": 5})");
    write_text(r / (runs[4].name + ".partial") / "metrics.json", R"({"status": "failed", "error": "disk full"})");
    write_text(tmp.path / "slurm" / "logs" / "12_4.out", "starting\nkelvin: error: disk full, really\n\n");
    fs::create_directories(tmp.path / "locks");
    kelvin::RunLockOptions lock_options;
    lock_options.command = "test";
    kelvin::RunLock held = kelvin::RunLock::acquire(tmp.path / "locks" / (runs[2].name + ".lock"), lock_options);

    auto s = run_kelvin("sweep status " + tmp.str());
    INFO(s.output);
    CHECK(s.exit_code == 1);
    CHECK(s.output.find("[0] " + runs[0].name + ": finished test_acc 0.8750") != std::string::npos);
    CHECK(s.output.find("[1] " + runs[1].name + ": diverged at step 42") != std::string::npos);
    CHECK(s.output.find("[2] " + runs[2].name + ": running on ") != std::string::npos);
    CHECK(s.output.find("pid " + std::to_string(::getpid()) + ", epoch 1 of 3") != std::string::npos);
    CHECK(s.output.find("[3] " + runs[3].name +
                        ": partial at epoch 2 of 5 (interrupted at step 77 by SIGUSR2)") != std::string::npos);
    CHECK(s.output.find("[4] " + runs[4].name + ": failed disk full\n      12_4.out: kelvin: error: disk full, really") !=
          std::string::npos);
    CHECK(s.output.find("[5] " + runs[5].name + ": pending") != std::string::npos);
    CHECK(s.output.find("6 runs: 1 finished, 1 diverged, 1 running, 1 partial, 1 failed, 1 pending") !=
          std::string::npos);

    held.release();
    for (size_t i = 2; i < runs.size(); ++i) {
        fs::remove_all(r / (runs[i].name + ".partial"));
        write_text(r / runs[i].name / "metrics.json", R"({"status": "complete", "final": {"test_acc": 0.5}})");
    }
    s = run_kelvin("sweep status " + tmp.str());
    CHECK(s.exit_code == 0);
    CHECK(s.output.find("6 runs: 5 finished, 1 diverged, 0 running") != std::string::npos);
}

TEST_CASE("sweep --slurm --dry-run writes the array script with every setting, submits nothing") {
    TempDir tmp("slurm-dry-run");
    ex::SlurmOptions o;
    o.partition = "gpu";
    o.time_limit = "1-12:00:00";
    o.cpus_per_task = 8;
    o.gpus_per_task = 1;
    o.mem = "32G";
    o.array_parallelism = 16;
    o.sbatch_arg = {"--account=proj42", "--constraint=a100"};
    o.signal_seconds = 600;
    const std::string script = ex::sbatch_script(o, "/scratch/sweep", 200, "/opt/kelvin/bin/kelvin");
    for (const char* line :
         {"#SBATCH --array=0-199%16\n", "#SBATCH --requeue\n", "#SBATCH --open-mode=append\n",
          "#SBATCH --signal=B:USR2@600\n", "#SBATCH --output=/scratch/sweep/slurm/logs/%A_%a.out\n",
          "#SBATCH --cpus-per-task=8\n", "#SBATCH --partition=gpu\n", "#SBATCH --time=1-12:00:00\n",
          "#SBATCH --gpus-per-task=1\n", "#SBATCH --mem=32G\n", "#SBATCH --account=proj42\n",
          "#SBATCH --constraint=a100\n",
          "exec '/opt/kelvin/bin/kelvin' sweep run-one '/scratch/sweep' --index \"$SLURM_ARRAY_TASK_ID\" --requeue\n"})
        CHECK_MESSAGE(script.find(line) != std::string::npos, line);
    o.time_limit = "2 hours";
    CHECK_THROWS_WITH(ex::validate_slurm_options(o), doctest::Contains("--time-limit '2 hours'"));

}

// The config check before anything is written loads the data set: skipped (and said) without it.
TEST_CASE("sweep --slurm --dry-run on the command line writes the script and the sweep, submits nothing" *
          doctest::skip(!kHaveFashionMnist)) {
    TempDir tmp("slurm-dry-run-cli");
    std::ofstream(tmp.str("c.json")) << R"({"temperatures": [1, 10, 100], "datasets": ["fashion-mnist:classes=0-4"]})";
    auto r = run_kelvin("sweep --config " + tmp.str("c.json") + " --out " + tmp.str("s") +
                        " --slurm --dry-run --partition debug --array-parallelism 2");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("written, not submitted (--dry-run)") != std::string::npos);
    CHECK(!fs::exists(tmp.path / "s" / "slurm" / "job_id"));
    CHECK(fs::is_directory(tmp.path / "s" / "slurm" / "logs"));
    CHECK(read_json(tmp.path / "s" / "sweep.json")["runs"].size() == 3);
    std::ifstream in(tmp.path / "s" / "slurm" / "sweep.sbatch");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find("#SBATCH --array=0-2%2\n") != std::string::npos);
    CHECK(text.find("#SBATCH --partition=debug\n") != std::string::npos);
}
