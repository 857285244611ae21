#include "engine/roofline.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "engine/bench_clock.h"
#include "engine/device.h"

namespace kelvin::roofline {

Bound classify(double flops, double bytes, double footprint, double seconds,
               const trace::Limits& limits) {
    Bound b;
    if (seconds <= 0 || limits.gflops <= 0 || limits.gbps <= 0) return b;
    double gbps = limits.gbps;
    for (const trace::CacheRoof& level : limits.caches)
        if (footprint <= level.bytes && level.gbps > 0) {
            gbps = level.gbps;
            b.memory = level.name;
            break;
        }
    const double ridge = limits.gflops / gbps;  // FLOPs per byte where the roofs meet
    b.compute = bytes <= 0 || flops / bytes >= ridge;
    b.fraction = b.compute ? flops / seconds * 1e-9 / limits.gflops : bytes / seconds * 1e-9 / gbps;
    return b;
}

namespace {

bool on_track(const trace::Event& e, Device device) {
    return e.device == device && e.device_track == (device == Device::CUDA);
}

struct Step {
    double begin, end;  // on the timeline
    double timed_us;    // its time on the profile's clock
    uint64_t thread;
};

std::vector<Step> profiled_steps(const std::vector<trace::Event>& events, Device device,
                                 int skip_steps) {
    std::vector<Step> steps;
    for (const trace::Event& e : events)
        if (e.kind == "step" && e.name == "train_step" && on_track(e, device))
            steps.push_back({e.start_us, e.start_us + e.duration_us, e.timed_us(), e.thread});
    std::sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) { return a.begin < b.begin; });
    KELVIN_CHECK(int64_t(steps.size()) > skip_steps,
                 "profile: the trace has " + std::to_string(steps.size()) +
                     " training steps on " + device_name(device) + ", none left after skipping " +
                     std::to_string(skip_steps) + " warm-up steps (run more steps)");
    steps.erase(steps.begin(), steps.begin() + skip_steps);
    return steps;
}

bool inside(const trace::Event& e, const std::vector<Step>& steps) {
    for (const Step& s : steps)
        if (e.thread == s.thread && e.start_us >= s.begin && e.start_us < s.end) return true;
    return false;
}

}  // namespace

Table build(const std::vector<trace::Event>& events, Device device, int skip_steps,
            const trace::Limits& limits) {
    Table table;
    table.limits = limits;
    table.device = device;
    table.clock = device == Device::CUDA ? "CUDA events" : bench_clock_name();
    const std::vector<Step> steps = profiled_steps(events, device, skip_steps);
    table.steps = int(steps.size());
    for (const Step& s : steps) table.step_ms += s.timed_us / 1000.0;

    struct Sum {
        int64_t calls = 0;
        double us = 0.0, flops = 0.0, bytes = 0.0, footprint = 0.0, min_us = 0.0;
    };
    std::map<std::pair<std::string, std::string>, Sum> sums;
    for (const trace::Event& e : events) {
        if (e.kind != "kernel" || !on_track(e, device) || !inside(e, steps)) continue;
        Sum& s = sums[{e.name, e.has_cost ? e.cost.shape : "?"}];
        s.min_us = s.calls == 0 ? e.timed_us() : std::min(s.min_us, e.timed_us());
        ++s.calls;
        s.us += e.timed_us();
        s.flops += e.cost.flops;
        s.bytes += e.cost.bytes;
        s.footprint += e.cost.footprint;
    }
    for (const auto& [key, s] : sums) {
        Row r;
        r.kernel = key.first;
        r.shape = key.second;
        r.calls = s.calls;
        r.total_ms = s.us / 1000.0;
        r.mean_ms = r.total_ms / double(s.calls);
        r.min_ms = s.min_us / 1000.0;
        r.step_share = table.step_ms > 0 ? r.total_ms / table.step_ms : 0.0;
        r.flops = s.flops / double(s.calls);
        r.bytes = s.bytes / double(s.calls);
        const double seconds = s.us * 1e-6;
        r.gflop_per_s = seconds > 0 ? s.flops / seconds * 1e-9 : 0.0;
        r.gb_per_s = seconds > 0 ? s.bytes / seconds * 1e-9 : 0.0;
        r.best_gflop_per_s = s.min_us > 0 ? r.flops / (s.min_us * 1e-6) * 1e-9 : 0.0;
        r.footprint = s.footprint / double(s.calls);
        r.bound = classify(r.flops, r.bytes, r.footprint, seconds / double(s.calls), limits);  // per call
        table.kernel_ms += r.total_ms;
        table.rows.push_back(r);
    }
    std::sort(table.rows.begin(), table.rows.end(),
              [](const Row& a, const Row& b) { return a.total_ms > b.total_ms; });
    return table;
}

