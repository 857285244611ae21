// The kelvin command-line tool: train, bench (and, as they arrive, diagnose, sweep, demo, report).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <fstream>
#include <string>
#include <vector>

#include "cli/options.h"
#include "engine/conv_backend.h"
#include "engine/device.h"
#include "engine/interruption.h"
#include "engine/runtime_settings.h"
#include "engine/profile.h"
#include "engine/trace.h"
#include "experiments/bench.h"
#include "kernels/cpu/cpu_isa.h"
#include "experiments/demo.h"
#include "experiments/diagnose.h"
#include "experiments/progress.h"
#include "experiments/settings_tables.h"
#include "experiments/report.h"
#include "experiments/slurm.h"
#include "experiments/sweep.h"
#include "experiments/sweep_status.h"
#include "experiments/sweep_worker.h"
#include "experiments/train.h"
#include "models/registry.h"

using namespace kelvin;

namespace {

// The settings of one training run, from the tables (experiments/settings_tables.h); --out
// among them, since a resumed run takes it from its config.json too.
void add_train_options(CLI::App& cmd, experiments::TrainConfig& c) {
    cli::add_settings(cmd, experiments::training_settings(), c);
    cli::add_settings(cmd, experiments::data_settings(), c);
    cli::add_settings(cmd, experiments::model_settings(), c.model_options);
}

void add_diagnose_options(CLI::App& cmd, experiments::DiagnoseOptions& d) {
    cli::add_settings(cmd, experiments::diagnose_settings(), d);
}

}  // namespace

