// The limits a roofline compares kernels with: fp32 FLOP/s and memory bytes/s of the machine a
// run uses. The CPU's are measured (an sgemm and copies, timed by a short probe) and cached per
// CPU model, thread count and clock in $XDG_CACHE_HOME/kelvin/machine-limits.json (default
// ~/.cache/kelvin/); delete that file to measure again. A GPU's come from a small table of
// datasheet figures, looked up by the device's name.
#pragma once

#include <string>

#include "engine/device.h"
#include "engine/trace.h"

namespace kelvin {

// The limits of `device`; prints one line to stderr when the CPU is probed.
trace::Limits machine_limits(Device device);

// The datasheet figures for a GPU named `name` (cudaDeviceProp::name); gflops and gbps are 0
// when the table has no entry for it (the table's name then says so).
trace::Limits gpu_datasheet_limits(const std::string& name);

// Measures this CPU now: the best of ten sgemms (kelvin's CPU gemm, all OpenMP threads) on each of
// three shapes (1024^3, 128 and 256 rows x 1024 x 1024), and of ten copies (bytes read plus
// bytes written) of 64 MiB each way for main memory and of half of each cache level's size for
// its roof. Timed on the profile's clock (engine/bench_clock.h).
trace::Limits probe_cpu_limits();

std::string machine_limits_cache_path();

}  // namespace kelvin