std::string format(const Table& t) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line,
                  "roofline on %s: %.1f GFLOP/s fp32 and %.1f GB/s; ridge %.2f FLOP/byte\n"
                  "%d steps profiled, %.3f ms per step, %.1f%% of it inside kernels; timed by %s\n",
                  t.limits.device.c_str(), t.limits.gflops, t.limits.gbps,
                  t.limits.gbps > 0 ? t.limits.gflops / t.limits.gbps : 0.0, t.steps,
                  t.steps ? t.step_ms / t.steps : 0.0,
                  t.step_ms > 0 ? 100.0 * t.kernel_ms / t.step_ms : 0.0, t.clock.c_str());
    out += line;
    for (const trace::CacheRoof& level : t.limits.caches) {
        std::snprintf(line, sizeof line,
                      "  memory roof of a kernel moving at most %.1f MiB: %s, %.1f GB/s\n",
                      level.bytes / double(1 << 20), level.name.c_str(), level.gbps);
        out += line;
    }
    std::snprintf(line, sizeof line, "%-30s %-36s %6s %10s %9s %9s %6s %9s %8s %-8s %6s\n",
                  "kernel", "shape", "calls", "total_ms", "mean_ms", "min_ms", "step%", "GFLOP/s",
                  "GB/s", "bound", "limit%");
    out += line;
    for (const Row& r : t.rows) {
        std::snprintf(line, sizeof line,
                      "%-30s %-36s %6lld %10.3f %9.4f %9.4f %6.2f %9.2f %8.2f %-8s %6.1f\n",
                      r.kernel.c_str(), r.shape.c_str(), (long long)r.calls, r.total_ms,
                      r.mean_ms, r.min_ms, 100.0 * r.step_share, r.gflop_per_s, r.gb_per_s,
                      r.bound.compute ? "compute" : ("mem/" + r.bound.memory).c_str(),
                      100.0 * r.bound.fraction);
        out += line;
    }
    return out;
}

nlohmann::json to_json(const Table& t) {
    nlohmann::json rows = nlohmann::json::array();
    for (const Row& r : t.rows)
        rows.push_back({{"kernel", r.kernel},
                        {"shape", r.shape},
                        {"calls", r.calls},
                        {"total_ms", r.total_ms},
                        {"mean_ms", r.mean_ms},
                        {"min_ms", r.min_ms},
                        {"step_share", r.step_share},
                        {"flops_per_call", r.flops},
                        {"bytes_per_call", r.bytes},
                        {"footprint_per_call", r.footprint},
                        {"gflop_per_s", r.gflop_per_s},
                        {"gb_per_s", r.gb_per_s},
                        {"best_gflop_per_s", r.best_gflop_per_s},
                        {"bound", r.bound.compute ? "compute" : "memory"},
                        {"memory_roof", r.bound.memory},
                        {"fraction_of_limit", r.bound.fraction}});
    nlohmann::json caches = nlohmann::json::array();
    for (const trace::CacheRoof& level : t.limits.caches)
        caches.push_back({{"name", level.name}, {"bytes", level.bytes}, {"gb_per_s", level.gbps}});
    return {{"device", device_name(t.device)},
            {"limits", {{"name", t.limits.device}, {"gflop_per_s", t.limits.gflops},
                        {"gb_per_s", t.limits.gbps}, {"caches", caches}}},
            {"clock", t.clock},
            {"steps", t.steps},
            {"step_ms_total", t.step_ms},
            {"kernel_ms_total", t.kernel_ms},
            {"rows", rows}};
}

}  // namespace kelvin::roofline
