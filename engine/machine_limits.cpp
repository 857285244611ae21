#include "engine/machine_limits.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <vector>

#include "engine/bench_clock.h"
#include "kernels/cuda_runtime.h"
#include "kernels/gemm.h"

namespace kelvin {

namespace {

// fp32 non-tensor-core peak and memory bandwidth, from NVIDIA's datasheets (H200: 66.9 TFLOP/s
// is 16,896 cores x 2 x 1.98 GHz). Matched by substring, most specific first.
struct Datasheet {
    const char* name_part;
    const char* label;
    double gflops, gbps;
};
constexpr Datasheet kDatasheets[] = {
    {"H200", "NVIDIA H200 SXM (datasheet)", 66900.0, 4800.0},
    {"H100 PCIe", "NVIDIA H100 PCIe (datasheet)", 51200.0, 2000.0},
    {"H100", "NVIDIA H100 SXM (datasheet)", 66900.0, 3350.0},
    {"A100", "NVIDIA A100 SXM 80GB (datasheet)", 19500.0, 2039.0},
};

// On the clock the profile's kernels are timed with (engine/bench_clock.h), so that a kernel's
// fraction of the limit compares like with like.
double best_seconds(int repeats, const std::function<void()>& fn) {
    fn();  // warm-up: page faults, thread start
    double best = 1e30;
    for (int i = 0; i < repeats; ++i) {
        const double start = bench_clock_ms();
        fn();
        best = std::min(best, (bench_clock_ms() - start) * 1e-3);
    }
    return best;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

// Per clock too: on process CPU time, two threads' rates are per core-second (bench_clock.h).
std::string machine_label() {
    return cpu_model() + ", " + std::to_string(omp_get_max_threads()) + " threads" +
           (bench_clock_is_cpu() ? ", process CPU time" : "");
}
// With the probe's version: entries probed by an earlier way of measuring are measured again.
std::string cache_key() {
    constexpr int kProbeVersion = 2;  // 2: one parallel region per copy timing (copy_gbps)
    return machine_label() + ", probe " + std::to_string(kProbeVersion);
}

bool read_cached(trace::Limits& limits) {
    std::ifstream in(machine_limits_cache_path());
    if (!in) return false;
    try {
        const nlohmann::json cache = nlohmann::json::parse(in);
        const nlohmann::json& entry = cache.at(cache_key());
        limits.device = entry.at("label").get<std::string>();
        limits.gflops = entry.at("gflop_per_s").get<double>();
        limits.gbps = entry.at("gb_per_s").get<double>();
        limits.caches.clear();
        for (const nlohmann::json& level : entry.at("caches"))  // older caches lack it: probe
            limits.caches.push_back({level.at("name").get<std::string>(),
                                     level.at("bytes").get<double>(),
                                     level.at("gb_per_s").get<double>()});
        return limits.gflops > 0 && limits.gbps > 0;
    } catch (const std::exception&) {
        return false;  // unreadable or another machine's: measure again
    }
}

void write_cached(const trace::Limits& limits) {
    const std::string path = machine_limits_cache_path();
    nlohmann::json cache = nlohmann::json::object();
    try {
        std::ifstream in(path);
        if (in) cache = nlohmann::json::parse(in);
    } catch (const std::exception&) {
        cache = nlohmann::json::object();
    }
    nlohmann::json caches = nlohmann::json::array();
    for (const trace::CacheRoof& level : limits.caches)
        caches.push_back({{"name", level.name}, {"bytes", level.bytes}, {"gb_per_s", level.gbps}});
    cache[cache_key()] = {{"label", limits.device}, {"gflop_per_s", limits.gflops},
                          {"gb_per_s", limits.gbps}, {"caches", caches}};
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    std::ofstream out(path);
    if (out) out << cache.dump(2) << "\n";
    else std::fprintf(stderr, "kelvin: cannot write the machine-limits cache %s\n", path.c_str());
}

// Bytes per second of copies that move `total_bytes` (half read, half written), split over the
// OpenMP threads, repeated until a timing lasts a few milliseconds; the best of ten timings.
// The repeats run inside one parallel region, each thread copying its own chunks every time
// (static schedule, no barrier between repeats): a region per repeat measured the threads'
// wake-up instead, 25.6 GB/s for a 2-thread copy that fits the L2s, below main memory's 32.
double copy_gbps(size_t total_bytes) {
    const size_t floats = total_bytes / 2 / sizeof(float);
    std::vector<float> src(floats, 1.0f), dst(floats, 0.0f);
    const int repeats = int(std::max<size_t>(1, (size_t(64) << 20) / total_bytes));
    const int64_t chunks = 64, per = int64_t(floats) / chunks;
    const double seconds = best_seconds(10, [&] {
#pragma omp parallel
        for (int r = 0; r < repeats; ++r) {
#pragma omp for schedule(static) nowait
            for (int64_t i = 0; i < chunks; ++i)
                std::memcpy(dst.data() + i * per, src.data() + i * per, per * sizeof(float));
        }
    });
    return 2.0 * double(chunks * per) * sizeof(float) * repeats / seconds * 1e-9;
}

// The size in bytes of CPU 0's data or unified cache of `level`, as Linux reports it
// (/sys/devices/system/cpu/cpu0/cache), else the C library's figure (which a KVM guest was seen
// to misreport: 320 MiB of L3 where sysfs said 32 MiB); 0 when neither knows.
double cache_size(int level) {
    for (int index = 0; index < 8; ++index) {
        const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
        std::ifstream level_in(dir + "/level"), type_in(dir + "/type"), size_in(dir + "/size");
        int found = 0;
        std::string type, size;
        if (!(level_in >> found) || !(type_in >> type) || !(size_in >> size)) continue;
        if (found != level || type == "Instruction") continue;
        const double scale = size.back() == 'K' ? 1024.0 : size.back() == 'M' ? 1048576.0 : 1.0;
        return std::atof(size.c_str()) * scale;
    }
    const long bytes = sysconf(level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE);
    return bytes > 0 ? double(bytes) : 0.0;
}

// A copy roof per cache level (L2 per core, so times the threads; L3 shared): a copy moving half
// the level's capacity, so it stays there. A kernel moving up to the whole capacity gets that
// roof (engine/roofline.h). None where the sizes are unknown.
std::vector<trace::CacheRoof> probe_cache_roofs() {
    std::vector<trace::CacheRoof> roofs;
    const double l2 = cache_size(2) * omp_get_max_threads();
    const double l3 = cache_size(3);
    if (l2 > 0) roofs.push_back({"L2", l2, copy_gbps(size_t(l2 / 2))});
    if (l3 > l2) roofs.push_back({"L3", l3, copy_gbps(size_t(l3 / 2))});
    return roofs;
}

}  // namespace

std::string machine_limits_cache_path() {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    const std::string base = xdg && *xdg ? std::string(xdg)
                                         : std::string(home && *home ? home : ".") + "/.cache";
    return base + "/kelvin/machine-limits.json";
}

trace::Limits gpu_datasheet_limits(const std::string& name) {
    for (const Datasheet& d : kDatasheets)
        if (name.find(d.name_part) != std::string::npos) return {d.label, d.gflops, d.gbps, {}};
    return {name + " (no datasheet entry: fractions of the limit not computed)", 0.0, 0.0, {}};
}

trace::Limits probe_cpu_limits() {
    // The best rate over a few shapes: 1024^3, and the thinner products a training step runs
    // (a batch of 128 or 256 rows against 1024 x 1024 weights), where this CPU's sgemm was
    // measured fastest (2026-12-01: 190 GFLOP/s against 115 for 1024^3 on 2 cores).
    struct Shape {
        int64_t m, n, k;
        bool transpose_b;
    };
    double gemm_gflops = 0.0;
    for (const Shape& s : {Shape{1024, 1024, 1024, false}, Shape{128, 1024, 1024, true},
                           Shape{256, 1024, 1024, true}}) {
        std::vector<float> a(s.m * s.k, 1.0f), b(s.k * s.n, 0.5f), c(s.m * s.n, 0.0f);
        // Best of many: on a shared machine one run often loses its cores to other processes.
        const double seconds = best_seconds(10, [&] {
            cpu::gemm(false, s.transpose_b, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(),
                      s.transpose_b ? s.k : s.n, 0.0f, c.data(), s.n);
        });
        gemm_gflops = std::max(gemm_gflops, 2.0 * s.m * s.n * s.k / seconds * 1e-9);
    }
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    trace::Limits limits;
    limits.device = machine_label() + " (probed " + date + ": best sgemm, copies)";
    limits.gflops = gemm_gflops;
    limits.gbps = copy_gbps(size_t(128) << 20);  // 64 MiB each way: main memory
    limits.caches = probe_cache_roofs();
    // Data that fit a level fit every larger one and main memory too, so a level's roof is at
    // least theirs (2 threads on a Zen 4 measured 101 GB/s for copies within their L2s, 148 in
    // the L3: memcpy's large copies take another path).
    double floor = limits.gbps;
    for (size_t i = limits.caches.size(); i-- > 0;) {
        limits.caches[i].gbps = std::max(limits.caches[i].gbps, floor);
        floor = limits.caches[i].gbps;
    }
    return limits;
}

trace::Limits machine_limits(Device device) {
    if (device == Device::CUDA) {
#if KELVIN_CUDA
        return gpu_datasheet_limits(cuda::device_name());
#else
        return gpu_datasheet_limits("no CUDA backend");
#endif
    }
    trace::Limits limits;
    if (read_cached(limits)) return limits;
    std::fprintf(stderr, "kelvin: measuring this CPU's sgemm and copy limits (cached in %s)\n",
                 machine_limits_cache_path().c_str());
    limits = probe_cpu_limits();
    write_cached(limits);
    return limits;
}

}  // namespace kelvin
