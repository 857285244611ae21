// batch_norm2d, layer_norm and dropout: forward values against hand-computed ones, running
// statistics, every backward against finite differences, the nn modules' state, and CPU-vs-CUDA
// parity (kernel-level with NaN-poisoned outputs, and op-level through autograd).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/nn/norm.h"
#include "engine/ops.h"
#include "kernels/dropout.h"
#include "kernels/norm.h"
#include "tests/gradcheck.h"

using namespace kelvin;
using kelvin::testing::gradcheck;
using kelvin::testing::random_tensor;
using kelvin::testing::random_param;

namespace {


void check_values(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what, double tolerance = 1e-5) {
    REQUIRE_MESSAGE(got.size() == want.size(), what);
    for (size_t i = 0; i < want.size(); ++i)
        if (!(std::fabs(got[i] - want[i]) <= tolerance * std::fmax(1.0, std::fabs(want[i])))) {
            FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected " << want[i]);
            return;
        }
}

}  // namespace

// ---- batch norm --------------------------------------------------------------------------------

TEST_CASE("batch_norm2d: training forward and running statistics match hand-computed values") {
    // x [2, 2, 1, 2]. Channel 0 holds {1, 3, 5, 7}: mean 4, biased var 5, unbiased 20/3.
    // Channel 1 holds {0, 0, 2, 2}: mean 1, biased var 1, unbiased 4/3.
    Tensor x = Tensor::from_vector(std::vector<float>{1, 3, 0, 0, 5, 7, 2, 2}, {2, 2, 1, 2});
    Tensor weight = Tensor::from_vector(std::vector<float>{2.0f, 0.5f}, {2});
    Tensor bias = Tensor::from_vector(std::vector<float>{1.0f, -1.0f}, {2});
    Tensor running_mean = Tensor::zeros({2});
    Tensor running_var = Tensor::full({2}, 1.0f);
    const float eps = 1e-5f, momentum = 0.1f;

    Tensor y = ops::batch_norm2d(x, weight, bias, running_mean, running_var, true, momentum, eps);
    const double s0 = 1.0 / std::sqrt(5.0 + eps), s1 = 1.0 / std::sqrt(1.0 + eps);
    auto y0 = [&](double v) { return static_cast<float>((v - 4.0) * s0 * 2.0 + 1.0); };
    auto y1 = [&](double v) { return static_cast<float>((v - 1.0) * s1 * 0.5 - 1.0); };
    check_values(y.to_vector(), {y0(1), y0(3), y1(0), y1(0), y0(5), y0(7), y1(2), y1(2)},
                 "training output");
    check_values(running_mean.to_vector(), {0.4f, 0.1f}, "running_mean after one step");
    check_values(running_var.to_vector(),
                 {static_cast<float>(0.9 + 0.1 * 20.0 / 3.0),
                  static_cast<float>(0.9 + 0.1 * 4.0 / 3.0)},
                 "running_var after one step (unbiased)");

    // A second step moves them again from where they are.
    ops::batch_norm2d(x, weight, bias, running_mean, running_var, true, momentum, eps);
    check_values(running_mean.to_vector(), {0.9f * 0.4f + 0.4f, 0.9f * 0.1f + 0.1f},
                 "running_mean after two steps");

    SUBCASE("eval mode normalises with the running statistics and leaves them alone") {
        Tensor rm = Tensor::from_vector(std::vector<float>{0.5f, -1.0f}, {2});
        Tensor rv = Tensor::from_vector(std::vector<float>{4.0f, 0.25f}, {2});
        Tensor out = ops::batch_norm2d(x, weight, bias, rm, rv, false, momentum, eps);
        std::vector<float> xv = x.to_vector(), got = out.to_vector(), want(8);
        for (int i = 0; i < 8; ++i) {
            const int ch = (i / 2) % 2;
            const double mean = ch == 0 ? 0.5 : -1.0, var = ch == 0 ? 4.0 : 0.25;
            const double w = ch == 0 ? 2.0 : 0.5, b = ch == 0 ? 1.0 : -1.0;
            want[i] = static_cast<float>((xv[i] - mean) / std::sqrt(var + eps) * w + b);
        }
        check_values(got, want, "eval output");
        check_values(rm.to_vector(), {0.5f, -1.0f}, "running_mean untouched in eval");
        check_values(rv.to_vector(), {4.0f, 0.25f}, "running_var untouched in eval");
    }
    SUBCASE("without weight and bias the output is the plain normalised value") {
        Tensor none;
        Tensor out = ops::batch_norm2d(x, none, none, none, none, false, momentum, eps);
        check_values(out.to_vector(),
                     {static_cast<float>(-3 * s0), static_cast<float>(-1 * s0),
                      static_cast<float>(-1 * s1), static_cast<float>(-1 * s1),
                      static_cast<float>(1 * s0), static_cast<float>(3 * s0),
                      static_cast<float>(1 * s1), static_cast<float>(1 * s1)},
                     "no affine, no running statistics: batch statistics even in eval");
    }
}

