// `kelvin train` and `kelvin diagnose`: one run directory each.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/options.h"
#include "engine/conv_backend.h"
#include "engine/distributed/communicator.h"
#include "engine/interruption.h"
#include "experiments/progress.h"
#include "experiments/run_files.h"

namespace kelvin::cli {

namespace fs = std::filesystem;

namespace {

void print_diagnostics_line(const std::string& run_dir, const experiments::Diagnostics& d) {
    std::printf("%s: rank(logits) %lld, rank(softmax) %lld, kappa %.3f -> %s\n", run_dir.c_str(),
                static_cast<long long>(d.rank.logits), static_cast<long long>(d.rank.softmax),
                d.kappa, (fs::path(run_dir) / experiments::kDiagnosticsFile).c_str());
}

}  // namespace

void TrainCommand::add(CLI::App& parent) {
    config.out = "runs/latest";
    app = parent.add_subcommand("train", "train a model and write RUN_DIR/{config,metrics}.json");
    // The settings of one training run, from the tables; --out among them, since a resumed run
    // takes it from its config.json too.
    add_settings(*app, experiments::training_settings(), config);
    add_settings(*app, experiments::data_settings(), config);
    add_settings(*app, experiments::model_settings(), config.model_options);
    run_settings = app->get_options();
    app->add_option("--resume", resume_dir,
                    "continue the run in this directory from its last checkpoint (the end of an "
                    "epoch, or the step a signal stopped it at)");
    app->add_flag("--diagnose", diagnose_after, "run kelvin diagnose on the run when it finishes");
    add_settings(*app, experiments::diagnose_settings(), diagnose);
}

int TrainCommand::run(const experiments::InstrumentOptions& instruments) {
    // One of several ranks under mpirun/srun: a data-parallel run (engine/distributed/).
    distributed::start_world();
    const bool root = distributed::world().rank() == 0;
    experiments::TrainOptions options;
    options.show_progress = root && experiments::ProgressBar::stderr_is_terminal();
    options.print_epochs = root;
    if (!resume_dir.empty()) {
        // Otherwise, e.g. `--resume DIR -T 10 --epochs 50`, would silently run with the old T
        // and epochs.
        std::string given;
        for (const CLI::Option* o : run_settings)
            if (o->count() > 0) given += (given.empty() ? "" : ", ") + o->get_name();
        if (!given.empty())
            throw Error("--resume " + resume_dir + " continues the run with the settings of " +
                        (fs::path(resume_dir) / "config.json").string() + "; drop " + given +
                        " (or start a new run with another --out)");
        config = experiments::load_run_config(resume_dir);
        config.out = resume_dir;
        options.resume = true;
    }
    // Bad diagnose options are found now, not after the training they follow.
    if (diagnose_after) experiments::check_diagnose_inputs(diagnose);
    set_conv_backend(instruments.conv_backend, parse_device(config.device));
    const experiments::Metrics metrics = experiments::train(config, options);
    const std::string& status = metrics.status;
    // A rank the signal did not reach stopped with the one it did: "not complete" (3).
    if (status == experiments::kStatusInterrupted) return stop_signal() ? exit_code_for(stop_signal()) : 3;
    if (!root) return status == experiments::kStatusComplete ? 0 : 3;
    const experiments::FinalRecord final_record =
        metrics.final.value_or(experiments::FinalRecord{});
    auto or_zero = [](double v) { return std::isnan(v) ? 0.0 : v; };
    std::printf("%s: %s, test_acc %.4f, logits_norm %.3f -> %s\n", config.out.c_str(),
                status.empty() ? "?" : status.c_str(), or_zero(final_record.test_acc),
                or_zero(final_record.logits_norm),
                (fs::path(config.out) / experiments::kMetricsFile).c_str());
    if (status != experiments::kStatusComplete) return 3;
    if (diagnose_after) {
        diagnose.show_progress = true;
        print_diagnostics_line(config.out, experiments::diagnose(config.out, diagnose));
    }
    return 0;
}

void DiagnoseCommand::add(CLI::App& parent) {
    app = parent.add_subcommand("diagnose",
                                "measure ranks, norms, probes and OOD detection of a run");
    app->add_option("RUN_DIR", run_dir, "a run directory written by kelvin train")->required();
    app->add_option("--device", options.device, "cpu | cuda (default: the run's)");
    // A checkpoint trained elsewhere (e.g. by PyTorch, saved with safetensors using kelvin's
    // parameter names): RUN_DIR is created from it and the training options given here.
    app->add_option("--from-checkpoint", from_checkpoint,
                    "diagnose this safetensors file (e.g. saved by PyTorch with kelvin's "
                    "parameter names); RUN_DIR is created with a config.json built from "
                    "--model, --dataset, --data-dir, -T and the model options");
    const std::string with = "with --from-checkpoint";
    add_settings(*app, experiments::training_settings(), checkpoint_config,
                 {"model", "temperature"}, with);
    add_settings(*app, experiments::data_settings(), checkpoint_config, {"dataset", "data_dir"},
                 with);
    add_settings(*app, experiments::model_settings(), checkpoint_config.model_options,
                 {"depth", "width", "base_width", "head_norm"}, with);
    add_settings(*app, experiments::diagnose_settings(), options);
}

int DiagnoseCommand::run() {
    if (!from_checkpoint.empty()) {
        experiments::validate_diagnose_options(options);  // before RUN_DIR exists
        experiments::prepare_run_from_checkpoint(from_checkpoint, checkpoint_config, run_dir);
    }
    options.show_progress = true;
    print_diagnostics_line(run_dir, experiments::diagnose(run_dir, options));
    return 0;
}

}  // namespace kelvin::cli
