// The timing loop of the conv benchmarks (kelvin_bench_conv, kelvin_bench_conv_sgemm), on the
// clock of engine/bench_clock.h (KELVIN_BENCH_CLOCK=cpu: process CPU time), which the profile's
// kernel times share.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/bench_clock.h"

namespace kelvin::bench {

// KELVIN_BENCH_COLD=1: before each timed call, write a buffer larger than the caches, so that
// the call reads its operands from main memory, as a kernel inside a training step often does
// (scripts/check-roofline.sh compares the two).
inline void evict_caches_if_cold() {
    static const bool cold = [] {
        const char* value = std::getenv("KELVIN_BENCH_COLD");
        return value && std::string(value) == "1";
    }();
    if (!cold) return;
    static std::vector<char> buffer(size_t(256) << 20);
    for (size_t i = 0; i < buffer.size(); i += 64) buffer[i] = char(i);
}

// The best of 5 timed calls after 2 untimed ones (caches, page faults, thread start-up).
inline double best_ms(const std::function<void()>& fn) {
    fn();
    fn();
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        evict_caches_if_cold();
        const double start = bench_clock_ms();
        fn();
        best = std::min(best, bench_clock_ms() - start);
    }
    return best;
}

}  // namespace kelvin::bench