TEST_CASE("batch_norm2d: argument errors name what was expected") {
    Tensor x = random_tensor({2, 3, 4, 4}, 1);
    Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0f), none;
    CHECK_THROWS_WITH_AS(ops::batch_norm2d(random_tensor({2, 3}, 2), none, none, rm, rv, true,
                                           0.1f, 1e-5f),
                         doctest::Contains("expected x [N, C, H, W]"), Error);
    CHECK_THROWS_WITH_AS(ops::batch_norm2d(x, Tensor::zeros({4}), none, rm, rv, true, 0.1f, 1e-5f),
                         doctest::Contains("expected weight [3]"), Error);
    Tensor one = random_tensor({1, 3, 1, 1}, 3);
    CHECK_THROWS_WITH_AS(ops::batch_norm2d(one, none, none, rm, rv, true, 0.1f, 1e-5f),
                         doctest::Contains("more than 1 value per channel"), Error);
    CHECK_NOTHROW(ops::batch_norm2d(one, none, none, rm, rv, false, 0.1f, 1e-5f));
}

TEST_CASE("batch_norm2d: gradients through the batch statistics (training)") {
    Tensor running_mean = Tensor::zeros({3}), running_var = Tensor::full({3}, 1.0f);
    auto bn = [running_mean, running_var](const std::vector<Tensor>& in) {
        Tensor rm = running_mean, rv = running_var;
        return ops::batch_norm2d(in[0], in[1], in[2], rm, rv, true, 0.1f, 1e-5f);
    };
    gradcheck(bn, {random_param({2, 3, 2, 3}, 10), random_param({3}, 11, 0.5f, 1.5f), random_param({3}, 12)},
              "batch_norm2d training");
    gradcheck(bn, {random_param({4, 3, 1, 1}, 13), random_param({3}, 14), random_param({3}, 15)},
              "batch_norm2d training, 1x1 maps");
    gradcheck(
        [](const std::vector<Tensor>& in) {
            Tensor none;
            return ops::batch_norm2d(in[0], none, none, none, none, true, 0.1f, 1e-5f);
        },
        {random_param({3, 2, 2, 2}, 16)}, "batch_norm2d training without affine or running stats");
    gradcheck(bn, {random_tensor({2, 3, 2, 2}, 17), random_param({3}, 18), random_param({3}, 19)},
              "batch_norm2d training, parameters only");
}

