#include "engine/trace.h"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "engine/roofline.h"
#include "kernels/cuda_runtime.h"

namespace kelvin::trace {

namespace {

// A CUDA span waiting for its events to complete; resolved into an Event by stop().
struct PendingDeviceEvent {
    Event event;  // start_us is where the launch began on the host, to place the device track
    void* start;
    void* end;
};

struct Tracer {
    std::atomic<bool> on{false};
    std::mutex mutex;
    std::string path;
    std::chrono::steady_clock::time_point origin;
    std::vector<Event> host;
    std::vector<PendingDeviceEvent> device;
    std::optional<Limits> limits;
};

Tracer& tracer() {
    static Tracer* t = new Tracer();  // never destroyed: scopes may end during static teardown
    return *t;
}

thread_local const char* g_phase = "forward";

double micros_since_origin(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::micro>(t - tracer().origin).count();
}

uint64_t thread_number() {
    static std::atomic<uint64_t> next{0};
    thread_local uint64_t mine = next++;
    return mine;
}

// Device times are relative to the first event; anchor them at its host launch time.
std::vector<Event> resolve_device_events(std::vector<PendingDeviceEvent>& pending) {
    std::vector<Event> out;
#if KELVIN_CUDA
    if (pending.empty()) return out;
    void* first = pending.front().start;
    const double anchor = pending.front().event.start_us;
    for (PendingDeviceEvent& p : pending) {
        Event e = std::move(p.event);
        e.start_us = anchor + cuda::event_elapsed_ms(first, p.start) * 1000.0;
        e.duration_us = cuda::event_elapsed_ms(p.start, p.end) * 1000.0;
        e.device_track = true;
        e.thread = 0;
        out.push_back(std::move(e));
    }
    for (PendingDeviceEvent& p : pending) {
        cuda::event_destroy(p.start);
        cuda::event_destroy(p.end);
    }
#endif
    pending.clear();
    return out;
}

nlohmann::json event_args(const Event& e, const Limits* limits) {
    nlohmann::json args = {{"phase", e.phase},
                           {"kind", e.device_track ? "cuda " + e.kind : e.kind}};
    if (!e.has_cost) return args;
    args["shape"] = e.cost.shape;
    args["flops"] = e.cost.flops;
    args["bytes"] = e.cost.bytes;
    if (e.cost.footprint != e.cost.bytes) args["footprint"] = e.cost.footprint;
    const double seconds = e.timed_us() * 1e-6;
    if (e.cpu_us >= 0) args["cpu_us"] = e.cpu_us;
    if (seconds > 0) {
        args["gflop_per_s"] = e.cost.flops / seconds * 1e-9;
        args["gb_per_s"] = e.cost.bytes / seconds * 1e-9;
    }
    if (limits && seconds > 0) {
        const roofline::Bound b =
            roofline::classify(e.cost.flops, e.cost.bytes, e.cost.footprint, seconds, *limits);
        args["bound"] = b.compute ? "compute" : "memory";
        if (!b.compute) args["memory_roof"] = b.memory;
        args["fraction_of_limit"] = b.fraction;
    }
    return args;
}

}  // namespace

bool enabled() { return tracer().on.load(std::memory_order_relaxed); }

void set_limits(const Limits& limits) {
    Tracer& t = tracer();
    std::lock_guard<std::mutex> lock(t.mutex);
    t.limits = limits;
}

void start(const std::string& path) {
    Tracer& t = tracer();
    std::lock_guard<std::mutex> lock(t.mutex);
    t.path = path;
    t.origin = std::chrono::steady_clock::now();
    t.host.clear();
    t.device.clear();
    t.on = true;
}

std::string chrome_trace_json(const std::vector<Event>& events, const Limits* limits) {
    using json = nlohmann::json;
    json out = json::array();
    out.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 0},
                   {"args", {{"name", "kelvin host"}}}});
    bool device_named = false;
    for (const Event& e : events) {
        if (e.device_track && !device_named) {
            out.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1},
                           {"args", {{"name", "cuda stream"}}}});
            device_named = true;
        }
        out.push_back({{"name", e.name},
                       {"cat", e.kind + "," + e.phase},
                       {"ph", "X"},
                       {"ts", e.start_us},
                       {"dur", e.duration_us},
                       {"pid", e.device_track ? 1 : 0},
                       {"tid", e.thread},
                       {"args", event_args(e, limits)}});
    }
    json doc = {{"traceEvents", out}, {"displayTimeUnit", "ms"}};
    return doc.dump();
}

std::vector<Event> stop() {
    Tracer& t = tracer();
    if (!t.on) return {};
    t.on = false;
    std::lock_guard<std::mutex> lock(t.mutex);
    std::vector<Event> events = std::move(t.host);
    std::vector<Event> on_device = resolve_device_events(t.device);
    events.insert(events.end(), on_device.begin(), on_device.end());
    t.host.clear();
    if (!t.path.empty()) {
        std::ofstream out(t.path);
        if (out.good())
            out << chrome_trace_json(events, t.limits ? &*t.limits : nullptr) << "\n";
        else
            std::fprintf(stderr, "kelvin: cannot write trace %s\n", t.path.c_str());
    }
    return events;
}

const char* phase() { return g_phase; }
PhaseScope::PhaseScope(const char* phase) : previous_(g_phase) {
    g_phase = phase;
    if (nvtx::attached()) {
        nvtx::push(phase, "phase");
        nvtx_range_ = true;
    }
}
PhaseScope::~PhaseScope() {
    g_phase = previous_;
    if (nvtx_range_) nvtx::pop();
}

void Scope::begin(const char* name, const char* kind, Device device) {
    active_ = true;
    name_ = name;
    kind_ = kind;
    phase_ = g_phase;
    device_ = device;
    start_ = std::chrono::steady_clock::now();
    if (bench_clock_is_cpu()) clock_start_ms_ = bench_clock_ms();
#if KELVIN_CUDA
    if (device == Device::CUDA) cuda_start_ = cuda::event_record();
#endif
}

void Scope::end() {
    const auto finish = std::chrono::steady_clock::now();
    const double cpu_ms = bench_clock_is_cpu() ? bench_clock_ms() - clock_start_ms_ : 0.0;
    Tracer& t = tracer();
#if KELVIN_CUDA
    void* cuda_end = device_ == Device::CUDA ? cuda::event_record() : nullptr;
#endif
    std::lock_guard<std::mutex> lock(t.mutex);
    if (!t.on) return;
    Event e;
    e.name = name_;
    e.kind = kind_;
    e.phase = phase_;
    e.device = device_;
    e.start_us = micros_since_origin(start_);
    e.duration_us = micros_since_origin(finish) - e.start_us;
    // With KELVIN_BENCH_CLOCK=cpu also the CPU time spent: a loaded machine's waits for a core
    // then stay out of the profile's rates (engine/bench_clock.h).
    if (bench_clock_is_cpu()) e.cpu_us = cpu_ms * 1000.0;
    e.thread = thread_number();
    e.has_cost = has_cost_;
    e.cost = cost_;
#if KELVIN_CUDA
    if (cuda_start_) t.device.push_back({e, cuda_start_, cuda_end});
#endif
    t.host.push_back(std::move(e));
}

}  // namespace kelvin::trace
