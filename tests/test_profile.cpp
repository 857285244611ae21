// The roofline profile (engine/kernel_cost.h, engine/roofline.h, engine/profile.h): the cost
// model's figures, the table's arithmetic on a fixed trace (no timings involved), and
// `bench --profile` end to end.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/kernel_cost.h"
#include "engine/machine_limits.h"
#include "engine/roofline.h"
#include "tests/cli_runner.h"

using kelvin::Device;
using kelvin::testing::run_kelvin;
using kelvin::testing::TempDir;
using json = nlohmann::json;
namespace roofline = kelvin::roofline;
namespace trace = kelvin::trace;

namespace {

// 100 GFLOP/s and 10 GB/s: the ridge is at 10 FLOP per byte.
const trace::Limits kLimits{"test machine", 100.0, 10.0, {}};

trace::Event event(const char* name, const char* kind, double start_us, double duration_us,
                   uint64_t thread = 0) {
    trace::Event e;
    e.name = name;
    e.kind = kind;
    e.phase = "forward";
    e.start_us = start_us;
    e.duration_us = duration_us;
    e.thread = thread;
    return e;
}

trace::Event kernel(const char* name, const char* shape, double flops, double bytes,
                    double start_us, double duration_us, uint64_t thread = 0) {
    trace::Event e = event(name, "kernel", start_us, duration_us, thread);
    e.has_cost = true;
    e.cost = {flops, bytes, bytes, shape};
    return e;
}

const roofline::Row& row(const roofline::Table& t, const std::string& kernel,
                         const std::string& shape) {
    for (const roofline::Row& r : t.rows)
        if (r.kernel == kernel && r.shape == shape) return r;
    FAIL("no row " << kernel << " " << shape);
    return t.rows.front();
}

}  // namespace

TEST_CASE("kernel cost: conv, gemm and elementwise FLOPs and bytes follow from the shapes") {
    kelvin::ConvShape s;
    s.batch = 32;
    s.in_channels = 64;
    s.in_h = s.in_w = 32;
    s.out_channels = 128;
    s.kernel_h = s.kernel_w = 3;
    s.stride = 2;
    s.padding = 1;
    s = kelvin::with_output_size(s);  // 16 x 16 outputs
    const double macs = 32.0 * 128 * 16 * 16 * 64 * 9;
    const float bias[1] = {0.0f};
    const kelvin::KernelCost forward =
        kelvin::kernel_cost::conv2d_forward(nullptr, nullptr, bias, nullptr, s);
    CHECK(forward.flops == 2 * macs);
    CHECK(forward.bytes == 4.0 * (32.0 * 64 * 32 * 32 + 128.0 * 64 * 9 + 32.0 * 128 * 16 * 16 + 128));
    CHECK(forward.shape == "32x64x32x32 k3x3 s2 p1 -> 128");
    CHECK(kelvin::kernel_cost::conv2d_backward_data(nullptr, nullptr, nullptr, s).flops == 2 * macs);
    CHECK(kelvin::kernel_cost::conv2d_backward_weight(nullptr, nullptr, nullptr, s).flops ==
          2 * macs);
    const kelvin::KernelCost g = kelvin::kernel_cost::gemm(false, true, 128, 1024, 784, 1.0f,
                                                           nullptr, 784, nullptr, 784, 0.0f,
                                                           nullptr, 1024);
    CHECK(g.flops == 2.0 * 128 * 1024 * 784);
    CHECK(g.bytes == 4.0 * (128.0 * 784 + 784.0 * 1024 + 128.0 * 1024));  // beta 0: C not read
    CHECK(g.shape == "m=128 n=1024 k=784 Bt");
    const kelvin::KernelCost a = kelvin::kernel_cost::add(nullptr, nullptr, nullptr, 1000);
    CHECK(a.flops == 1000);
    CHECK(a.bytes == 12000);
    CHECK(a.footprint == a.bytes);
    // In place: SGD with momentum reads parameter, gradient and buffer and writes parameter and
    // buffer (5 words moved) but touches 3 distinct words per parameter.
    const kelvin::KernelCost sgd =
        kelvin::kernel_cost::sgd_step(nullptr, nullptr, nullptr, 1000, 0.1f, 0.9f, 5e-4f, false, false);
    CHECK(sgd.bytes == 4.0 * 5 * 1000);
    CHECK(sgd.footprint == 4.0 * 3 * 1000);
    const kelvin::KernelCost y = kelvin::kernel_cost::axpy(2.0f, nullptr, nullptr, 1000);
    CHECK(y.bytes == 4.0 * 3 * 1000);
    CHECK(y.footprint == 4.0 * 2 * 1000);
}