TEST_CASE("batch_norm2d: gradients with running statistics (eval)") {
    Tensor running_mean = random_tensor({3}, 20);
    Tensor running_var = random_tensor({3}, 21, 0.5f, 2.0f);
    auto bn = [running_mean, running_var](const std::vector<Tensor>& in) {
        Tensor rm = running_mean, rv = running_var;
        return ops::batch_norm2d(in[0], in[1], in[2], rm, rv, false, 0.1f, 1e-5f);
    };
    gradcheck(bn, {random_param({2, 3, 2, 3}, 22), random_param({3}, 23), random_param({3}, 24)}, "batch_norm2d eval");
    gradcheck(
        [running_mean, running_var](const std::vector<Tensor>& in) {
            Tensor rm = running_mean, rv = running_var, none;
            return ops::batch_norm2d(in[0], none, none, rm, rv, false, 0.1f, 1e-5f);
        },
        {random_param({2, 3, 3, 1}, 25)}, "batch_norm2d eval without affine");
}

// ---- layer norm ---------------------------------------------------------------------------------

TEST_CASE("layer_norm: rows have mean 0 and variance 1 before the affine map") {
    Tensor x = random_tensor({6, 5, 33}, 30, -3.0f, 5.0f);
    Tensor none;
    std::vector<float> y = ops::layer_norm(x, none, none, 1e-5f).to_vector();
    for (int64_t r = 0; r < 30; ++r) {
        double sum = 0.0, squares = 0.0;
        for (int j = 0; j < 33; ++j) sum += y[r * 33 + j];
        const double mean = sum / 33;
        for (int j = 0; j < 33; ++j) squares += (y[r * 33 + j] - mean) * (y[r * 33 + j] - mean);
        CHECK(mean == doctest::Approx(0.0).epsilon(1e-5).scale(1.0));
        CHECK(squares / 33 == doctest::Approx(1.0).epsilon(1e-4));
    }

    // The affine map applies weight and bias per column.
    Tensor weight = random_tensor({33}, 31), bias = random_tensor({33}, 32);
    std::vector<float> ya = ops::layer_norm(x, weight, bias, 1e-5f).to_vector();
    std::vector<float> w = weight.to_vector(), b = bias.to_vector(), want(ya.size());
    for (size_t i = 0; i < ya.size(); ++i) want[i] = y[i] * w[i % 33] + b[i % 33];
    check_values(ya, want, "layer_norm affine");

    // A constant row normalises to 0 (variance 0, eps keeps it finite).
    Tensor flat = Tensor::full({2, 4}, 3.0f);
    check_values(ops::layer_norm(flat, none, none, 1e-5f).to_vector(), std::vector<float>(8, 0.0f),
                 "constant rows");
    CHECK_THROWS_WITH_AS(ops::layer_norm(x, Tensor::zeros({32}), none, 1e-5f),
                         doctest::Contains("expected weight [33]"), Error);
}

TEST_CASE("layer_norm: gradients on 2-D and 3-D inputs") {
    auto ln = [](const std::vector<Tensor>& in) {
        return ops::layer_norm(in[0], in[1], in[2], 1e-5f);
    };
    gradcheck(ln, {random_param({4, 7}, 40), random_param({7}, 41, 0.5f, 1.5f), random_param({7}, 42)},
              "layer_norm 2-D");
    gradcheck(ln, {random_param({2, 3, 5}, 43), random_param({5}, 44), random_param({5}, 45)}, "layer_norm 3-D");
    gradcheck(
        [](const std::vector<Tensor>& in) {
            Tensor none;
            return ops::layer_norm(in[0], none, none, 1e-5f);
        },
        {random_param({3, 6}, 46)}, "layer_norm without affine");
    gradcheck(ln, {random_tensor({5, 4}, 47), random_param({4}, 48), random_param({4}, 49)},
              "layer_norm, parameters only");
}

// ---- dropout ------------------------------------------------------------------------------------