int main(int argc, char** argv) {
    kelvin::prefer_passive_openmp_waits(argv);  // see engine/runtime_settings.h
    flush_subnormals_to_zero();  // before any thread exists; see engine/runtime_settings.h
    CLI::App app{"kelvin: train networks under a softmax temperature and measure what T does to "
                 "their representations"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "kelvin 0.1");

    experiments::TrainConfig train_config;
    train_config.out = "runs/latest";
    std::string resume_dir;
    CLI::App* train = app.add_subcommand("train", "train a model and write RUN_DIR/{config,metrics}.json");
    add_train_options(*train, train_config);
    // A resumed run takes every one of these from its config.json (see the check below).
    const std::vector<CLI::Option*> run_settings = train->get_options();
    train->add_option("--resume", resume_dir,
                      "continue the run in this directory from its last checkpoint (the end of an "
                      "epoch, or the step a signal stopped it at)");

    bool diagnose_after = false;
    experiments::DiagnoseOptions train_diagnose;
    train->add_flag("--diagnose", diagnose_after, "run kelvin diagnose on the run when it finishes");
    add_diagnose_options(*train, train_diagnose);

    std::string diagnose_dir;
    experiments::DiagnoseOptions diagnose_options;
    CLI::App* diagnose =
        app.add_subcommand("diagnose", "measure ranks, norms, probes and OOD detection of a run");
    diagnose->add_option("RUN_DIR", diagnose_dir, "a run directory written by kelvin train")
        ->required();
    diagnose->add_option("--device", diagnose_options.device, "cpu | cuda (default: the run's)");
    // A checkpoint trained elsewhere (e.g. by PyTorch, saved with safetensors using kelvin's
    // parameter names): RUN_DIR is created from it and the training options given here.
    std::string from_checkpoint;
    experiments::TrainConfig checkpoint_config;
    diagnose->add_option("--from-checkpoint", from_checkpoint,
                         "diagnose this safetensors file (e.g. saved by PyTorch with kelvin's "
                         "parameter names); RUN_DIR is created with a config.json built from "
                         "--model, --dataset, --data-dir, -T and the model options");
    cli::add_settings(*diagnose, experiments::training_settings(), checkpoint_config,
                      {"model", "temperature"}, "with --from-checkpoint");
    cli::add_settings(*diagnose, experiments::data_settings(), checkpoint_config,
                      {"dataset", "data_dir"}, "with --from-checkpoint");
    cli::add_settings(*diagnose, experiments::model_settings(), checkpoint_config.model_options,
                      {"depth", "width", "base_width", "head_norm"}, "with --from-checkpoint");
    add_diagnose_options(*diagnose, diagnose_options);

    std::string sweep_config_path, sweep_out = "runs/sweep";
    CLI::App* sweep = app.add_subcommand(
        "sweep", "run a resumable grid of training runs with diagnostics, a summary and a report");
    sweep->add_option("--config", sweep_config_path, "sweep configuration (JSON); required");
    sweep->add_option("--out", sweep_out, "sweep directory")->capture_default_str();
    // A sweep as a Slurm job array (experiments/slurm.h); each task runs `sweep run-one`.
    experiments::SlurmOptions slurm_options;
    const std::vector<std::string> submit_keys = {
        "slurm",    "partition",  "time_limit",     "cpus_per_task", "gpus_per_task",
        "mem",      "array_parallelism", "sbatch_arg", "signal_seconds", "dry_run"};
    cli::add_settings(*sweep, experiments::slurm_settings(), slurm_options, submit_keys);
    const std::vector<CLI::Option*> sweep_options = sweep->get_options();
    const std::vector<CLI::Option*> submit_options(sweep_options.end() - submit_keys.size(),
                                                   sweep_options.end());
    sweep->require_subcommand(0, 1);
    std::string worker_dir;
    int64_t worker_index = -1;
    CLI::App* run_one = sweep->add_subcommand(
        "run-one", "train and diagnose run I of the sweep in DIR (sweep.json's \"runs\"): the "
                   "worker of Slurm arrays, Kubernetes indexed Jobs, GNU parallel or xargs -P");
    run_one->add_option("DIR", worker_dir, "a sweep directory (its sweep.json)")->required();
    run_one->add_option("--index", worker_index, "the run's index, 0 to runs - 1")->required();
    cli::add_settings(*run_one, experiments::slurm_settings(), slurm_options, {"requeue"});
    std::string status_dir;
    CLI::App* sweep_status = sweep->add_subcommand(
        "status", "one line per run of the sweep in DIR (finished, running, partial, pending, "
                  "failed), with Slurm's view; exit status 0 once every run finished");
    sweep_status->add_option("DIR", status_dir, "a sweep directory")->required();

    std::string report_dir;
    CLI::App* report = app.add_subcommand(
        "report", "rebuild DIR/summary{,_by_cell}.{csv,md}, DIR/claims.json and DIR/report.html "
                  "from a sweep's files");
    report->add_option("DIR", report_dir, "a sweep directory")->required();

    std::string demo_out = "runs/demo", demo_device = "cpu";
    CLI::App* demo = app.add_subcommand(
        "demo", "the default demo: an MLP on Fashion-MNIST classes 0-4 under T = 1, 10, 100, "
                "classes 5-9 as the OOD set, seeds 1-3; prints the means over seeds, the claims "
                "table and the report's path");
    demo->add_option("--out", demo_out, "sweep directory")->capture_default_str();
    demo->add_option("--device", demo_device, "cpu | cuda")->capture_default_str();

    std::string workload = "mlp6x1024_b128", bench_device = "cpu";
    int bench_steps = 20, bench_warmup = 3;
    CLI::App* bench = app.add_subcommand("bench", "time a full training step of a named workload");
    bench->add_option("--workload", workload, "a workload name (see --list)")->capture_default_str();
    bench->add_option("--device", bench_device, "cpu | cuda")->capture_default_str();
    bench->add_option("--steps", bench_steps, "timed steps")->capture_default_str();
    bench->add_option("--warmup", bench_warmup, "untimed steps first")->capture_default_str();
    bool bench_list = false;
    bench->add_flag("--list", bench_list, "print the workload names and exit");

    // Traces, the roofline profile and the conv backend (experiments/settings_tables.h); sweep
    // takes only --trace.
    experiments::InstrumentOptions instruments;
    for (CLI::App* cmd : {train, bench}) cli::add_settings(*cmd, experiments::instrument_settings(), instruments);
    cli::add_settings(*sweep, experiments::instrument_settings(), instruments, {"trace"});
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // One line a user can act on, rather than CLI11's two.
        std::fprintf(stderr, "kelvin: error: %s (see kelvin %s--help)\n", e.what(),
                     app.get_subcommands().empty()
                         ? ""
                         : (app.get_subcommands().front()->get_name() + " ").c_str());
        return 2;
    }
    try {
        experiments::settings::validate(instruments, experiments::instrument_settings());
        if (*train && instruments.conv_backend == "both")
            throw Error("--conv-backend both: only kelvin bench takes both; train takes kelvin or "
                        "cudnn");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kelvin: error: %s\n", e.what());
        return 2;
    }
    const std::string& trace_path = instruments.trace;
    const std::string& profile_json = instruments.profile_json;
    const bool profile = instruments.profile;
    const std::string& conv_backend_name = instruments.conv_backend;

    // --trace FILE on train, bench and sweep: a Chrome trace of every op and kernel.
    if (!trace_path.empty()) {
        // Checked now: the trace is written at exit, after the work it records.
        if (!std::ofstream(trace_path)) {
            std::fprintf(stderr, "kelvin: error: --trace: cannot write %s\n", trace_path.c_str());
            return 2;
        }
        trace::start(trace_path);
    }
    // Profiled steps: bench's after its warm-up, train's after the first (allocations).
    std::optional<profile::Session> profile_session;
    struct TraceWriter {
        std::optional<profile::Session>& profile;
        ~TraceWriter() {
            const std::vector<trace::Event> events = trace::stop();
            try {
                if (profile) profile->report(events);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "kelvin: error: --profile: %s\n", e.what());
            }
        }
    } trace_writer{profile_session};
    try {
        if (profile || !profile_json.empty())
            profile_session.emplace(parse_device(*bench ? bench_device : train_config.device),
                                    *bench ? bench_warmup : 1, profile_json);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kelvin: error: %s\n", e.what());
        return 2;
    }

    // Ctrl-C, SIGTERM and Slurm's SIGUSR2 stop training at the next step boundary with a
    // checkpoint (engine/interruption.h); exit status 128 + the signal.
    std::optional<InterruptionHandlers> interruption;
    try {
        if (*train || *sweep || *demo) interruption.emplace();
        if (*train) {
            experiments::TrainOptions options;
            options.show_progress = experiments::ProgressBar::stderr_is_terminal();
            if (!resume_dir.empty()) {
                // Otherwise, e.g. `--resume DIR -T 10 --epochs 50`, would silently run with
                // the old T and epochs.
                std::string given;
                for (const CLI::Option* o : run_settings)
                    if (o->count() > 0) given += (given.empty() ? "" : ", ") + o->get_name();
                if (!given.empty())
                    throw Error("--resume " + resume_dir + " continues the run with the settings of " +
                                (std::filesystem::path(resume_dir) / "config.json").string() +
                                "; drop " + given + " (or start a new run with another --out)");
                train_config = experiments::load_run_config(resume_dir);
                train_config.out = resume_dir;
                options.resume = true;
            }
            // Bad diagnose options are found now, not after the training they follow.
            if (diagnose_after) experiments::validate_diagnose_options(train_diagnose);
            set_conv_backend(conv_backend_name, parse_device(train_config.device));
            auto metrics = experiments::train(train_config, options);
            if (metrics.value("status", "") == "interrupted") return exit_code_for(stop_signal());
            std::printf("%s: %s, test_acc %.4f, logits_norm %.3f -> %s\n", train_config.out.c_str(),
                        metrics.value("status", "?").c_str(),
                        metrics.contains("final") ? metrics["final"].value("test_acc", 0.0) : 0.0,
                        metrics.contains("final") ? metrics["final"].value("logits_norm", 0.0) : 0.0,
                        (std::filesystem::path(train_config.out) / "metrics.json").c_str());
            if (metrics.value("status", "") != "complete") return 3;
            if (diagnose_after) {
                train_diagnose.show_progress = true;
                auto d = experiments::diagnose(train_config.out, train_diagnose);
                std::printf("%s: rank(logits) %lld, rank(softmax) %lld, kappa %.3f -> %s\n",
                            train_config.out.c_str(), d["rank"]["logits"].get<long long>(),
                            d["rank"]["softmax"].get<long long>(), d["kappa"].get<double>(),
                            (std::filesystem::path(train_config.out) / "diagnostics.json").c_str());
            }
            return 0;
        }
        if (*diagnose) {
            if (!from_checkpoint.empty()) {
                experiments::validate_diagnose_options(diagnose_options);  // before RUN_DIR exists
                experiments::prepare_run_from_checkpoint(from_checkpoint, checkpoint_config,
                                                         diagnose_dir);
            }
            diagnose_options.show_progress = true;
            auto d = experiments::diagnose(diagnose_dir, diagnose_options);
            std::printf("%s: rank(logits) %lld, rank(softmax) %lld, kappa %.3f -> %s\n",
                        diagnose_dir.c_str(), d["rank"]["logits"].get<long long>(),
                        d["rank"]["softmax"].get<long long>(), d["kappa"].get<double>(),
                        (std::filesystem::path(diagnose_dir) / "diagnostics.json").c_str());
            return 0;
        }
        if (*run_one) {
            const experiments::RunOutcome outcome = experiments::run_one(
                worker_dir, worker_index, experiments::ProgressBar::stderr_is_terminal());
            if (outcome == experiments::RunOutcome::failed) return 1;
            if (outcome != experiments::RunOutcome::interrupted) return 0;
            // The checkpoint is written and the run's lock released: Slurm may now cancel
            // this task and start it again.
            const int signal = stop_signal();
            if (slurm_options.requeue) experiments::requeue_this_task();
            return exit_code_for(signal);
        }
        if (*sweep_status) return experiments::print_sweep_status(status_dir) ? 0 : 1;
        if (*sweep) {
            if (sweep_config_path.empty())
                throw Error("sweep: --config is required (or: kelvin sweep run-one DIR --index I, "
                            "kelvin sweep status DIR)");
            for (const CLI::Option* o : submit_options)
                if (o->count() > 0 && !slurm_options.slurm && o->get_name() != "--slurm")
                    throw Error(o->get_name() + " is a setting of --slurm, which is not given");
            experiments::SweepConfig config = experiments::load_sweep_config(sweep_config_path);
            if (slurm_options.slurm) {
                experiments::settings::validate(slurm_options, experiments::slurm_settings());
                experiments::validate_slurm_options(slurm_options);
                const auto runs = experiments::prepare_sweep_dir(config, sweep_out);
                experiments::submit_sweep(slurm_options, sweep_out, static_cast<int64_t>(runs.size()));
                return 0;
            }
            experiments::SweepOptions options;
            options.show_progress = experiments::ProgressBar::stderr_is_terminal();
            options.resume_command = "kelvin sweep --config " + sweep_config_path + " --out " + sweep_out;
            const experiments::SweepResult result = experiments::run_sweep(config, sweep_out, options);
            if (result.stopped_by != 0) return exit_code_for(result.stopped_by);
            if (!result.held_elsewhere.empty())
                std::fprintf(stderr,
                             "%zu runs are being trained by other processes (named above); they "
                             "join the summary when they finish\n",
                             result.held_elsewhere.size());
            std::printf("%s\n%s\n", (std::filesystem::path(sweep_out) / "summary.md").c_str(),
                        (std::filesystem::path(sweep_out) / "report.html").c_str());
            return 0;
        }
        if (*report) {
            experiments::publish_summary(report_dir, false);
            std::printf("%s\n", experiments::write_report(report_dir).c_str());
            return 0;
        }
        if (*demo) {
            const int code = experiments::run_demo(demo_out, parse_device(demo_device));
            return stop_requested() ? exit_code_for(stop_signal()) : code;
        }
        if (*bench && bench_list) {
            for (const auto& w : experiments::bench_workloads()) std::printf("%s\n", w.c_str());
            return 0;
        }
        if (*bench && conv_backend_name == "both") {
            std::vector<experiments::BenchResult> results;
            for (const char* backend : {"kelvin", "cudnn"}) {
                set_conv_backend(backend, parse_device(bench_device));
                results.push_back(experiments::run_bench(workload, parse_device(bench_device),
                                                         bench_steps, bench_warmup));
            }
            std::printf("%s kelvin %.3f ms/step, cudnn %.3f ms/step (kelvin/cudnn %.2f)\n",
                        workload.c_str(), results[0].median_ms, results[1].median_ms,
                        results[0].median_ms / results[1].median_ms);
            return 0;
        }
        if (*bench) {
            set_conv_backend(conv_backend_name, parse_device(bench_device));
            auto r = experiments::run_bench(workload, parse_device(bench_device), bench_steps,
                                            bench_warmup);
            // The CPU kernels' instruction set (kernels/cpu/cpu_isa.h) travels with the time.
            std::printf("%s %.3f %s cpu_isa=%s\n", r.workload.c_str(), r.median_ms,
                        r.workload == "rank10000x100" ? "ms" : "ms/step",
                        cpu::isa_name(cpu::active_isa()));
            return 0;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kelvin: error: %s\n", e.what());
        return 2;
    }
    return 0;
}
