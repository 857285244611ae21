// Profiling as a Chrome trace (the JSON trace-event format; opens in Perfetto or
// chrome://tracing). When tracing is on, every kernel call (through KELVIN_DISPATCH), every op's
// forward (KELVIN_TRACE_OP), every autograd node's backward and every optimizer step becomes one
// "complete" event with its phase (forward, backward, optimizer, eval) in the category.
// CUDA kernels are timed with CUDA events and shown on their own track ("cuda stream"), so a
// user sees both the host time spent launching and the device time spent running.
// Kernel events also carry the kernel's roofline cost (engine/kernel_cost.h) as args, and the
// collected events are handed back by stop() for the roofline table (engine/roofline.h).
// Every scope is also an NVTX range (engine/nvtx.h) when Nsight Systems is attached.
// When tracing is off and no NVTX tool is attached, each scope costs one predictable branch.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/bench_clock.h"
#include "engine/device.h"
#include "engine/kernel_cost.h"
#include "engine/nvtx.h"

namespace kelvin::trace {

// One finished event, as written to the trace file.
struct Event {
    std::string name;
    std::string kind;   // op, kernel, step
    std::string phase;  // forward, backward, optimizer, eval
    Device device = Device::CPU;  // where the work ran
    bool device_track = false;    // timed by CUDA events on the GPU (else host clock)
    double start_us = 0.0, duration_us = 0.0;  // on the timeline: the wall clock (or CUDA events)
    // The CPU time it spent, with KELVIN_BENCH_CLOCK=cpu (engine/bench_clock.h); negative when
    // not measured. The roofline divides by timed_us().
    double cpu_us = -1.0;
    double timed_us() const { return cpu_us >= 0 ? cpu_us : duration_us; }
    uint64_t thread = 0;  // host thread number; 0 on the device track
    bool has_cost = false;  // kernels: cost.flops and cost.bytes are the call's (shapes only)
    KernelCost cost;
};

// A cache level's copy bandwidth: a kernel that moves at most `bytes` can be served from it.
struct CacheRoof {
    std::string name;  // "L2", "L3"
    double bytes = 0.0, gbps = 0.0;
};

// The machine's limits, set by a profiling run so that kernel events in the trace file also
// carry the bound that applies and the fraction of it achieved (engine/roofline.h).
struct Limits {
    std::string device;  // e.g. "NVIDIA H200 (datasheet)"
    double gflops = 0.0, gbps = 0.0;  // gbps: main memory (a copy far larger than the caches)
    std::vector<CacheRoof> caches;    // smallest first; none: main memory's roof for every kernel
};
void set_limits(const Limits& limits);

bool enabled();
// Starts collecting; with a non-empty `path`, events are written there by stop().
void start(const std::string& path);
// Stops collecting, writes the file (if a path was given) and returns the events. Synchronises
// the GPU first so every CUDA event has completed.
std::vector<Event> stop();
// The trace-event JSON document of `events` (what stop() writes).
std::string chrome_trace_json(const std::vector<Event>& events, const Limits* limits);

// The phase named in each event's category; set by the training loop and autograd.
const char* phase();
class PhaseScope {
public:
    explicit PhaseScope(const char* phase);
    ~PhaseScope();

private:
    const char* previous_;
    bool nvtx_range_ = false;
};

// One event from construction to destruction. `kind` is "op", "kernel", "step", ...
class Scope {
public:
    Scope(const char* name, const char* kind, Device device = Device::CPU) {
        if (nvtx::attached()) {
            nvtx::push(name, kind);
            nvtx_range_ = true;
        }
        if (enabled()) begin(name, kind, device);
    }
    ~Scope() {
        if (active_) end();
        if (nvtx_range_) nvtx::pop();
    }
    bool active() const { return active_; }  // recording a trace event
    // A kernel's cost for this call (KELVIN_DISPATCH sets it while tracing).
    void set_cost(KernelCost cost) {
        cost_ = std::move(cost);
        has_cost_ = true;
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    void begin(const char* name, const char* kind, Device device);
    void end();
    bool active_ = false;
    bool nvtx_range_ = false;
    const char* name_ = nullptr;
    const char* kind_ = nullptr;
    const char* phase_ = nullptr;
    Device device_ = Device::CPU;
    std::chrono::steady_clock::time_point start_;  // places the event on the timeline
    double clock_start_ms_ = 0.0;  // times it: bench_clock_ms() (engine/bench_clock.h)
    void* cuda_start_ = nullptr;  // cudaEvent_t when device_ is CUDA
    bool has_cost_ = false;
    KernelCost cost_;
};

}  // namespace kelvin::trace

#define KELVIN_TRACE_CONCAT_INNER(a, b) a##b
#define KELVIN_TRACE_CONCAT(a, b) KELVIN_TRACE_CONCAT_INNER(a, b)
// Marks the rest of the enclosing block as one op event; on a CUDA device it also gets a span on
// the trace's cuda stream track.
#define KELVIN_TRACE_OP(name, device) \
    ::kelvin::trace::Scope KELVIN_TRACE_CONCAT(kelvin_trace_op_, __LINE__)(name, "op", device)