TEST_CASE("dropout: keeps about 1-p of the elements, scales them, and follows the seed") {
    const int64_t n = 200001;
    Tensor x = random_tensor({n}, 50, 0.5f, 1.5f);  // no zeros, so a zero means dropped
    const float p = 0.3f;
    std::vector<float> xv = x.to_vector();
    std::vector<float> y = ops::dropout(x, p, true, 1234).to_vector();
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (y[i] == 0.0f) continue;
        ++kept;
        if (y[i] != xv[i] * dropout_scale(p)) {
            FAIL_CHECK("element " << i << " kept as " << y[i] << ", expected " << xv[i] / (1 - p));
            break;
        }
    }
    // Binomial(n, 0.7): the standard deviation of the kept fraction is about 0.001.
    CHECK(static_cast<double>(kept) / n == doctest::Approx(0.7).epsilon(0.01));

    CHECK(ops::dropout(x, p, true, 1234).to_vector() == y);  // reproducible
    std::vector<float> other = ops::dropout(x, p, true, 1235).to_vector();
    int64_t differ = 0;
    for (int64_t i = 0; i < n; ++i) differ += (other[i] == 0.0f) != (y[i] == 0.0f);
    CHECK(differ > n / 4);  // independent masks disagree on 2 * 0.3 * 0.7 = 42% of elements

    // Even and odd elements (the two halves of one hash) are dropped independently.
    int64_t both = 0, pairs = n / 2;
    for (int64_t k = 0; k < pairs; ++k) both += y[2 * k] == 0.0f && y[2 * k + 1] == 0.0f;
    CHECK(static_cast<double>(both) / pairs == doctest::Approx(0.09).epsilon(0.05));
}

TEST_CASE("dropout: identity in eval and at p = 0; p outside [0, 1) is an error") {
    Tensor x = random_tensor({3, 4}, 51);
    CHECK(ops::dropout(x, 0.5f, false, 7).impl() == x.impl());
    CHECK(ops::dropout(x, 0.0f, true, 7).impl() == x.impl());
    CHECK_THROWS_WITH_AS(ops::dropout(x, 1.0f, true, 7), doctest::Contains("[0, 1)"), Error);
    CHECK_THROWS_WITH_AS(ops::dropout(x, -0.1f, true, 7), doctest::Contains("[0, 1)"), Error);
    CHECK_THROWS_WITH_AS(ops::dropout(x, NAN, false, 7), doctest::Contains("[0, 1)"), Error);
}

TEST_CASE("dropout: the backward pass uses the forward mask") {
    gradcheck([](const std::vector<Tensor>& in) { return ops::dropout(in[0], 0.4f, true, 99); },
              {random_param({5, 9}, 52)}, "dropout");
    Tensor x = random_param({1000}, 53);
    Tensor y = ops::dropout(x, 0.25f, true, 5);
    ops::sum(y).backward();
    std::vector<float> yv = y.to_vector(), xv = x.to_vector(), g = x.grad().to_vector();
    for (size_t i = 0; i < g.size(); ++i) {
        const bool kept = yv[i] != 0.0f;
        if (g[i] != (kept ? dropout_scale(0.25f) : 0.0f)) {
            FAIL_CHECK("element " << i << ": gradient " << g[i] << " for output " << yv[i]);
            break;
        }
    }
}

// ---- modules ------------------------------------------------------------------------------------

