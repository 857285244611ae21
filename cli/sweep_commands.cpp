// `kelvin sweep` (in one process, or as a Slurm job array), its worker `sweep run-one` and
// `sweep status`; `kelvin report` and `kelvin demo`, which read and write sweep folders.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/options.h"
#include "engine/interruption.h"
#include "engine/paths.h"
#include "experiments/demo.h"
#include "experiments/progress.h"
#include "experiments/report.h"
#include "experiments/sweep.h"
#include "experiments/sweep_status.h"
#include "experiments/sweep_worker.h"

namespace kelvin::cli {

namespace fs = std::filesystem;

void SweepCommand::add(CLI::App& parent) {
    app = parent.add_subcommand(
        "sweep", "run a resumable grid of training runs with diagnostics, a summary and a report");
    app->add_option("--config", config_path, "sweep configuration (JSON); required");
    app->add_option("--out", out, "sweep directory")->capture_default_str();
    // A sweep as a Slurm job array (experiments/slurm.h); each task runs `sweep run-one`.
    const std::vector<std::string> submit_keys = {
        "slurm", "partition",         "time_limit", "cpus_per_task",  "gpus_per_task",
        "mem",   "array_parallelism", "sbatch_arg", "signal_seconds", "dry_run"};
    add_settings(*app, experiments::slurm_settings(), slurm, submit_keys);
    const std::vector<CLI::Option*> all = app->get_options();
    submit_options.assign(all.end() - submit_keys.size(), all.end());
    app->require_subcommand(0, 1);

    run_one_app = app->add_subcommand(
        "run-one", "train and diagnose run I of the sweep in DIR (sweep.json's \"runs\"): the "
                   "worker of Slurm arrays, Kubernetes indexed Jobs, GNU parallel or xargs -P");
    run_one_app->add_option("DIR", worker_dir, "a sweep directory (its sweep.json)")->required();
    run_one_app->add_option("--index", worker_index, "the run's index, 0 to runs - 1")->required();
    add_settings(*run_one_app, experiments::slurm_settings(), slurm, {"requeue"});

    status_app = app->add_subcommand(
        "status", "one line per run of the sweep in DIR (finished, running, partial, pending, "
                  "failed), with Slurm's view; exit status 0 once every run finished");
    status_app->add_option("DIR", status_dir, "a sweep directory")->required();
}

int SweepCommand::run() {
    if (*run_one_app) return run_worker();
    if (*status_app) return experiments::print_sweep_status(status_dir) ? 0 : 1;
    return run_grid();
}

int SweepCommand::run_worker() {
    const experiments::RunOutcome outcome = experiments::run_one(
        worker_dir, worker_index, experiments::ProgressBar::stderr_is_terminal());
    if (outcome == experiments::RunOutcome::failed) return 1;
    if (outcome != experiments::RunOutcome::interrupted) return 0;
    // The checkpoint is written and the run's lock released: Slurm may now cancel this task and
    // start it again.
    const int signal = stop_signal();
    if (slurm.requeue) experiments::requeue_this_task();
    return exit_code_for(signal);
}

int SweepCommand::run_grid() {
    // The folder first: it is checked without reading the data sets.
    require_utf8(out, "sweep --out");
    require_name_lengths(out, "sweep --out");
    if (config_path.empty())
        throw Error("sweep: --config is required (or: kelvin sweep run-one DIR --index I, "
                    "kelvin sweep status DIR)");
    for (const CLI::Option* o : submit_options)
        if (o->count() > 0 && !slurm.slurm && o->get_name() != "--slurm")
            throw Error(o->get_name() + " is a setting of --slurm, which is not given");
    const experiments::SweepConfig config = experiments::load_sweep_config(config_path);
    if (slurm.slurm) {
        experiments::settings::validate(slurm, experiments::slurm_settings());
        experiments::validate_slurm_options(slurm);
        const auto runs = experiments::prepare_sweep_dir(config, out);
        experiments::submit_sweep(slurm, out, static_cast<int64_t>(runs.size()));
        return 0;
    }
    experiments::SweepOptions options;
    options.show_progress = experiments::ProgressBar::stderr_is_terminal();
    options.resume_command = "kelvin sweep --config " + config_path + " --out " + out;
    const experiments::SweepResult result = experiments::run_sweep(config, out, options);
    if (result.stopped_by != 0) return exit_code_for(result.stopped_by);
    if (!result.held_elsewhere.empty())
        std::fprintf(stderr,
                     "%zu runs are being trained by other processes (named above); they join the "
                     "summary when they finish\n",
                     result.held_elsewhere.size());
    std::printf("%s\n%s\n", (fs::path(out) / "summary.md").c_str(),
                (fs::path(out) / "report.html").c_str());
    return 0;
}

void ReportCommand::add(CLI::App& parent) {
    app = parent.add_subcommand(
        "report", "rebuild DIR/summary{,_by_cell}.{csv,md}, DIR/claims.json and DIR/report.html "
                  "from a sweep's files");
    app->add_option("DIR", dir, "a sweep directory")->required();
}

int ReportCommand::run() {
    experiments::publish_summary(dir, false);
    std::printf("%s\n", experiments::write_report(dir).c_str());
    return 0;
}

void DemoCommand::add(CLI::App& parent) {
    app = parent.add_subcommand(
        "demo", "the default demo: an MLP on Fashion-MNIST classes 0-4 under T = 1, 10, 100, "
                "classes 5-9 as the OOD set, seeds 1-4 (on the CPU, one run per core at a time); "
                "prints the means over seeds, the claims table and the report's path");
    app->add_option("--out", out, "sweep directory")->capture_default_str();
    app->add_option("--device", device, "cpu | cuda")->capture_default_str();
    app->add_option("--seeds", seeds,
                    "seeds 1 to N; fewer than 5 leave claim 1 (T = 100 against T = 1, paired by "
                    "seed) untestable, fewer than 3 every claim")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
}

int DemoCommand::run() {
    const int code = experiments::run_demo(out, parse_device(device), seeds);
    return stop_requested() ? exit_code_for(stop_signal()) : code;
}

}  // namespace kelvin::cli
