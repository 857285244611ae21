#include "experiments/bench.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <random>

#include "engine/ops.h"
#include "analysis/spectrum.h"
#include "engine/trace.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/train_step.h"
#include "models/registry.h"

namespace kelvin::experiments {

namespace {

struct Workload {
    std::string model;
    models::ModelOptions options;
    int64_t batch;
};

std::map<std::string, Workload> workload_table() {
    std::map<std::string, Workload> table;
    models::ModelOptions mlp;
    mlp.depth = 6;
    mlp.width = 1024;
    mlp.in_channels = 1;
    mlp.in_height = 28;
    mlp.in_width = 28;
    mlp.num_classes = 10;
    table["mlp6x1024_b128"] = {"mlp", mlp, 128};
    // The convolutional and transformer workloads: batch 32 of 3x32x32 inputs, 10 classes.
    models::ModelOptions image;
    image.in_channels = 3;
    image.in_height = 32;
    image.in_width = 32;
    image.num_classes = 10;
    table["vgg11bn_b32_32px"] = {"vgg11bn", image, 32};
    table["resnet18_b32_32px"] = {"resnet18", image, 32};
    table["vit6x192_b32_32px"] = {"vit", image, 32};  // patch 4, width 192, depth 6, 3 heads
    table["resnet18_b128_32px"] = {"resnet18", image, 128};  // the GPU figure of the issue
    return table;
}

}  // namespace

// Not a training step: the numerical rank of a seeded 10,000 x 100 logits matrix (float64
// SVD, the diagnostics' path), beside numpy.linalg.svd in bench/peers/numpy_rank.py.
constexpr const char* kRankWorkload = "rank10000x100";

BenchResult run_rank_bench(Device device, int steps, int warmup) {
    std::mt19937_64 gen(0);
    std::normal_distribution<float> normal;
    std::vector<float> host(10000 * 100);
    for (float& v : host) v = normal(gen);
    Tensor matrix = Tensor::from_vector(host, {10000, 100}, device);
    std::vector<double> times;
    for (int i = 0; i < warmup + steps; ++i) {
        synchronize(device);
        auto start = std::chrono::steady_clock::now();
        RankReport r = rank_report(matrix, kRankGamma, false);
        synchronize(device);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              start).count();
        KELVIN_CHECK(r.rank == 100, "rank benchmark: a Gaussian matrix should have full rank");
        if (i >= warmup) times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    return {kRankWorkload, times[times.size() / 2], times.front(), steps};
}

std::vector<std::string> bench_workloads() {
    std::vector<std::string> names;
    for (auto& [name, w] : workload_table()) names.push_back(name);
    names.push_back(kRankWorkload);
    return names;
}

BenchResult run_bench(const std::string& name, Device device, int steps, int warmup) {
    // The median of `steps` timed steps: with none (or a negative warm-up eating them) there is
    // no median to read.
    KELVIN_CHECK(steps >= 1, "--steps must be at least 1, got " + std::to_string(steps));
    KELVIN_CHECK(warmup >= 0, "--warmup must be >= 0, got " + std::to_string(warmup));
    if (name == kRankWorkload) return run_rank_bench(device, steps, warmup);
    auto table = workload_table();
    auto it = table.find(name);
    if (it == table.end()) {
        std::string known;
        for (auto& [n, w] : table) known += (known.empty() ? "" : ", ") + n;
        throw Error("unknown workload '" + name + "': expected one of " + known);
    }
    const Workload& w = it->second;
    std::unique_ptr<models::Model> model = models::build_model(w.model, w.options);
    model->to(device);
    optim::SgdOptions sgd;
    sgd.lr = 0.01f;
    sgd.momentum = 0.9f;
    sgd.weight_decay = 5e-4f;
    optim::Sgd optimizer(model->parameters(), sgd);

    std::mt19937_64 gen(0);
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<int32_t> label(0, w.options.num_classes - 1);
    std::vector<float> x(w.batch * w.options.in_channels * w.options.in_height * w.options.in_width);
    std::vector<int32_t> y(w.batch);
    for (float& v : x) v = normal(gen);
    for (int32_t& v : y) v = label(gen);
    Tensor images = Tensor::from_vector(
        x, {w.batch, w.options.in_channels, w.options.in_height, w.options.in_width}, device);
    Tensor labels = Tensor::from_vector(y, {w.batch}, device);

    std::vector<double> times;
    for (int i = 0; i < warmup + steps; ++i) {
        synchronize(device);
        auto start = std::chrono::steady_clock::now();
        trace::Scope step_scope("train_step", "step", device);
        optim::train_step([&](const Tensor& x) { return model->forward(x); }, optimizer, images,
                          labels, 10.0f, false);
        synchronize(device);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              start).count();
        if (i >= warmup) times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    BenchResult result;
    result.workload = name;
    result.steps = steps;
    result.median_ms = times[times.size() / 2];
    result.min_ms = times.front();
    return result;
}

}  // namespace kelvin::experiments