TEST_CASE("roofline: the bound is the roof under the kernel's arithmetic intensity") {
    // 1 GFLOP over 10 MB (100 FLOP/byte) in 20 ms: compute-bound at 50 of 100 GFLOP/s.
    roofline::Bound b = roofline::classify(1e9, 1e7, 1e7, 0.02, kLimits);
    CHECK(b.compute);
    CHECK(b.fraction == doctest::Approx(0.5));
    // 1 MFLOP over 100 MB (0.01 FLOP/byte) in 20 ms: memory-bound at 5 of 10 GB/s.
    b = roofline::classify(1e6, 1e8, 1e8, 0.02, kLimits);
    CHECK(!b.compute);
    CHECK(b.fraction == doctest::Approx(0.5));
    // A pure copy (no FLOPs) is memory-bound; a kernel that moves nothing is compute-bound.
    CHECK(!roofline::classify(0, 1e8, 1e8, 0.02, kLimits).compute);
    CHECK(roofline::classify(1e6, 0, 0, 0.02, kLimits).compute);
    // Unknown limits: no fraction.
    CHECK(roofline::classify(1e9, 1e7, 1e7, 0.02, {"unknown", 0, 0, {}}).fraction == 0.0);
}

TEST_CASE("roofline: a kernel's memory roof is the smallest cache level its footprint fits in") {
    trace::Limits limits = kLimits;  // DRAM 10 GB/s
    limits.caches = {{"L2", 1e6, 40.0}, {"L3", 3e7, 20.0}};
    // 1 MB in 50 us (20 GB/s): half of the L2's 40 GB/s, twice main memory's.
    roofline::Bound b = roofline::classify(1e4, 1e6, 1e6, 50e-6, limits);
    CHECK(!b.compute);
    CHECK(b.memory == "L2");
    CHECK(b.fraction == doctest::Approx(0.5));
    // 16 MB in 1 ms (16 GB/s): past the L2, within the L3, at 0.8 of its 20 GB/s.
    b = roofline::classify(1.6e5, 1.6e7, 1.6e7, 1e-3, limits);
    CHECK(b.memory == "L3");
    CHECK(b.fraction == doctest::Approx(0.8));
    // 100 MB fits in no cache: main memory's roof.
    b = roofline::classify(1e6, 1e8, 1e8, 0.02, limits);
    CHECK(b.memory == "DRAM");
    CHECK(b.fraction == doctest::Approx(0.5));
    // The ridge moves with the roof: 4 FLOP/byte is past the L2's ridge (100 / 40 = 2.5), so
    // compute-bound there, and short of main memory's (100 / 10 = 10), so memory-bound there.
    CHECK(roofline::classify(4e6, 1e6, 1e6, 1e-3, limits).compute);
    CHECK(!roofline::classify(4e8, 1e8, 1e8, 1.0, limits).compute);
    // The level is chosen by the footprint, not by the bytes moved: an in-place update moving
    // 47 MB over 28 MB of distinct data is held to the 30 MB L3, not to main memory.
    b = roofline::classify(1e7, 4.7e7, 2.8e7, 4.7e-3, limits);
    CHECK(b.memory == "L3");
    CHECK(b.fraction == doctest::Approx(0.5));  // 10 GB/s of the L3's 20
}