TEST_CASE("nn norm modules: PyTorch names, defaults and modes") {
    nn::BatchNorm2d bn(4);
    auto params = bn.named_parameters();
    auto buffers = bn.named_buffers();
    REQUIRE(params.size() == 2);
    REQUIRE(buffers.size() == 2);
    CHECK(params[0].name == "weight");
    CHECK(params[1].name == "bias");
    CHECK(buffers[0].name == "running_mean");
    CHECK(buffers[1].name == "running_var");
    CHECK(bn.weight->to_vector() == std::vector<float>(4, 1.0f));
    CHECK(bn.bias->to_vector() == std::vector<float>(4, 0.0f));
    CHECK(bn.running_mean->to_vector() == std::vector<float>(4, 0.0f));
    CHECK(bn.running_var->to_vector() == std::vector<float>(4, 1.0f));
    CHECK(bn.eps == 1e-5f);
    CHECK(bn.momentum == 0.1f);

    Tensor x = random_tensor({3, 4, 2, 2}, 60, 1.0f, 3.0f);
    Tensor y_train = bn.forward(x);
    std::vector<float> mean_after = bn.running_mean->to_vector();
    CHECK(mean_after[0] > 0.1f);  // moved towards the batch mean (about 2)
    bn.eval();
    Tensor y_eval = bn.forward(x);
    CHECK(bn.running_mean->to_vector() == mean_after);
    CHECK(y_eval.to_vector() != y_train.to_vector());

    nn::BatchNorm2d plain(4, 1e-3f, 0.5f, false);
    CHECK(plain.named_parameters().empty());
    CHECK(plain.named_buffers().size() == 2);

    nn::LayerNorm ln(6);
    REQUIRE(ln.named_parameters().size() == 2);
    CHECK(ln.named_parameters()[0].name == "weight");
    CHECK(ln.named_buffers().empty());
    CHECK(ln.forward(random_tensor({2, 6}, 61)).shape() == Shape{2, 6});
    CHECK_THROWS_WITH_AS(ln.forward(random_tensor({2, 5}, 62)), doctest::Contains("LayerNorm(6)"),
                         Error);

    nn::Dropout drop(0.5f, 3);
    Tensor ones = Tensor::full({64}, 1.0f);
    std::vector<float> first = drop.forward(ones).to_vector();
    std::vector<float> second = drop.forward(ones).to_vector();
    CHECK(first != second);  // a fresh mask per call
    nn::Dropout replay(0.5f, 3);
    CHECK(replay.forward(ones).to_vector() == first);  // reproducible from the seed
    drop.eval();
    CHECK(drop.forward(ones).impl() == ones.impl());
}

// ---- CPU vs CUDA --------------------------------------------------------------------------------

#if KELVIN_CUDA
namespace {

// |cuda - cpu| <= tolerance * max(1, |cpu|); NaN anywhere on CUDA alone (an unwritten, poisoned
// element) fails.
void check_parity(const Tensor& cuda_result, const Tensor& cpu_result, const std::string& what,
                  double tolerance = 1e-4) {
    std::vector<float> got = cuda_result.to_vector(), want = cpu_result.to_vector();
    REQUIRE_MESSAGE(got.size() == want.size(), what);
    for (size_t i = 0; i < want.size(); ++i) {
        const double error =
            std::fabs(double(got[i]) - want[i]) / std::fmax(1.0, std::fabs(want[i]));
        if (!(error <= tolerance)) {
            FAIL_CHECK(what << ": element " << i << " is " << got[i] << " on CUDA, " << want[i]
                            << " on the CPU");
            return;
        }
    }
}

Tensor poisoned(const Shape& shape) { return Tensor::full(shape, NAN, Device::CUDA); }
Tensor on_gpu(const Tensor& t) { return t.to(Device::CUDA); }

struct BatchNormShape {
    int64_t n, c, h, w;
};
// Odd channels and 7x7 maps; 1x1 maps (the statistics walk steps whole samples); a map large
// enough that channels split into several chunks.
const std::vector<BatchNormShape> kBatchNormShapes = {
    {3, 5, 7, 7}, {300, 3, 1, 1}, {64, 3, 16, 17}, {2, 130, 3, 3}};

}  // namespace

