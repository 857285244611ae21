#include "engine/trace.h"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "kernels/cuda_runtime.h"

namespace kelvin::trace {

namespace {

// Names are copied: a backward node's name dies with the graph, before the trace is written.
struct HostEvent {
    std::string name;
    const char* kind;
    const char* phase;
    double start_us, duration_us;
    uint64_t thread;
};

struct DeviceEvent {
    std::string name;
    const char* kind;  // op, kernel or step, as on the host track
    const char* phase;
    double host_start_us;  // where the launch began, to place the device track
    void* start;
    void* end;
};

struct Tracer {
    std::atomic<bool> on{false};
    std::mutex mutex;
    std::string path;
    std::chrono::steady_clock::time_point origin;
    std::vector<HostEvent> host;
    std::vector<DeviceEvent> device;
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

}  // namespace

bool enabled() { return tracer().on.load(std::memory_order_relaxed); }

void start(const std::string& path) {
    Tracer& t = tracer();
    std::lock_guard<std::mutex> lock(t.mutex);
    t.path = path;
    t.origin = std::chrono::steady_clock::now();
    t.host.clear();
    t.device.clear();
    t.on = true;
}

void stop() {
    Tracer& t = tracer();
    if (!t.on) return;
    t.on = false;
    std::lock_guard<std::mutex> lock(t.mutex);
    using json = nlohmann::json;
    json events = json::array();
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 0},
                      {"args", {{"name", "kelvin host"}}}});
    for (const HostEvent& e : t.host)
        events.push_back({{"name", e.name},
                          {"cat", std::string(e.kind) + "," + e.phase},
                          {"ph", "X"},
                          {"ts", e.start_us},
                          {"dur", e.duration_us},
                          {"pid", 0},
                          {"tid", e.thread},
                          {"args", {{"phase", e.phase}, {"kind", e.kind}}}});
#if KELVIN_CUDA
    if (!t.device.empty()) {
        events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1},
                          {"args", {{"name", "cuda stream"}}}});
        // Device times are relative to the first event; anchor them at its host launch time.
        void* first = t.device.front().start;
        const double anchor = t.device.front().host_start_us;
        for (const DeviceEvent& e : t.device) {
            const double offset = cuda::event_elapsed_ms(first, e.start) * 1000.0;
            const double duration = cuda::event_elapsed_ms(e.start, e.end) * 1000.0;
            events.push_back({{"name", e.name},
                              {"cat", std::string(e.kind) + "," + e.phase},
                              {"ph", "X"},
                              {"ts", anchor + offset},
                              {"dur", duration},
                              {"pid", 1},
                              {"tid", 0},
                              {"args", {{"phase", e.phase}, {"kind", std::string("cuda ") + e.kind}}}});
        }
        for (const DeviceEvent& e : t.device) {
            cuda::event_destroy(e.start);
            cuda::event_destroy(e.end);
        }
    }
#endif
    json doc = {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
    std::ofstream out(t.path);
    if (!out.good()) {
        std::fprintf(stderr, "kelvin: cannot write trace %s\n", t.path.c_str());
        return;
    }
    out << doc.dump() << "\n";
    t.host.clear();
    t.device.clear();
}

const char* phase() { return g_phase; }
PhaseScope::PhaseScope(const char* phase) : previous_(g_phase) { g_phase = phase; }
PhaseScope::~PhaseScope() { g_phase = previous_; }

void Scope::begin(const char* name, const char* kind, Device device) {
    active_ = true;
    name_ = name;
    kind_ = kind;
    phase_ = g_phase;
    device_ = device;
    start_ = std::chrono::steady_clock::now();
#if KELVIN_CUDA
    if (device == Device::CUDA) cuda_start_ = cuda::event_record();
#endif
}

void Scope::end() {
    const auto finish = std::chrono::steady_clock::now();
    Tracer& t = tracer();
#if KELVIN_CUDA
    void* cuda_end = device_ == Device::CUDA ? cuda::event_record() : nullptr;
#endif
    std::lock_guard<std::mutex> lock(t.mutex);
    if (!t.on) return;
    const double start_us = micros_since_origin(start_);
    t.host.push_back({name_, kind_, phase_, start_us, micros_since_origin(finish) - start_us,
                      thread_number()});
#if KELVIN_CUDA
    if (cuda_start_) t.device.push_back({name_, kind_, phase_, start_us, cuda_start_, cuda_end});
#endif
}

}  // namespace kelvin::trace
