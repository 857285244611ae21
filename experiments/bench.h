// Named benchmark workloads: each is a full training step (forward, temperature cross-entropy,
// backward, optimizer update) on synthetic data of a fixed shape, timed after a warm-up.
// The PyTorch peers in bench/peers/ run the same workloads so the two can be compared in one run.
#pragma once

#include <string>
#include <vector>

#include "engine/device.h"

namespace kelvin::experiments {

struct BenchResult {
    std::string workload;
    double median_ms = 0.0;
    double min_ms = 0.0;
    int steps = 0;
};

std::vector<std::string> bench_workloads();
BenchResult run_bench(const std::string& workload, Device device, int steps, int warmup);

}  // namespace kelvin::experiments