TEST_CASE("batch_norm CUDA kernels match the CPU (outputs poisoned)" *
          doctest::skip(!kelvin::cuda_available())) {
    for (const auto& s : kBatchNormShapes) {
        const std::string label = "batch_norm " + shape_to_string({s.n, s.c, s.h, s.w});
        const int64_t hw = s.h * s.w;
        Tensor x = random_tensor({s.n, s.c, s.h, s.w}, 70, -2.0f, 3.0f);
        Tensor dy = random_tensor(x.shape(), 71);
        Tensor weight = random_tensor({s.c}, 72), bias = random_tensor({s.c}, 73);
        Tensor rm = random_tensor({s.c}, 74), rv = random_tensor({s.c}, 75, 0.5f, 2.0f);
        Tensor rm_gpu = on_gpu(rm).clone(), rv_gpu = on_gpu(rv).clone();

        Tensor mean = Tensor::empty({s.c}), invstd = Tensor::empty({s.c});
        cpu::batch_norm_statistics(x.f32(), mean.f32(), invstd.f32(), rm.f32(), rv.f32(), s.n,
                                   s.c, hw, 0.1f, 1e-5f);
        Tensor mean_gpu = poisoned({s.c}), invstd_gpu = poisoned({s.c});
        Tensor x_gpu = on_gpu(x), dy_gpu = on_gpu(dy), w_gpu = on_gpu(weight), b_gpu = on_gpu(bias);
        cuda::batch_norm_statistics(x_gpu.f32(), mean_gpu.f32(), invstd_gpu.f32(), rm_gpu.f32(),
                                    rv_gpu.f32(), s.n, s.c, hw, 0.1f, 1e-5f);
        check_parity(mean_gpu, mean, label + " mean");
        check_parity(invstd_gpu, invstd, label + " invstd");
        check_parity(rm_gpu, rm, label + " running_mean");
        check_parity(rv_gpu, rv, label + " running_var");

        Tensor rs_eval = Tensor::empty({s.c}), rs_eval_gpu = poisoned({s.c});
        cpu::batch_norm_inverse_std(rv.f32(), rs_eval.f32(), s.c, 1e-5f);
        cuda::batch_norm_inverse_std(on_gpu(rv).f32(), rs_eval_gpu.f32(), s.c, 1e-5f);
        check_parity(rs_eval_gpu, rs_eval, label + " inverse std");

        Tensor y = Tensor::empty(x.shape()), y_gpu = poisoned(x.shape());
        cpu::batch_norm_apply(x.f32(), mean.f32(), invstd.f32(), weight.f32(), bias.f32(),
                              y.f32(), s.n, s.c, hw);
        cuda::batch_norm_apply(x_gpu.f32(), mean_gpu.f32(), invstd_gpu.f32(), w_gpu.f32(),
                               b_gpu.f32(), y_gpu.f32(), s.n, s.c, hw);
        check_parity(y_gpu, y, label + " apply");

        Tensor sum_dy = Tensor::empty({s.c}), sum_dy_xhat = Tensor::empty({s.c});
        Tensor sum_dy_gpu = poisoned({s.c}), sum_dy_xhat_gpu = poisoned({s.c});
        cpu::batch_norm_backward_reduce(x.f32(), dy.f32(), mean.f32(), invstd.f32(),
                                        sum_dy.f32(), sum_dy_xhat.f32(), s.n, s.c, hw);
        cuda::batch_norm_backward_reduce(x_gpu.f32(), dy_gpu.f32(), mean_gpu.f32(),
                                         invstd_gpu.f32(), sum_dy_gpu.f32(),
                                         sum_dy_xhat_gpu.f32(), s.n, s.c, hw);
        check_parity(sum_dy_gpu, sum_dy, label + " sum dy");
        check_parity(sum_dy_xhat_gpu, sum_dy_xhat, label + " sum dy*xhat");

        for (bool batch_statistics : {true, false}) {
            Tensor dx = Tensor::empty(x.shape()), dx_gpu = poisoned(x.shape());
            cpu::batch_norm_backward_input(x.f32(), dy.f32(), mean.f32(), invstd.f32(),
                                           weight.f32(), sum_dy.f32(), sum_dy_xhat.f32(),
                                           dx.f32(), s.n, s.c, hw, batch_statistics);
            cuda::batch_norm_backward_input(x_gpu.f32(), dy_gpu.f32(), mean_gpu.f32(),
                                            invstd_gpu.f32(), w_gpu.f32(), sum_dy_gpu.f32(),
                                            sum_dy_xhat_gpu.f32(), dx_gpu.f32(), s.n, s.c, hw,
                                            batch_statistics);
            check_parity(dx_gpu, dx, label + (batch_statistics ? " dx (training)" : " dx (eval)"));
        }
    }
}

