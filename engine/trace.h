// Profiling as a Chrome trace (the JSON trace-event format; opens in Perfetto or
// chrome://tracing). When tracing is on, every kernel call (through KELVIN_DISPATCH), every op's
// forward (KELVIN_TRACE_OP), every autograd node's backward and every optimizer step becomes one
// "complete" event with its phase (forward, backward, optimizer, eval) in the category.
// CUDA kernels are timed with CUDA events and shown on their own track ("cuda stream"), so a
// user sees both the host time spent launching and the device time spent running.
// When tracing is off, each scope costs one predictable branch.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "engine/device.h"

namespace kelvin::trace {

bool enabled();
// Starts collecting; events are written to `path` by stop() (or at exit, if still running).
void start(const std::string& path);
void stop();  // writes the file; synchronises the GPU first so every CUDA event has completed

// The phase named in each event's category; set by the training loop and autograd.
const char* phase();
class PhaseScope {
public:
    explicit PhaseScope(const char* phase);
    ~PhaseScope();

private:
    const char* previous_;
};

// One event from construction to destruction. `kind` is "op", "kernel", "step", ...
class Scope {
public:
    Scope(const char* name, const char* kind, Device device = Device::CPU) {
        if (enabled()) begin(name, kind, device);
    }
    ~Scope() {
        if (active_) end();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    void begin(const char* name, const char* kind, Device device);
    void end();
    bool active_ = false;
    const char* name_ = nullptr;
    const char* kind_ = nullptr;
    const char* phase_ = nullptr;
    Device device_ = Device::CPU;
    std::chrono::steady_clock::time_point start_;
    void* cuda_start_ = nullptr;  // cudaEvent_t when device_ is CUDA
};

}  // namespace kelvin::trace

#define KELVIN_TRACE_CONCAT_INNER(a, b) a##b
#define KELVIN_TRACE_CONCAT(a, b) KELVIN_TRACE_CONCAT_INNER(a, b)
// Marks the rest of the enclosing block as one op event; on a CUDA device it also gets a span on
// the trace's cuda stream track.
#define KELVIN_TRACE_OP(name, device) \
    ::kelvin::trace::Scope KELVIN_TRACE_CONCAT(kelvin_trace_op_, __LINE__)(name, "op", device)