TEST_CASE("roofline: on the CPU clock, rates use the CPU time and steps keep their wall span") {
    // A step of 10 ms on the wall clock that spent 4 ms of CPU time (the rest waiting for a core
    // on a loaded machine); its kernel starts 8 ms in, past the CPU time's span.
    std::vector<trace::Event> events;
    trace::Event step = event("train_step", "step", 0, 10000);
    step.cpu_us = 4000;
    events.push_back(step);
    trace::Event k = kernel("conv2d_forward", "A", 1e8, 1e6, 8000, 1500);
    k.cpu_us = 1000;
    events.push_back(k);
    const roofline::Table t = roofline::build(events, Device::CPU, 0, kLimits);
    REQUIRE(t.rows.size() == 1);
    CHECK(t.step_ms == doctest::Approx(4.0));
    CHECK(t.rows[0].total_ms == doctest::Approx(1.0));
    CHECK(t.rows[0].step_share == doctest::Approx(0.25));
    CHECK(t.rows[0].gflop_per_s == doctest::Approx(100.0));
}

TEST_CASE("roofline: a fixed trace gives the table's calls, times, shares and rates") {
    std::vector<trace::Event> events;
    // Three steps of 10 ms on thread 0; the first is the warm-up, skipped.
    events.push_back(event("train_step", "step", 0, 10000));
    events.push_back(event("train_step", "step", 20000, 10000));
    events.push_back(event("train_step", "step", 40000, 10000));
    events.push_back(kernel("conv2d_forward", "A", 1e9, 1e7, 100, 5000));  // warm-up: skipped
    // Two conv calls of shape A (2 ms and 6 ms), one of shape B, two adds.
    events.push_back(kernel("conv2d_forward", "A", 1e8, 1e6, 21000, 2000));
    events.push_back(kernel("conv2d_forward", "A", 1e8, 1e6, 41000, 6000));
    events.push_back(kernel("conv2d_forward", "B", 4e7, 1e6, 24000, 1000));
    events.push_back(kernel("add", "n=1000", 1e3, 1.2e4, 29000, 1));
    events.push_back(kernel("add", "n=1000", 1e3, 1.2e4, 49000, 3));
    // Not counted: between steps, on another thread (a loader), an op, a sgd "step".
    events.push_back(kernel("add", "n=1000", 1e3, 1.2e4, 35000, 100));
    events.push_back(kernel("random_crop_flip", "x", 0, 1e6, 22000, 500, 1));
    events.push_back(event("conv2d", "op", 21000, 9000));
    events.push_back(event("sgd", "step", 48000, 1000));
    // A CUDA-track kernel is not part of a CPU table.
    trace::Event gpu = kernel("gemm", "m=1", 1, 1, 21000, 1);
    gpu.device = Device::CUDA;
    gpu.device_track = true;
    events.push_back(gpu);

    const roofline::Table t = roofline::build(events, Device::CPU, 1, kLimits);
    CHECK(t.steps == 2);
    CHECK(t.step_ms == doctest::Approx(20.0));
    REQUIRE(t.rows.size() == 3);
    CHECK(t.kernel_ms == doctest::Approx(9.004));
    const roofline::Row& a = row(t, "conv2d_forward", "A");
    CHECK(t.rows[0].shape == "A");  // longest first
    CHECK(a.calls == 2);
    CHECK(a.total_ms == doctest::Approx(8.0));
    CHECK(a.mean_ms == doctest::Approx(4.0));
    CHECK(a.min_ms == doctest::Approx(2.0));
    CHECK(a.best_gflop_per_s == doctest::Approx(1e8 / 2e-3 * 1e-9));  // 50 GFLOP/s
    CHECK(a.step_share == doctest::Approx(0.4));
    CHECK(a.flops == doctest::Approx(1e8));
    CHECK(a.gflop_per_s == doctest::Approx(2e8 / 8e-3 * 1e-9));  // 25 GFLOP/s
    CHECK(a.gb_per_s == doctest::Approx(2e6 / 8e-3 * 1e-9));     // 0.25 GB/s
    CHECK(a.bound.compute);                                       // 100 FLOP/byte > ridge 10
    CHECK(a.bound.fraction == doctest::Approx(0.25));
    const roofline::Row& add = row(t, "add", "n=1000");
    CHECK(add.calls == 2);
    CHECK(add.total_ms == doctest::Approx(0.004));
    CHECK(add.gb_per_s == doctest::Approx(2.4e4 / 4e-6 * 1e-9));  // 6 GB/s
    CHECK(!add.bound.compute);
    CHECK(add.bound.fraction == doctest::Approx(0.6));
    CHECK(row(t, "conv2d_forward", "B").step_share == doctest::Approx(0.05));

    const std::string text = roofline::format(t);
    CHECK(text.find("test machine: 100.0 GFLOP/s fp32 and 10.0 GB/s") != std::string::npos);
    CHECK(text.find("conv2d_forward") != std::string::npos);
    const json j = roofline::to_json(t);
    CHECK(j["rows"].size() == 3);
    CHECK(j["rows"][0]["fraction_of_limit"].get<double>() == doctest::Approx(0.25));

    // The CUDA table reads the cuda stream track only; there are no steps on it here.
    CHECK_THROWS_WITH(roofline::build(events, Device::CUDA, 0, kLimits),
                      doctest::Contains("0 training steps on cuda"));
    CHECK_THROWS_WITH(roofline::build(events, Device::CPU, 3, kLimits),
                      doctest::Contains("none left after skipping 3"));
}

