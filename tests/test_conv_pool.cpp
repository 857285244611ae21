// conv2d, max_pool2d, avg_pool2d and global_avg_pool: forward and backward against direct
// loops, gradients against finite differences, and CUDA against the CPU (kernel level with
// NaN-poisoned outputs, and op level through autograd). A benchmark case, skipped unless asked
// for (--no-skip -tc="bench*"), prints the CPU conv's speed on ResNet/VGG shapes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "kernels/conv.h"
#include "kernels/cpu/conv_isa.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cuda_runtime.h"
#include "kernels/pool.h"
#include "tests/conv_reference.h"
#include "tests/device_array.h"
#include "tests/gradcheck.h"

using namespace kelvin;
using kelvin::testing::DeviceArray;
using namespace kelvin::testing::conv_cases;
using kelvin::testing::gradcheck;
using kelvin::testing::random_tensor;

namespace {

bool no_gpu() { return !kelvin::cuda_available(); }

Tensor param(const Shape& shape, uint64_t seed) {
    Tensor t = random_tensor(shape, seed);
    t.set_requires_grad(true);
    return t;
}

// Distinct values at least 0.05 apart in a random order: finite differences with eps 1e-2
// never change which element of a max-pool window is the largest.
Tensor separated_values(const Shape& shape, uint32_t seed) {
    std::vector<float> v(shape_numel(shape));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.05f * float(i) - 0.025f * float(v.size());
    std::shuffle(v.begin(), v.end(), std::mt19937(seed));
    Tensor t = Tensor::from_vector(v, shape);
    t.set_requires_grad(true);
    return t;
}

}  // namespace

// ---- conv2d on the CPU ----------------------------------------------------------------------------
// The kernel-level checks on every instruction set are in tests/test_conv_isa.cpp.

