// The clock kelvin's measurements time with: the conv benchmarks (bench/), the ceilings
// benchmark and the durations of `--profile` / `--trace` kernel events (engine/trace.h).
// KELVIN_BENCH_CLOCK=cpu times by the process's CPU time instead of the wall clock: on a machine
// shared with other work, a single-threaded run (OMP_NUM_THREADS=1) then measures the work's own
// cost, not the moments it waited for a core. With several threads it counts core-seconds (the
// threads' times added), so rates read per core. One variable for all of them, so that the
// profile and the benchmarks it is checked against (scripts/check-roofline.sh) share a clock.
#pragma once

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>

namespace kelvin {

inline bool bench_clock_is_cpu() {
    static const bool cpu = [] {
        const char* value = std::getenv("KELVIN_BENCH_CLOCK");
        return value && std::string(value) == "cpu";
    }();
    return cpu;
}

inline const char* bench_clock_name() {
    return bench_clock_is_cpu() ? "process CPU time (KELVIN_BENCH_CLOCK=cpu)" : "wall clock";
}

// Milliseconds on the chosen clock, from an arbitrary origin.
inline double bench_clock_ms() {
    if (!bench_clock_is_cpu())
        return std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

}  // namespace kelvin
