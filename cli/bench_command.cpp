// `kelvin bench`: the median time of a full training step of a named workload.
#include <cstdio>

#include "cli/commands.h"
#include "engine/conv_backend.h"
#include "experiments/bench.h"
#include "kernels/cpu/cpu_isa.h"

namespace kelvin::cli {

void BenchCommand::add(CLI::App& parent) {
    app = parent.add_subcommand("bench", "time a full training step of a named workload");
    app->add_option("--workload", workload, "a workload name (see --list)")->capture_default_str();
    app->add_option("--device", device, "cpu | cuda")->capture_default_str();
    app->add_option("--steps", steps, "timed steps")->capture_default_str();
    app->add_option("--warmup", warmup, "untimed steps first")->capture_default_str();
    app->add_flag("--list", list, "print the workload names and exit");
}

int BenchCommand::run(const experiments::InstrumentOptions& instruments) {
    if (list) {
        for (const auto& w : experiments::bench_workloads()) std::printf("%s\n", w.c_str());
        return 0;
    }
    const Device on = parse_device(device);
    if (instruments.conv_backend == "both") {
        std::vector<experiments::BenchResult> results;
        for (const char* backend : {"kelvin", "cudnn"}) {
            set_conv_backend(backend, on);
            results.push_back(experiments::run_bench(workload, on, steps, warmup));
        }
        std::printf("%s kelvin %.3f ms/step, cudnn %.3f ms/step (kelvin/cudnn %.2f)\n",
                    workload.c_str(), results[0].median_ms, results[1].median_ms,
                    results[0].median_ms / results[1].median_ms);
        return 0;
    }
    set_conv_backend(instruments.conv_backend, on);
    const experiments::BenchResult r = experiments::run_bench(workload, on, steps, warmup);
    // The CPU kernels' instruction set (kernels/cpu/cpu_isa.h) travels with the time.
    std::printf("%s %.3f %s cpu_isa=%s\n", r.workload.c_str(), r.median_ms,
                r.workload == "rank10000x100" ? "ms" : "ms/step", cpu::isa_name(cpu::active_isa()));
    return 0;
}

}  // namespace kelvin::cli
