// The roofline table of a profiled run: one row per kernel and shape, with its calls, time,
// share of the training step, achieved GFLOP/s and GB/s, and how close it came to the machine's
// limit for the bound that applies. FLOPs and bytes come from the cost model
// (engine/kernel_cost.h), times from the trace (engine/trace.h): for CPU kernels the host's wall
// clock, or its CPU time with KELVIN_BENCH_CLOCK=cpu (engine/bench_clock.h); CUDA events for GPU
// kernels. The table names the clock. The limits come from engine/machine_limits.h.
//
// The memory roof of a kernel is that of the smallest cache level its data fit in (a cache-aware
// roofline: a 16 MB ReLU whose input the previous op just wrote runs from a 32 MB L3, faster than
// main memory allows), main memory's when they fit in none or the limits name no caches. Its
// data are its footprint, the distinct bytes it touches (engine/kernel_cost.h): an in-place SGD
// update moving 47 MB touches 28 MB, which a 32 MB L3 holds.
// A kernel is compute-bound when its arithmetic intensity (FLOPs per byte) is at least the ridge
// point of that roof (peak FLOP/s over its bytes/s); its fraction is then achieved FLOP/s over
// peak FLOP/s, otherwise achieved bytes/s over the roof's bytes/s.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/trace.h"

namespace kelvin::roofline {

struct Bound {
    bool compute = false;
    double fraction = 0.0;       // of the limit that applies
    std::string memory = "DRAM";  // the memory roof: a cache level's name, or DRAM
};
// One call's FLOPs and bytes moved in `seconds`, over `footprint` distinct bytes.
Bound classify(double flops, double bytes, double footprint, double seconds,
               const trace::Limits& limits);

struct Row {
    std::string kernel, shape;
    int64_t calls = 0;
    double total_ms = 0.0, mean_ms = 0.0;
    double min_ms = 0.0;      // the fastest call: what a best-of-N benchmark reports
    double step_share = 0.0;  // total_ms over the profiled steps' time
    double flops = 0.0, bytes = 0.0, footprint = 0.0;  // per call (engine/kernel_cost.h)
    double gflop_per_s = 0.0, gb_per_s = 0.0;  // over all calls (total work / total time)
    double best_gflop_per_s = 0.0;              // of the fastest call
    Bound bound;
};

struct Table {
    trace::Limits limits;
    Device device = Device::CPU;
    std::string clock;         // what timed the kernels
    int steps = 0;             // training steps profiled (after the skipped ones)
    double step_ms = 0.0;      // their total time
    double kernel_ms = 0.0;    // time inside kernels during them
    std::vector<Row> rows;     // by total time, longest first
};

// Kernel events of `device` (its host track on the CPU, the cuda stream track on a GPU) that
// lie inside the training steps ("train_step" events) after the first `skip_steps` of them,
// on the step's thread. Throws when no step is left to profile.
Table build(const std::vector<trace::Event>& events, Device device, int skip_steps,
            const trace::Limits& limits);

std::string format(const Table& table);  // the printed table, limits stated first
nlohmann::json to_json(const Table& table);

}  // namespace kelvin::roofline