TEST_CASE("layer_norm CUDA kernels match the CPU (outputs poisoned)" *
          doctest::skip(!kelvin::cuda_available())) {
    const std::vector<std::pair<int64_t, int64_t>> shapes = {
        {65, 65}, {65, 192}, {1, 1}, {7, 31}, {20000, 33}, {3, 4097}};
    for (auto [rows, d] : shapes) {
        const std::string label = "layer_norm " + std::to_string(rows) + "x" + std::to_string(d);
        Tensor x = random_tensor({rows, d}, 80, -2.0f, 3.0f);
        Tensor dy = random_tensor({rows, d}, 81);
        Tensor weight = random_tensor({d}, 82), bias = random_tensor({d}, 83);
        Tensor x_gpu = on_gpu(x), dy_gpu = on_gpu(dy), w_gpu = on_gpu(weight), b_gpu = on_gpu(bias);
        for (bool affine : {true, false}) {
            const std::string what = label + (affine ? "" : " no affine");
            const float* w = affine ? weight.f32() : nullptr;
            const float* b = affine ? bias.f32() : nullptr;
            const float* wg = affine ? w_gpu.f32() : nullptr;
            const float* bg = affine ? b_gpu.f32() : nullptr;
            Tensor y = Tensor::empty({rows, d}), mean = Tensor::empty({rows}),
                   rstd = Tensor::empty({rows});
            Tensor y_gpu = poisoned({rows, d}), mean_gpu = poisoned({rows}),
                   rstd_gpu = poisoned({rows});
            cpu::layer_norm_forward(x.f32(), w, b, y.f32(), mean.f32(), rstd.f32(), rows, d,
                                    1e-5f);
            cuda::layer_norm_forward(x_gpu.f32(), wg, bg, y_gpu.f32(), mean_gpu.f32(),
                                     rstd_gpu.f32(), rows, d, 1e-5f);
            check_parity(y_gpu, y, what + " y");
            check_parity(mean_gpu, mean, what + " mean");
            check_parity(rstd_gpu, rstd, what + " rstd");

            Tensor dx = Tensor::empty({rows, d}), dw = Tensor::empty({d}), db = Tensor::empty({d});
            Tensor dx_gpu = poisoned({rows, d}), dw_gpu = poisoned({d}), db_gpu = poisoned({d});
            cpu::layer_norm_backward(x.f32(), dy.f32(), w, mean.f32(), rstd.f32(), dx.f32(),
                                     dw.f32(), db.f32(), rows, d);
            cuda::layer_norm_backward(x_gpu.f32(), dy_gpu.f32(), wg, mean_gpu.f32(),
                                      rstd_gpu.f32(), dx_gpu.f32(), dw_gpu.f32(), db_gpu.f32(),
                                      rows, d);
            check_parity(dx_gpu, dx, what + " dx");
            check_parity(dw_gpu, dw, what + " dweight");
            check_parity(db_gpu, db, what + " dbias");

            // Deterministic: a second run gives the same bits.
            Tensor dw_again = poisoned({d});
            cuda::layer_norm_backward(x_gpu.f32(), dy_gpu.f32(), wg, mean_gpu.f32(),
                                      rstd_gpu.f32(), nullptr, dw_again.f32(), nullptr, rows, d);
            CHECK_MESSAGE(dw_again.to_vector() == dw_gpu.to_vector(), what << " dweight rerun");
        }
    }
}

