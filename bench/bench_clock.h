// The clock of the conv benchmarks (kelvin_bench_conv, kelvin_bench_conv_sgemm).
// KELVIN_BENCH_CLOCK=cpu times by the process's CPU time instead of the wall clock: on a machine
// shared with other work, a single-threaded run (OMP_NUM_THREADS=1) then measures the kernel's
// own cost, not the moments it waited for a core.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>

namespace kelvin::bench {

inline bool use_cpu_clock() {
    static const bool cpu = [] {
        const char* value = std::getenv("KELVIN_BENCH_CLOCK");
        return value && std::string(value) == "cpu";
    }();
    return cpu;
}

inline double now_ms() {
    if (!use_cpu_clock())
        return std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now().time_since_epoch()).count();
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// The best of 5 timed calls after 2 untimed ones (caches, page faults, thread start-up).
inline double best_ms(const std::function<void()>& fn) {
    fn();
    fn();
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        const double start = now_ms();
        fn();
        best = std::min(best, now_ms() - start);
    }
    return best;
}

}  // namespace kelvin::bench
