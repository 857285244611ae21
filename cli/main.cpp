// The kelvin command-line tool: parses the command line, sets up the instruments a command
// asked for (a trace, the roofline profile), and runs the one command given (cli/commands.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "engine/distributed/communicator.h"
#include "engine/interruption.h"
#include "engine/paths.h"
#include "engine/profile.h"
#include "engine/runtime_settings.h"
#include "engine/trace.h"

using namespace kelvin;

namespace {

// An unknown or missing command, said as such (CLI11 says "A subcommand is required"): the exit
// status, or nothing when argv names a command (or starts with an option such as --help).
std::optional<int> refuse_unknown_command(CLI::App& app, int argc, char** argv) {
    if (argc >= 2 && argv[1][0] == '-') return std::nullopt;
    std::string names;
    bool known = false;
    for (const CLI::App* cmd : app.get_subcommands({})) {
        names += (names.empty() ? "" : ", ") + cmd->get_name();
        known = known || (argc >= 2 && cmd->get_name() == argv[1]);
    }
    if (known) return std::nullopt;
    std::fprintf(stderr, "kelvin: error: %s; the commands are %s (see kelvin --help)\n",
                 argc < 2 ? "a command is required"
                          : ("unknown command '" + printable(argv[1]) + "'").c_str(),
                 names.c_str());
    return 2;
}

// Parses argv; the exit status when the process should end here (help, version, a bad option).
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
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
    return std::nullopt;
}

// --trace and --profile(-json) of train, bench and sweep. The trace (and the roofline table made
// from it) is written when this ends, after the work it records; each rank of a data-parallel
// run writes its own (FILE.rankR beside rank 0's FILE); rank 0 alone prints the table.
class Instruments {
   public:
    // Throws kelvin::Error on a setting that breaks its rule or a trace file that cannot be
    // written. Profiled steps: bench's after its warm-up, train's after the first (allocations).
    void start(const experiments::InstrumentOptions& options, bool training,
               const std::string& device, int profile_after_steps) {
        experiments::settings::validate(options, experiments::instrument_settings());
        if (training && options.conv_backend == "both")
            throw Error("--conv-backend both: only kelvin bench takes both; train takes kelvin "
                        "or cudnn");
        const std::string trace_path = distributed::per_rank_path(options.trace);
        if (!trace_path.empty()) {
            // Checked now: the trace is written at exit.
            if (!std::ofstream(trace_path)) throw Error("--trace: cannot write " + trace_path);
            trace::start(trace_path);
        }
        // One table on the console, rank 0's: the ranks run the same steps, and mpirun would
        // interleave N tables; every rank's own is in its --profile-json file.
        if (options.profile || !options.profile_json.empty())
            profile_.emplace(parse_device(device), profile_after_steps,
                             distributed::per_rank_path(options.profile_json),
                             distributed::launched_rank() == 0);
    }
    ~Instruments() {
        const std::vector<trace::Event> events = trace::stop();
        try {
            if (profile_) profile_->report(events);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "kelvin: error: --profile: %s\n", e.what());
        }
    }

   private:
    std::optional<profile::Session> profile_;
};

// MPI ends with main (MPI_Finalize) where a data-parallel launch started it.
struct WorldStopper {
    ~WorldStopper() { distributed::stop_world(); }
};

}  // namespace

int main(int argc, char** argv) {
    kelvin::prefer_passive_openmp_waits(argv);  // see engine/runtime_settings.h
    flush_subnormals_to_zero();  // before any thread exists; see engine/runtime_settings.h
    CLI::App app{"kelvin: train networks under a softmax temperature and measure what T does to "
                 "their representations"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "kelvin 0.1");
    cli::TrainCommand train;
    cli::DiagnoseCommand diagnose;
    cli::SweepCommand sweep;
    cli::ReportCommand report;
    cli::DemoCommand demo;
    cli::BenchCommand bench;
    train.add(app);
    diagnose.add(app);
    sweep.add(app);
    report.add(app);
    demo.add(app);
    bench.add(app);
    // Traces, the roofline profile and the conv backend (experiments/settings_tables.h); sweep
    // takes only --trace.
    experiments::InstrumentOptions instruments;
    for (CLI::App* cmd : {train.app, bench.app})
        cli::add_settings(*cmd, experiments::instrument_settings(), instruments);
    cli::add_settings(*sweep.app, experiments::instrument_settings(), instruments, {"trace"});

    if (std::optional<int> code = refuse_unknown_command(app, argc, argv)) return *code;
    if (std::optional<int> code = parse(app, argc, argv)) return *code;
    Instruments running;
    try {
        const bool benching = bench.app->parsed();
        running.start(instruments, train.app->parsed(), benching ? bench.device : train.config.device,
                      benching ? bench.warmup : 1);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kelvin: error: %s\n", e.what());
        return 2;
    }
    WorldStopper world_stopper;
    // Ctrl-C, SIGTERM and Slurm's SIGUSR2 stop training at the next step boundary with a
    // checkpoint (engine/interruption.h); exit status 128 + the signal.
    std::optional<InterruptionHandlers> interruption;
    try {
        if (*train.app || *sweep.app || *demo.app) interruption.emplace();
        if (*train.app) return train.run(instruments);
        if (*diagnose.app) return diagnose.run();
        if (*sweep.app) return sweep.run();
        if (*report.app) return report.run();
        if (*demo.app) return demo.run();
        if (*bench.app) return bench.run(instruments);
    } catch (const std::exception& e) {
        // Names the rank, and ends every rank, in a data-parallel run.
        distributed::report_failure(e.what());
        return 2;
    }
    return 0;
}