TEST_CASE("conv2d: output shape and argument errors") {
    Tensor x = random_tensor({2, 3, 7, 7}, 1);
    CHECK(ops::conv2d(x, random_tensor({4, 3, 3, 3}, 2), Tensor(), 2, 1).shape() ==
          Shape{2, 4, 4, 4});
    CHECK(ops::conv2d(x, random_tensor({4, 3, 1, 1}, 2), Tensor(), 2, 0).shape() ==
          Shape{2, 4, 4, 4});
    CHECK_THROWS_WITH_AS(ops::conv2d(x, random_tensor({4, 2, 3, 3}, 2), Tensor(), 1, 1),
                         doctest::Contains("expected weight [O, 3, kh, kw]"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(x, random_tensor({4, 3, 3, 3}, 2), random_tensor({5}, 3), 1, 1),
                         doctest::Contains("bias"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(x, random_tensor({4, 3, 9, 9}, 2), Tensor(), 1, 0),
                         doctest::Contains("larger than the padded input"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(x, random_tensor({4, 3, 3, 3}, 2), Tensor(), 0, 1),
                         doctest::Contains("stride must be >= 1"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(random_tensor({3, 7, 7}, 1), random_tensor({4, 3, 3, 3}, 2),
                                     Tensor(), 1, 1),
                         doctest::Contains("expected x [N, C, H, W]"), Error);
}

TEST_CASE("gradient: conv2d with stride, padding, odd sizes, with and without bias") {
    gradcheck([](const auto& in) { return ops::conv2d(in[0], in[1], in[2], 1, 1); },
              {param({2, 3, 5, 5}, 31), param({4, 3, 3, 3}, 32), param({4}, 33)},
              "conv2d 3x3 s1 p1");
    gradcheck([](const auto& in) { return ops::conv2d(in[0], in[1], Tensor(), 2, 1); },
              {param({2, 5, 7, 7}, 34), param({3, 5, 3, 3}, 35)}, "conv2d 3x3 s2 p1, no bias");
    gradcheck([](const auto& in) { return ops::conv2d(in[0], in[1], in[2], 2, 0); },
              {param({2, 4, 6, 5}, 36), param({3, 4, 1, 1}, 37), param({3}, 38)},
              "conv2d 1x1 s2 p0");
    gradcheck([](const auto& in) { return ops::conv2d(in[0], in[1], in[2], 1, 3); },
              {param({1, 2, 7, 7}, 39), param({2, 2, 7, 7}, 40), param({2}, 41)},
              "conv2d 7x7 s1 p3");
    gradcheck([](const auto& in) { return ops::conv2d(in[0], in[1], in[2], 2, 0); },
              {random_tensor({2, 3, 8, 8}, 42), param({2, 3, 3, 3}, 43), param({2}, 44)},
              "conv2d 3x3 s2 p0, constant input");
    gradcheck([](const auto& in) { return ops::conv2d(in[0], in[1], Tensor(), 1, 1); },
              {param({3, 2, 4, 4}, 45), random_tensor({3, 2, 3, 3}, 46)},
              "conv2d, constant weight");
    gradcheck([](const auto& in) { return ops::conv2d(in[0], in[1], in[2], 1, 0); },
              {random_tensor({2, 2, 4, 5}, 47), random_tensor({3, 2, 2, 3}, 48), param({3}, 49)},
              "conv2d, only the bias (2x3 kernel)");
}

// ---- pooling on the CPU -------------------------------------------------------------------------

namespace {
// Direct loops: max (first maximum, with its index) or mean with count_include_pad.
void pool_reference(const PoolShape& s, const std::vector<float>& x, bool max,
                    std::vector<float>& y, std::vector<int32_t>& argmax) {
    y.assign(s.planes * s.out_h * s.out_w, 0.0f);
    argmax.assign(y.size(), -1);
    for (int64_t p = 0; p < s.planes; ++p)
        for (int64_t oh = 0; oh < s.out_h; ++oh)
            for (int64_t ow = 0; ow < s.out_w; ++ow) {
                double total = 0.0;
                float best = -INFINITY;
                int32_t best_index = -1;
                for (int64_t i = 0; i < s.kernel; ++i)
                    for (int64_t j = 0; j < s.kernel; ++j) {
                        const int64_t ih = oh * s.stride - s.padding + i;
                        const int64_t iw = ow * s.stride - s.padding + j;
                        if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                        const float v = x[(p * s.in_h + ih) * s.in_w + iw];
                        total += v;
                        if (best_index < 0 || v > best) {
                            best = v;
                            best_index = int32_t(ih * s.in_w + iw);
                        }
                    }
                const int64_t o = (p * s.out_h + oh) * s.out_w + ow;
                y[o] = max ? best : float(total / double(s.kernel * s.kernel));
                argmax[o] = best_index;
            }
}

struct PoolCase {
    int64_t n, c, h, w, kernel, stride, padding;
};
// Overlapping windows (3/2), padding, odd maps, windows that do not tile the map.
const std::vector<PoolCase> kPoolCases = {
    {2, 3, 8, 8, 2, 2, 0}, {1, 2, 7, 9, 2, 2, 0}, {2, 5, 7, 7, 3, 2, 1}, {1, 2, 9, 6, 3, 1, 1},
    {3, 4, 7, 7, 2, 2, 1}, {1, 3, 5, 5, 5, 1, 2}, {2, 2, 32, 32, 3, 2, 1},
};

PoolShape pool_shape_of(const PoolCase& k) {
    PoolShape s;
    s.planes = k.n * k.c;
    s.in_h = k.h;
    s.in_w = k.w;
    s.kernel = k.kernel;
    s.stride = k.stride;
    s.padding = k.padding;
    return with_output_size(s);
}

std::string label(const PoolCase& k) {
    return "x[" + std::to_string(k.n) + "," + std::to_string(k.c) + "," + std::to_string(k.h) +
           "," + std::to_string(k.w) + "] k" + std::to_string(k.kernel) + " s" +
           std::to_string(k.stride) + " p" + std::to_string(k.padding);
}
}  // namespace

TEST_CASE("max_pool2d and avg_pool2d: CPU forward matches direct loops") {
    uint32_t seed = 200;
    for (const PoolCase& k : kPoolCases) {
        const PoolShape s = pool_shape_of(k);
        const std::vector<float> x = random_floats(k.n * k.c * k.h * k.w, ++seed);
        std::vector<float> want_max, want_avg;
        std::vector<int32_t> want_index, unused;
        pool_reference(s, x, true, want_max, want_index);
        pool_reference(s, x, false, want_avg, unused);

        Tensor xt = Tensor::from_vector(x, {k.n, k.c, k.h, k.w});
        check_close(ops::max_pool2d(xt, int(k.kernel), int(k.stride), int(k.padding)).to_vector(),
                    want_max, "max_pool2d " + label(k), 0.0);
        check_close(ops::avg_pool2d(xt, int(k.kernel), int(k.stride), int(k.padding)).to_vector(),
                    want_avg, "avg_pool2d " + label(k), 1e-6);
        std::vector<float> y(want_max.size());
        std::vector<int32_t> index(want_max.size());
        cpu::max_pool2d_forward(x.data(), y.data(), index.data(), s);
        CHECK_MESSAGE(index == want_index, "argmax " << label(k));
    }
}

TEST_CASE("max_pool2d: ties go to the first maximum, padding never wins") {
    // A plane of equal values: every window's gradient goes to its first (top-left) element.
    Tensor x = Tensor::full({1, 1, 4, 4}, -3.0f);
    x.set_requires_grad(true);
    Tensor y = ops::max_pool2d(x, 2, 2, 0);
    ops::sum(y).backward();
    const std::vector<float> want = {1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
    CHECK(x.grad().to_vector() == want);
    // Negative values with padding 1: padded zeros must not be taken as the maximum.
    Tensor negative = Tensor::full({1, 1, 3, 3}, -2.0f);
    CHECK(ops::max_pool2d(negative, 3, 2, 1).to_vector() == std::vector<float>(4, -2.0f));
    CHECK_THROWS_WITH_AS(ops::max_pool2d(negative, 2, 2, 2), doctest::Contains("more than half"),
                         Error);
}

TEST_CASE("avg_pool2d: padding counts as zeros (count_include_pad)") {
    Tensor x = Tensor::full({1, 1, 2, 2}, 1.0f);
    // 3x3 windows with padding 1 and stride 1: each covers the 4 ones and 5 zeros.
    const std::vector<float> y = ops::avg_pool2d(x, 3, 1, 1).to_vector();
    CHECK(y.size() == 4);
    for (float v : y) CHECK(v == doctest::Approx(4.0f / 9.0f));
}

TEST_CASE("gradient: max_pool2d, avg_pool2d, global_avg_pool") {
    for (const PoolCase& k : kPoolCases) {
        if (k.h * k.w > 100) continue;  // finite differences cost two passes per element
        const int kernel = int(k.kernel), stride = int(k.stride), padding = int(k.padding);
        gradcheck([=](const auto& in) { return ops::max_pool2d(in[0], kernel, stride, padding); },
                  {separated_values({k.n, k.c, k.h, k.w}, 300)}, "max_pool2d " + label(k));
        gradcheck([=](const auto& in) { return ops::avg_pool2d(in[0], kernel, stride, padding); },
                  {param({k.n, k.c, k.h, k.w}, 301)}, "avg_pool2d " + label(k));
    }
    gradcheck([](const auto& in) { return ops::global_avg_pool(in[0]); }, {param({2, 3, 5, 7}, 302)},
              "global_avg_pool");
    Tensor x = random_tensor({2, 3, 4, 5}, 303);
    const std::vector<float> v = x.to_vector(), y = ops::global_avg_pool(x).to_vector();
    REQUIRE(y.size() == 6);
    for (int p = 0; p < 6; ++p)
        CHECK(y[p] == doctest::Approx(std::accumulate(v.begin() + p * 20, v.begin() + (p + 1) * 20,
                                                      0.0) / 20.0));
}

// ---- CUDA against the CPU -------------------------------------------------------------------------

#if KELVIN_CUDA
namespace {

// Larger shapes on top of kConvCases: ResNet-like layers where the CUDA kernel uses several
// tiles, split-K for the weight gradient, and partial tiles at every edge.
std::vector<ConvCase> cuda_conv_cases() {
    std::vector<ConvCase> cases = kConvCases;
    cases.push_back({4, 64, 16, 16, 128, 3, 3, 2, 1, true});
    cases.push_back({4, 64, 16, 16, 128, 1, 1, 2, 0, false});
    cases.push_back({3, 130, 9, 9, 67, 3, 3, 1, 1, true});
    cases.push_back({8, 256, 4, 4, 200, 3, 3, 1, 1, true});
    cases.push_back({2, 3, 33, 31, 65, 7, 7, 2, 3, true});
    return cases;
}

}  // namespace
#endif

TEST_CASE("conv2d: CUDA kernels match the CPU (outputs poisoned with NaN)" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    uint32_t seed = 500;
    for (const ConvCase& k : cuda_conv_cases()) {
        const ConvShape s = shape_of(k);
        const std::vector<float> x = random_floats(k.n * k.c * k.h * k.w, ++seed);
        const std::vector<float> w = random_floats(k.o * k.c * k.kh * k.kw, ++seed);
        const std::vector<float> b = k.bias ? random_floats(k.o, ++seed) : std::vector<float>();
        const std::vector<float> dy = random_floats(k.n * k.o * s.out_h * s.out_w, ++seed);

        std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(k.o);
        cpu::conv2d_forward(x.data(), w.data(), k.bias ? b.data() : nullptr, y.data(), s);
        cpu::conv2d_backward_data(dy.data(), w.data(), dx.data(), s);
        cpu::conv2d_backward_weight(x.data(), dy.data(), dw.data(), s);
        cpu::conv2d_backward_bias(dy.data(), db.data(), s);

        DeviceArray<float> x_d(x), w_d(w), dy_d(dy);
        DeviceArray<float> b_d(k.bias ? b : std::vector<float>(1));
        auto y_d = DeviceArray<float>::poisoned(y.size());
        auto dx_d = DeviceArray<float>::poisoned(dx.size());
        auto dw_d = DeviceArray<float>::poisoned(dw.size());
        auto db_d = DeviceArray<float>::poisoned(db.size());
        cuda::conv2d_forward(x_d.get(), w_d.get(), k.bias ? b_d.get() : nullptr, y_d.get(), s);
        cuda::conv2d_backward_data(dy_d.get(), w_d.get(), dx_d.get(), s);
        cuda::conv2d_backward_weight(x_d.get(), dy_d.get(), dw_d.get(), s);
        cuda::conv2d_backward_bias(dy_d.get(), db_d.get(), s);
        check_close(y_d.to_host(), y, "cuda forward " + label(k));
        check_close(dx_d.to_host(), dx, "cuda backward data " + label(k));
        check_close(dw_d.to_host(), dw, "cuda backward weight " + label(k));
        check_close(db_d.to_host(), db, "cuda backward bias " + label(k));
    }
#endif
}

TEST_CASE("pooling: CUDA kernels match the CPU (outputs poisoned with NaN)" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    uint32_t seed = 600;
    std::vector<PoolCase> cases = kPoolCases;
    cases.push_back({32, 64, 32, 32, 2, 2, 0});
    cases.push_back({16, 64, 8, 8, 3, 2, 1});
    for (const PoolCase& k : cases) {
        const PoolShape s = pool_shape_of(k);
        const int64_t in_size = k.n * k.c * k.h * k.w, out_size = s.planes * s.out_h * s.out_w;
        std::vector<float> x = random_floats(in_size, ++seed);
        // Exact ties in some windows: both devices must pick the same (first) element.
        for (int64_t i = 0; i + 1 < in_size; i += 7) x[i + 1] = x[i];
        const std::vector<float> dy = random_floats(out_size, ++seed);

        std::vector<float> y_max(out_size), y_avg(out_size), dx_max(in_size), dx_avg(in_size);
        std::vector<int32_t> argmax(out_size);
        cpu::max_pool2d_forward(x.data(), y_max.data(), argmax.data(), s);
        cpu::max_pool2d_backward(dy.data(), argmax.data(), dx_max.data(), s);
        cpu::avg_pool2d_forward(x.data(), y_avg.data(), s);
        cpu::avg_pool2d_backward(dy.data(), dx_avg.data(), s);

        DeviceArray<float> x_d(x), dy_d(dy);
        auto y_max_d = DeviceArray<float>::poisoned(out_size);
        auto y_avg_d = DeviceArray<float>::poisoned(out_size);
        auto argmax_d = DeviceArray<int32_t>::poisoned(out_size);
        auto dx_max_d = DeviceArray<float>::poisoned(in_size);
        auto dx_avg_d = DeviceArray<float>::poisoned(in_size);
        cuda::max_pool2d_forward(x_d.get(), y_max_d.get(), argmax_d.get(), s);
        cuda::max_pool2d_backward(dy_d.get(), argmax_d.get(), dx_max_d.get(), s);
        cuda::avg_pool2d_forward(x_d.get(), y_avg_d.get(), s);
        cuda::avg_pool2d_backward(dy_d.get(), dx_avg_d.get(), s);
        check_close(y_max_d.to_host(), y_max, "cuda max_pool2d " + label(k), 0.0);
        CHECK_MESSAGE(argmax_d.to_host() == argmax, "cuda argmax " << label(k));
        check_close(dx_max_d.to_host(), dx_max, "cuda max_pool2d backward " + label(k), 0.0);
        check_close(y_avg_d.to_host(), y_avg, "cuda avg_pool2d " + label(k));
        check_close(dx_avg_d.to_host(), dx_avg, "cuda avg_pool2d backward " + label(k), 0.0);

        const int64_t plane_size = k.h * k.w;
        std::vector<float> g(s.planes), dg(in_size);
        cpu::global_avg_pool_forward(x.data(), g.data(), s.planes, plane_size);
        cpu::global_avg_pool_backward(dy.data(), dg.data(), s.planes, plane_size);
        auto g_d = DeviceArray<float>::poisoned(s.planes);
        auto dg_d = DeviceArray<float>::poisoned(in_size);
        cuda::global_avg_pool_forward(x_d.get(), g_d.get(), s.planes, plane_size);
        cuda::global_avg_pool_backward(dy_d.get(), dg_d.get(), s.planes, plane_size);
        check_close(g_d.to_host(), g, "cuda global_avg_pool " + label(k));
        check_close(dg_d.to_host(), dg, "cuda global_avg_pool backward " + label(k), 0.0);
    }
#endif
}

TEST_CASE("conv and pooling ops: CUDA matches the CPU through autograd" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    // conv -> max pool -> conv -> avg pool -> global pool, on both devices; compare the output
    // and the gradients of every parameter and of the input.
    auto run = [](Device device, std::vector<std::vector<float>>& results) {
        Tensor x = random_tensor({3, 5, 15, 15}, 700).to(device);
        Tensor w1 = random_tensor({7, 5, 3, 3}, 701).to(device);
        Tensor b1 = random_tensor({7}, 702).to(device);
        Tensor w2 = random_tensor({6, 7, 1, 1}, 703).to(device);
        for (Tensor* t : {&x, &w1, &b1, &w2}) t->set_requires_grad(true);
        Tensor h = ops::conv2d(x, w1, b1, 2, 1);       // [3, 7, 8, 8]
        h = ops::max_pool2d(h, 3, 2, 1);               // [3, 7, 4, 4]
        h = ops::conv2d(h, w2, Tensor(), 1, 0);        // [3, 6, 4, 4]
        h = ops::avg_pool2d(h, 2, 1, 1);               // [3, 6, 5, 5]
        Tensor y = ops::global_avg_pool(h);            // [3, 6]
        Tensor projection = random_tensor(y.shape(), 704).to(device);
        ops::sum(ops::mul(y, projection)).backward();
        results = {y.to_vector(), x.grad().to_vector(), w1.grad().to_vector(),
                   b1.grad().to_vector(), w2.grad().to_vector()};
    };
    std::vector<std::vector<float>> cpu_results, cuda_results;
    run(Device::CPU, cpu_results);
    run(Device::CUDA, cuda_results);
    const char* names[] = {"output", "dx", "dw1", "db1", "dw2"};
    for (size_t i = 0; i < cpu_results.size(); ++i)
        check_close(cuda_results[i], cpu_results[i], std::string("op-level ") + names[i]);
#endif
}
