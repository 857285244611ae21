// Every CUDA kernel against its CPU reference (kernels/cpu), on random inputs of awkward sizes.
// CUDA outputs start as NaN, so an element a kernel forgets to write fails the comparison.
// Tolerance: |cuda - cpu| <= 1e-4 * max(1, |cpu|); integer outputs must match exactly.
// Only kernel-level APIs are used, so a failure here points at a kernel, not at the engine.
// Without a CUDA device (or without the CUDA backend) the test cases exist but are skipped.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/device.h"
#include "kernels/activation.h"
#include "kernels/cuda_runtime.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/optimizer.h"
#include "kernels/reduce.h"
#include "kernels/softmax_cross_entropy.h"
#include "tests/device_array.h"

namespace {
bool no_gpu() { return !kelvin::cuda_available(); }
using kelvin::testing::DeviceArray;
}  // namespace

#if KELVIN_CUDA
namespace {

using namespace kelvin;

// Element counts: empty, one, odd, just past a warp and a block, and past the grid-stride cap
// (2048 blocks x 256 threads) so that threads loop.
const std::vector<int64_t> kSizes = {0, 1, 7, 65, 1000, 4097, 1'000'003};

std::vector<float> random_floats(size_t n, uint32_t seed, float low = -2.0f, float high = 2.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

std::vector<int32_t> random_labels(size_t n, int32_t classes, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> dist(0, classes - 1);
    std::vector<int32_t> v(n);
    for (int32_t& x : v) x = dist(rng);
    return v;
}


// Checks the CUDA result against the CPU one and names the worst element when they differ.
void check_close(const std::vector<float>& cuda_result, const std::vector<float>& cpu_result,
                 const std::string& what, double tolerance = 1e-4) {
    REQUIRE_MESSAGE(cuda_result.size() == cpu_result.size(), what);
    double worst = 0.0;
    size_t worst_index = 0;
    for (size_t i = 0; i < cpu_result.size(); ++i) {
        double got = cuda_result[i], want = cpu_result[i];
        double error;
        if (std::isnan(got) || std::isnan(want))
            error = std::isnan(got) && std::isnan(want) ? 0.0 : INFINITY;
        else
            error = std::fabs(got - want) / std::fmax(1.0, std::fabs(want));
        if (error > worst || std::isinf(error)) {
            worst = error;
            worst_index = i;
            if (std::isinf(error)) break;
        }
    }
    if (worst > tolerance)
        FAIL_CHECK(what << ": element " << worst_index << " is " << cuda_result[worst_index]
                        << " on CUDA, " << cpu_result[worst_index] << " on the CPU (relative error "
                        << worst << " > " << tolerance << ")");
}

void check_equal(const std::vector<int32_t>& cuda_result, const std::vector<int32_t>& cpu_result,
                 const std::string& what) {
    REQUIRE_MESSAGE(cuda_result.size() == cpu_result.size(), what);
    for (size_t i = 0; i < cpu_result.size(); ++i)
        if (cuda_result[i] != cpu_result[i]) {
            FAIL_CHECK(what << ": element " << i << " is " << cuda_result[i] << " on CUDA, "
                            << cpu_result[i] << " on the CPU");
            return;
        }
}

std::string size_label(const char* name, int64_t n) {
    return std::string(name) + " n=" + std::to_string(n);
}
std::string shape_label(const char* name, int64_t rows, int64_t cols) {
    return std::string(name) + " " + std::to_string(rows) + "x" + std::to_string(cols);
}

// (rows, cols) shapes for row-wise kernels: single element, odd, wide, tall past the grid cap.
const std::vector<std::pair<int64_t, int64_t>> kShapes = {
    {1, 1}, {7, 65}, {65, 10}, {65, 1000}, {3, 4097}, {20000, 10}, {100000, 7}};

}  // namespace
#endif  // KELVIN_CUDA

TEST_CASE("cuda: device_count answers without throwing, GPU or not") {
#if KELVIN_CUDA
    int count = -1;
    CHECK_NOTHROW(count = kelvin::cuda::device_count());
    CHECK(count >= 0);
    CHECK(kelvin::cuda_available() == (count > 0));
#else
    CHECK_FALSE(kelvin::cuda_available());
#endif
}

TEST_CASE("cuda: the caching allocator reuses freed blocks" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    CHECK(cuda::allocate(0) == nullptr);
    CHECK_NOTHROW(cuda::release(nullptr, 0));

    const std::vector<size_t> sizes = {1, 511, 512, 513, 4096, 1 << 20, (1 << 20) + 1,
                                       (3 << 20) + 7, 10'000'000};
    auto one_step = [&] {
        std::vector<void*> blocks;
        for (size_t bytes : sizes) blocks.push_back(cuda::allocate(bytes));
        for (size_t i = 0; i < sizes.size(); ++i) cuda::release(blocks[i], sizes[i]);
    };
    one_step();
    size_t calls_after_first_step = cuda::malloc_calls();
    for (int step = 0; step < 5; ++step) one_step();
    CHECK(cuda::malloc_calls() == calls_after_first_step);
    size_t requested = 0;
    for (size_t bytes : sizes) requested += bytes;
    CHECK(cuda::cached_bytes() >= requested);

    // Sizes in one size class share blocks: a smaller last batch needs no new allocation.
    void* block = cuda::allocate(1000);
    cuda::release(block, 1000);
    size_t calls = cuda::malloc_calls();
    void* again = cuda::allocate(1024);
    CHECK(again == block);
    CHECK(cuda::malloc_calls() == calls);
    cuda::release(again, 1024);

    cuda::empty_cache();
    CHECK(cuda::cached_bytes() == 0);
    one_step();
    CHECK(cuda::malloc_calls() > calls);  // the cache was really emptied
#endif
}

TEST_CASE("cuda: copies and memset_zero round-trip" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    for (int64_t n : kSizes) {
        std::vector<float> host = random_floats(n, 1);
        DeviceArray<float> a(host);
        auto b = DeviceArray<float>::poisoned(n);
        cuda::memcpy_device_to_device(b.get(), a.get(), n * sizeof(float));
        check_close(b.to_host(), host, size_label("memcpy_device_to_device", n), 0.0);
        cuda::memset_zero(b.get(), n * sizeof(float));
        check_close(b.to_host(), std::vector<float>(n, 0.0f), size_label("memset_zero", n), 0.0);
    }
    cuda::synchronize();
#endif
}

TEST_CASE("cuda: elementwise kernels match the CPU" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    for (int64_t n : kSizes) {
        std::vector<float> a = random_floats(n, 10), b = random_floats(n, 11);
        DeviceArray<float> da(a), db(b);

        auto out = DeviceArray<float>::poisoned(n);
        cuda::fill(out.get(), 1.25f, n);
        check_close(out.to_host(), std::vector<float>(n, 1.25f), size_label("fill", n));

        auto out_i32 = DeviceArray<int32_t>::poisoned(n);
        cuda::fill_i32(out_i32.get(), 7, n);
        check_equal(out_i32.to_host(), std::vector<int32_t>(n, 7), size_label("fill_i32", n));

        std::vector<float> expected(n);
        out = DeviceArray<float>::poisoned(n);
        cpu::add(a.data(), b.data(), expected.data(), n);
        cuda::add(da.get(), db.get(), out.get(), n);
        check_close(out.to_host(), expected, size_label("add", n));

        out = DeviceArray<float>::poisoned(n);
        cpu::mul(a.data(), b.data(), expected.data(), n);
        cuda::mul(da.get(), db.get(), out.get(), n);
        check_close(out.to_host(), expected, size_label("mul", n));

        out = DeviceArray<float>::poisoned(n);
        cpu::scale(a.data(), -0.37f, expected.data(), n);
        cuda::scale(da.get(), -0.37f, out.get(), n);
        check_close(out.to_host(), expected, size_label("scale", n));

        // axpy updates y in place: both sides start from the same y.
        std::vector<float> y = b;
        DeviceArray<float> dy(b);
        cpu::axpy(0.81f, a.data(), y.data(), n);
        cuda::axpy(0.81f, da.get(), dy.get(), n);
        check_close(dy.to_host(), y, size_label("axpy", n));

        // In place through aliased pointers, as the engine's `x += y` does.
        std::vector<float> aliased = a;
        DeviceArray<float> daliased(a);
        cpu::add(aliased.data(), b.data(), aliased.data(), n);
        cuda::add(daliased.get(), db.get(), daliased.get(), n);
        check_close(daliased.to_host(), aliased, size_label("add in place", n));
    }
    for (auto [rows, cols] : kShapes) {
        std::vector<float> x = random_floats(rows * cols, 12), bias = random_floats(cols, 13);
        DeviceArray<float> dx(x), dbias(bias);
        std::vector<float> expected(rows * cols);

        auto out = DeviceArray<float>::poisoned(rows * cols);
        cpu::bias_add(x.data(), bias.data(), expected.data(), rows, cols);
        cuda::bias_add(dx.get(), dbias.get(), out.get(), rows, cols);
        check_close(out.to_host(), expected, shape_label("bias_add", rows, cols));

        out = DeviceArray<float>::poisoned(rows * cols);
        cpu::bias_relu(x.data(), bias.data(), expected.data(), rows, cols);
        cuda::bias_relu(dx.get(), dbias.get(), out.get(), rows, cols);
        check_close(out.to_host(), expected, shape_label("bias_relu", rows, cols));
    }
#endif
}

TEST_CASE("cuda: activations match the CPU" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    for (int64_t n : kSizes) {
        std::vector<float> x = random_floats(n, 20, -4.0f, 4.0f), dy = random_floats(n, 21);
        DeviceArray<float> dx_in(x), ddy(dy);
        std::vector<float> expected(n), relu_y(n);

        auto out = DeviceArray<float>::poisoned(n);
        cpu::relu_forward(x.data(), relu_y.data(), n);
        cuda::relu_forward(dx_in.get(), out.get(), n);
        check_close(out.to_host(), relu_y, size_label("relu_forward", n));

        // The backward takes the forward's output; both sides get the CPU's.
        DeviceArray<float> drelu_y(relu_y);
        out = DeviceArray<float>::poisoned(n);
        cpu::relu_backward(relu_y.data(), dy.data(), expected.data(), n);
        cuda::relu_backward(drelu_y.get(), ddy.get(), out.get(), n);
        check_close(out.to_host(), expected, size_label("relu_backward", n));

        out = DeviceArray<float>::poisoned(n);
        cpu::gelu_forward(x.data(), expected.data(), n);
        cuda::gelu_forward(dx_in.get(), out.get(), n);
        check_close(out.to_host(), expected, size_label("gelu_forward", n));

        out = DeviceArray<float>::poisoned(n);
        cpu::gelu_backward(x.data(), dy.data(), expected.data(), n);
        cuda::gelu_backward(dx_in.get(), ddy.get(), out.get(), n);
        check_close(out.to_host(), expected, size_label("gelu_backward", n));
    }
#endif
}

TEST_CASE("cuda: reductions match the CPU and sum_all is deterministic" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    for (int64_t n : kSizes) {
        std::vector<float> x = random_floats(n, 30);
        DeviceArray<float> dx(x);
        float scale = n > 0 ? 1.0f / static_cast<float>(n) : 1.0f;
        std::vector<float> expected(1);
        cpu::sum_all(x.data(), expected.data(), n, scale);
        auto out = DeviceArray<float>::poisoned(1);
        cuda::sum_all(dx.get(), out.get(), n, scale);
        std::vector<float> first = out.to_host();
        check_close(first, expected, size_label("sum_all", n));

        // Same input, same bits: the reduction order is fixed.
        out = DeviceArray<float>::poisoned(1);
        cuda::sum_all(dx.get(), out.get(), n, scale);
        std::vector<float> second = out.to_host();
        CHECK_MESSAGE(std::memcmp(first.data(), second.data(), sizeof(float)) == 0,
                      size_label("sum_all twice", n));
    }

    std::vector<std::pair<int64_t, int64_t>> shapes = kShapes;
    shapes.push_back({0, 5});  // sum_rows of no rows is zeros
    for (auto [rows, cols] : shapes) {
        std::vector<float> x = random_floats(rows * cols, 31);
        DeviceArray<float> dx(x);

        std::vector<float> expected(cols);
        auto out = DeviceArray<float>::poisoned(cols);
        cpu::sum_rows(x.data(), expected.data(), rows, cols);
        cuda::sum_rows(dx.get(), out.get(), rows, cols);
        check_close(out.to_host(), expected, shape_label("sum_rows", rows, cols));

        expected.assign(rows, 0.0f);
        out = DeviceArray<float>::poisoned(rows);
        cpu::row_norms(x.data(), expected.data(), rows, cols);
        cuda::row_norms(dx.get(), out.get(), rows, cols);
        check_close(out.to_host(), expected, shape_label("row_norms", rows, cols));

        // Small integers make ties common: the first maximal index must win on both sides.
        std::vector<float> ties(rows * cols);
        for (size_t i = 0; i < ties.size(); ++i) ties[i] = std::floor(x[i] * 1.5f);
        DeviceArray<float> dties(ties);
        std::vector<int32_t> expected_index(rows);
        auto index = DeviceArray<int32_t>::poisoned(rows);
        cpu::argmax_rows(ties.data(), expected_index.data(), rows, cols);
        cuda::argmax_rows(dties.get(), index.get(), rows, cols);
        check_equal(index.to_host(), expected_index,
                    shape_label("argmax_rows with ties", rows, cols));

        index = DeviceArray<int32_t>::poisoned(rows);
        cpu::argmax_rows(x.data(), expected_index.data(), rows, cols);
        cuda::argmax_rows(dx.get(), index.get(), rows, cols);
        check_equal(index.to_host(), expected_index, shape_label("argmax_rows", rows, cols));
    }
#endif
}

TEST_CASE("cuda: gemm matches the CPU, all transposes, odd sizes" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    struct Case {
        int64_t m, n, k, pad;  // pad: extra elements at the end of each row (leading dimension)
    };
    const std::vector<Case> cases = {{1, 1, 1, 0},  {7, 65, 13, 0}, {65, 33, 1000, 3},
                                     {33, 1, 7, 0}, {1, 129, 64, 5}, {4, 5, 0, 3}};
    for (const Case& shape : cases) {
        for (int transpose = 0; transpose < 4; ++transpose) {
            for (float beta : {0.0f, 0.5f}) {
                bool ta = transpose & 1, tb = transpose & 2;
                int64_t m = shape.m, n = shape.n, k = shape.k;
                // Row-major storage of A (m x k, or k x m when transposed) and B likewise.
                int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
                int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
                int64_t lda = a_cols + shape.pad, ldb = b_cols + shape.pad, ldc = n + shape.pad;
                std::vector<float> a = random_floats(a_rows * lda, 40);
                std::vector<float> b = random_floats(b_rows * ldb, 41);
                std::vector<float> c = random_floats(m * ldc, 42);
                DeviceArray<float> da(a), db(b);
                // beta = 0 must not read C: the CUDA C starts as NaN.
                DeviceArray<float> dc = beta == 0.0f ? DeviceArray<float>::poisoned(c.size())
                                                     : DeviceArray<float>(c);
                std::vector<float> expected = c;
                cpu::gemm(ta, tb, m, n, k, 1.5f, a.data(), lda, b.data(), ldb, beta,
                          expected.data(), ldc);
                cuda::gemm(ta, tb, m, n, k, 1.5f, da.get(), lda, db.get(), ldb, beta, dc.get(),
                           ldc);
                std::vector<float> result = dc.to_host();
                // Compare the m x n matrix; the padding must be left alone.
                std::vector<float> got, want, padding_got, padding_want;
                for (int64_t i = 0; i < m; ++i)
                    for (int64_t j = 0; j < ldc; ++j) {
                        (j < n ? got : padding_got).push_back(result[i * ldc + j]);
                        (j < n ? want : padding_want).push_back(expected[i * ldc + j]);
                    }
                std::string label = "gemm m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                    " k=" + std::to_string(k) + (ta ? " A^T" : " A") +
                                    (tb ? " B^T" : " B") + " beta=" + std::to_string(beta);
                check_close(got, want, label);
                if (beta != 0.0f) check_close(padding_got, padding_want, label + " padding", 0.0);
            }
        }
    }
#endif
}

TEST_CASE("cuda: softmax cross-entropy matches the CPU" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    struct Case {
        int64_t rows, classes;
        float temperature;
    };
    std::vector<Case> cases;
    for (int64_t classes : {10, 1000})
        for (float temperature : {1.0f, 10.0f, 100.0f}) cases.push_back({65, classes, temperature});
    cases.push_back({1, 1, 1.0f});
    cases.push_back({20000, 10, 1.0f});  // more rows than one grid of warps covers
    for (const Case& test : cases) {
        const int64_t rows = test.rows, classes = test.classes;
        std::string label = "softmax_cross_entropy rows=" + std::to_string(rows) +
                            " classes=" + std::to_string(classes) +
                            " T=" + std::to_string(test.temperature);
        std::vector<float> logits = random_floats(rows * classes, 50, -8.0f, 8.0f);
        std::vector<int32_t> labels = random_labels(rows, static_cast<int32_t>(classes), 51);
        std::vector<float> grad_scale = {0.7f / static_cast<float>(rows)};
        DeviceArray<float> dlogits(logits), dgrad_scale(grad_scale);
        DeviceArray<int32_t> dlabels(labels);

        std::vector<float> loss(rows), logsumexp(rows);
        cpu::softmax_cross_entropy_forward(logits.data(), labels.data(), loss.data(),
                                           logsumexp.data(), rows, classes, test.temperature);
        auto dloss = DeviceArray<float>::poisoned(rows);
        auto dlogsumexp = DeviceArray<float>::poisoned(rows);
        cuda::softmax_cross_entropy_forward(dlogits.get(), dlabels.get(), dloss.get(),
                                            dlogsumexp.get(), rows, classes, test.temperature);
        check_close(dloss.to_host(), loss, label + " loss");
        check_close(dlogsumexp.to_host(), logsumexp, label + " logsumexp");

        // Each side's backward uses its own forward's logsumexp, as in training.
        std::vector<float> grad(rows * classes);
        cpu::softmax_cross_entropy_backward(logits.data(), labels.data(), logsumexp.data(),
                                            grad_scale.data(), grad.data(), rows, classes,
                                            test.temperature);
        auto dgrad = DeviceArray<float>::poisoned(rows * classes);
        cuda::softmax_cross_entropy_backward(dlogits.get(), dlabels.get(), dlogsumexp.get(),
                                             dgrad_scale.get(), dgrad.get(), rows, classes,
                                             test.temperature);
        // |gradient| <= grad_scale / T, far below 1: judge it in units of that bound.
        std::vector<float> got = dgrad.to_host();
        float unit = grad_scale[0] / test.temperature;
        for (size_t i = 0; i < grad.size(); ++i) {
            got[i] /= unit;
            grad[i] /= unit;
        }
        check_close(got, grad, label + " gradient / (grad_scale / T)");
    }
#endif
}

TEST_CASE("cuda: softmax cross-entropy turns a NaN logit into a NaN loss, as the CPU" *
          doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    // With 10 classes each lane of the row's warp sees one logit, so the NaN is the first value
    // its lane merges; with 1000 it sits mid-row. Row 0 stays finite.
    for (int64_t classes : {10, 1000}) {
        const int64_t rows = 3;
        std::vector<float> logits = random_floats(rows * classes, 55, -8.0f, 8.0f);
        std::vector<int32_t> labels = {0, 0, 1};
        logits[1 * classes + 3] = NAN;   // row 1: not the label's logit
        logits[2 * classes + classes - 1] = NAN;
        DeviceArray<float> dlogits(logits);
        DeviceArray<int32_t> dlabels(labels);
        std::vector<float> loss(rows), logsumexp(rows);
        cpu::softmax_cross_entropy_forward(logits.data(), labels.data(), loss.data(),
                                           logsumexp.data(), rows, classes, 10.0f);
        auto dloss = DeviceArray<float>::poisoned(rows);
        auto dlogsumexp = DeviceArray<float>::poisoned(rows);
        cuda::softmax_cross_entropy_forward(dlogits.get(), dlabels.get(), dloss.get(),
                                            dlogsumexp.get(), rows, classes, 10.0f);
        CHECK(std::isnan(loss[1]));
        std::vector<float> got = dloss.to_host();
        CHECK_MESSAGE(std::isnan(got[1]), "classes=" << classes);
        CHECK_MESSAGE(std::isnan(got[2]), "classes=" << classes);
        check_close(got, loss, "softmax_cross_entropy with NaN classes=" + std::to_string(classes));
    }
#endif
}

TEST_CASE("cuda: optimizer steps match the CPU" * doctest::skip(no_gpu())) {
#if KELVIN_CUDA
    using namespace kelvin;
    for (int64_t n : kSizes) {
        std::vector<float> param0 = random_floats(n, 60), buffer0 = random_floats(n, 61);
        for (float momentum : {0.0f, 0.9f})
            for (bool nesterov : {false, true})
                for (float weight_decay : {0.0f, 5e-4f}) {
                    std::string label = size_label("sgd_step", n) +
                                        " momentum=" + std::to_string(momentum) +
                                        (nesterov ? " nesterov" : "") +
                                        " wd=" + std::to_string(weight_decay);
                    std::vector<float> param = param0, buffer = buffer0;
                    DeviceArray<float> dparam(param0), dbuffer(buffer0);
                    for (int step = 0; step < 3; ++step) {
                        std::vector<float> grad = random_floats(n, 62 + step);
                        DeviceArray<float> dgrad(grad);
                        cpu::sgd_step(param.data(), grad.data(), buffer.data(), n, 0.1f, momentum,
                                      weight_decay, nesterov, step == 0);
                        cuda::sgd_step(dparam.get(), dgrad.get(), dbuffer.get(), n, 0.1f,
                                       momentum, weight_decay, nesterov, step == 0);
                    }
                    check_close(dparam.to_host(), param, label + " param");
                    check_close(dbuffer.to_host(), buffer, label + " momentum buffer");
                }

        for (float weight_decay : {0.0f, 1e-2f}) {
            std::string label = size_label("adamw_step", n) + " wd=" + std::to_string(weight_decay);
            std::vector<float> param = param0, m(n, 0.0f), v(n, 0.0f);
            DeviceArray<float> dparam(param0), dm(m), dv(v);
            for (int64_t step = 1; step <= 3; ++step) {
                std::vector<float> grad = random_floats(n, 70 + static_cast<uint32_t>(step));
                DeviceArray<float> dgrad(grad);
                cpu::adamw_step(param.data(), grad.data(), m.data(), v.data(), n, 1e-2f, 0.9f,
                                0.999f, 1e-8f, weight_decay, step);
                cuda::adamw_step(dparam.get(), dgrad.get(), dm.get(), dv.get(), n, 1e-2f, 0.9f,
                                 0.999f, 1e-8f, weight_decay, step);
            }
            check_close(dparam.to_host(), param, label + " param");
            check_close(dm.to_host(), m, label + " exp_avg");
            check_close(dv.to_host(), v, label + " exp_avg_sq");
        }
    }
#endif
}