TEST_CASE("machine limits: the H200 from its datasheet, an unknown GPU without a fraction") {
    const trace::Limits h200 = kelvin::gpu_datasheet_limits("NVIDIA H200");
    CHECK(h200.gflops == 66900.0);
    CHECK(h200.gbps == 4800.0);
    CHECK(kelvin::gpu_datasheet_limits("NVIDIA H100 80GB HBM3").gbps == 3350.0);
    const trace::Limits other = kelvin::gpu_datasheet_limits("Some GPU");
    CHECK(other.gflops == 0.0);
    CHECK(other.device.find("no datasheet entry") != std::string::npos);
}

TEST_CASE("bench --profile prints the roofline table, writes its JSON and the trace's args") {
    TempDir tmp("profile");
    const std::string table = tmp.str("roofline.json"), trace_path = tmp.str("trace.json");
    // A cache of our own so the test neither reads nor writes the user's.
    const std::string command = "XDG_CACHE_HOME=" + tmp.str("cache") + " " KELVIN_BINARY
                                " bench --workload mlp6x1024_b128 --steps 2 --warmup 1 --profile "
                                "--profile-json " + table + " --trace " + trace_path + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe);
    std::string out;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    REQUIRE_MESSAGE(pclose(pipe) == 0, out);
    CHECK_MESSAGE(out.find("measuring this CPU") != std::string::npos, out);
    CHECK(out.find("roofline on ") != std::string::npos);
    CHECK(out.find("2 steps profiled") != std::string::npos);
    CHECK(std::ifstream(tmp.str("cache") + "/kelvin/machine-limits.json").good());

    std::ifstream in(table);
    const json j = json::parse(in);
    CHECK(j["steps"] == 2);
    CHECK(j["limits"]["gflop_per_s"].get<double>() > 0);
    bool gemm = false;
    for (const json& row : j["rows"]) {
        CHECK(row["calls"].get<int>() % 2 == 0);  // each kernel of a step, twice
        if (row["kernel"] == "gemm" && row["shape"] == "m=128 n=1024 k=1024 Bt") {
            gemm = true;
            CHECK(row["flops_per_call"].get<double>() == 2.0 * 128 * 1024 * 1024);
        }
    }
    CHECK_MESSAGE(gemm, j.dump(1));
    std::ifstream trace_in(trace_path);
    const json tr = json::parse(trace_in);
    bool kernel_args = false;
    for (const json& e : tr["traceEvents"])
        if (e.value("cat", "").rfind("kernel,", 0) == 0 && e["args"].contains("flops"))
            kernel_args = e["args"].contains("fraction_of_limit") && e["args"].contains("shape");
    CHECK(kernel_args);
}