TEST_CASE("dropout CUDA kernel drops the same elements as the CPU" *
          doctest::skip(!kelvin::cuda_available())) {
    for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{65}, int64_t{1'000'003}}) {
        Tensor x = random_tensor({n}, 90);
        Tensor y = Tensor::empty({n}), y_gpu = poisoned({n});
        const uint64_t seed = 0xDEADBEEFull + n;
        cpu::dropout_apply(x.f32(), y.f32(), n, seed, dropout_threshold(0.3f), dropout_scale(0.3f));
        cuda::dropout_apply(on_gpu(x).f32(), y_gpu.f32(), n, seed, dropout_threshold(0.3f),
                            dropout_scale(0.3f));
        CHECK_MESSAGE(y_gpu.to_vector() == y.to_vector(), "dropout n=" << n);
    }
}

TEST_CASE("norm and dropout ops: CUDA forward and backward match the CPU" *
          doctest::skip(!kelvin::cuda_available())) {
    // Runs the op on both devices with the same inputs, then back-propagates the same random
    // seed gradient, and compares outputs, gradients and running statistics.
    auto both = [](const std::vector<Tensor>& inputs, const std::string& what,
                   const std::function<Tensor(const std::vector<Tensor>&, Device)>& op) {
        std::vector<Tensor> cpu_in, gpu_in;
        for (const Tensor& t : inputs) {
            Tensor c = t.clone(), g = on_gpu(t).clone();
            if (t.requires_grad()) {
                c.set_requires_grad(true);
                g.set_requires_grad(true);
            }
            cpu_in.push_back(c);
            gpu_in.push_back(g);
        }
        Tensor y = op(cpu_in, Device::CPU), y_gpu = op(gpu_in, Device::CUDA);
        check_parity(y_gpu, y, what + " forward");
        Tensor seed = random_tensor(y.shape(), 99);
        y.backward(seed);
        y_gpu.backward(on_gpu(seed));
        for (size_t i = 0; i < inputs.size(); ++i)
            if (inputs[i].requires_grad())
                check_parity(gpu_in[i].grad(), cpu_in[i].grad(),
                             what + " gradient of input " + std::to_string(i));
    };

    for (const auto& s : kBatchNormShapes) {
        const Shape shape{s.n, s.c, s.h, s.w};
        for (bool training : {true, false}) {
            const std::string what = std::string("batch_norm2d ") + shape_to_string(shape) +
                                     (training ? " training" : " eval");
            Tensor rm = random_tensor({s.c}, 100), rv = random_tensor({s.c}, 101, 0.5f, 2.0f);
            Tensor rm_gpu = on_gpu(rm).clone(), rv_gpu = on_gpu(rv).clone();
            both({random_param(shape, 102, -2.0f, 3.0f), random_param({s.c}, 103), random_param({s.c}, 104)}, what,
                 [&](const std::vector<Tensor>& in, Device device) {
                     Tensor& m = device == Device::CPU ? rm : rm_gpu;
                     Tensor& v = device == Device::CPU ? rv : rv_gpu;
                     return ops::batch_norm2d(in[0], in[1], in[2], m, v, training, 0.1f, 1e-5f);
                 });
            check_parity(rm_gpu, rm, what + " running_mean");
            check_parity(rv_gpu, rv, what + " running_var");
        }
    }
    for (Shape shape : {Shape{65, 65}, Shape{65, 192}, Shape{5, 13, 192}, Shape{4, 3, 7}}) {
        const int64_t d = shape.back();
        both({random_param(shape, 110, -2.0f, 3.0f), random_param({d}, 111), random_param({d}, 112)},
             "layer_norm " + shape_to_string(shape),
             [](const std::vector<Tensor>& in, Device) {
                 return ops::layer_norm(in[0], in[1], in[2], 1e-5f);
             });
    }
    both({random_param({7, 65, 3}, 120)}, "dropout", [](const std::vector<Tensor>& in, Device) {
        return ops::dropout(in[0], 0.2f, true, 4242);
    });
}
#endif
