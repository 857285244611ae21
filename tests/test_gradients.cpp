// Every op's backward against central finite differences on the CPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/activation.h"
#include "kernels/cpu/exp_nonpositive.h"
#include "kernels/cpu/gelu_isa.h"
#include "tests/gradcheck.h"

using namespace kelvin;
using kelvin::testing::gradcheck;
using kelvin::testing::random_tensor;
using kelvin::testing::random_param;

namespace {
Tensor labels_of(std::vector<int32_t> v) {
    return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
}
}  // namespace

TEST_CASE("gradient: matmul") {
    gradcheck([](const auto& in) { return ops::matmul(in[0], in[1]); },
              {random_param({3, 5}, 1), random_param({5, 4}, 2)}, "matmul");
}

TEST_CASE("gradient: linear with and without bias, input gradient on and off") {
    gradcheck([](const auto& in) { return ops::linear(in[0], in[1], in[2]); },
              {random_param({4, 6}, 3), random_param({5, 6}, 4), random_param({5}, 5)}, "linear");
    gradcheck([](const auto& in) { return ops::linear(in[0], in[1], Tensor()); },
              {random_param({4, 6}, 6), random_param({3, 6}, 7)}, "linear without bias");
    gradcheck([](const auto& in) { return ops::linear(in[0], in[1], in[2]); },
              {random_tensor({4, 6}, 8), random_param({5, 6}, 9), random_param({5}, 10)},
              "linear, constant input");
}

TEST_CASE("gradient: fused linear + relu") {
    // Inputs away from the kink so finite differences do not straddle it.
    gradcheck([](const auto& in) { return ops::linear_relu(in[0], in[1], in[2]); },
              {random_param({4, 6}, 11), random_param({5, 6}, 12), random_param({5}, 13)}, "linear_relu",
              {1e-3f, 2e-2, 2e-3});
}

TEST_CASE("gradient: bias_add, add, mul, scale") {
    gradcheck([](const auto& in) { return ops::bias_add(in[0], in[1]); },
              {random_param({3, 4}, 14), random_param({4}, 15)}, "bias_add");
    gradcheck([](const auto& in) { return ops::add(in[0], in[1]); },
              {random_param({3, 4}, 16), random_param({3, 4}, 17)}, "add");
    gradcheck([](const auto& in) { return ops::add(in[0], in[0]); }, {random_param({2, 3}, 18)},
              "add of a tensor to itself");
    gradcheck([](const auto& in) { return ops::mul(in[0], in[1]); },
              {random_param({3, 4}, 19), random_param({3, 4}, 20)}, "mul");
    gradcheck([](const auto& in) { return ops::scale(in[0], -2.5f); }, {random_param({7}, 21)}, "scale");
}

TEST_CASE("gradient: relu and gelu") {
    // relu: values bounded away from 0 so no difference straddles the kink.
    Tensor x = random_tensor({20}, 22, 0.1f, 1.0f);
    std::vector<float> v = x.to_vector();
    for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
    Tensor xr = Tensor::from_vector(v, {20});
    xr.set_requires_grad(true);
    gradcheck([](const auto& in) { return ops::relu(in[0]); }, {xr}, "relu");
    gradcheck([](const auto& in) { return ops::gelu(in[0]); }, {random_param({20}, 23, -3.0f, 3.0f)},
              "gelu");
}

// The CPU GELU kernels compute erf and exp themselves (kernels/cpu/gelu.cpp): forward and
// backward on x (NaN last) against the exact formulas in double, within 1e-6 (relative to
// max(1, |value|)); NaN stays NaN. Through a variant's table, or (null) the dispatched
// kelvin::cpu functions.
static void check_gelu(const std::vector<float>& x, const kelvin::cpu::GeluKernels* variant) {
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<float> y(n), dx(n), dy(n, 1.0f);
    if (variant) {
        variant->forward(x.data(), y.data(), n);
        variant->backward(x.data(), dy.data(), dx.data(), n);
    } else {
        kelvin::cpu::gelu_forward(x.data(), y.data(), n);
        kelvin::cpu::gelu_backward(x.data(), dy.data(), dx.data(), n);
    }
    double worst_y = 0.0, worst_dx = 0.0;
    for (int64_t i = 0; i + 1 < n; ++i) {
        const double v = x[i], cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
        const double want_y = v * cdf;
        const double want_dx = cdf + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI);
        worst_y = std::max(worst_y, std::fabs(y[i] - want_y) / std::max(1.0, std::fabs(want_y)));
        worst_dx = std::max(worst_dx, std::fabs(dx[i] - want_dx) / std::max(1.0, std::fabs(want_dx)));
    }
    CHECK_MESSAGE(worst_y <= 1e-6, "forward: worst relative error " << worst_y);
    CHECK_MESSAGE(worst_dx <= 1e-6, "backward: worst relative error " << worst_dx);
    CHECK(std::isnan(y[n - 1]));
    CHECK(std::isnan(dx[n - 1]));
}

// Every variant this CPU runs (kernels/cpu/gelu_isa.h), then the dispatched one.
TEST_CASE("gelu: CPU forward and backward match the exact erf formula, on every runnable ISA") {
    std::vector<float> x;
    for (float v = -12.0f; v <= 12.0f; v += 0.00390625f) x.push_back(v);
    x.push_back(1e-30f);
    x.push_back(-1e-30f);
    x.push_back(NAN);
    std::vector<const kelvin::cpu::GeluKernels*> variants;
    for (kelvin::cpu::Isa isa : kelvin::cpu::runnable_isas())
        variants.push_back(kelvin::cpu::gelu_kernels(isa));
    variants.push_back(nullptr);  // kelvin::cpu::gelu_forward / gelu_backward
    for (const kelvin::cpu::GeluKernels* variant : variants) {
        INFO("isa: " << (variant ? variant->isa : "dispatched"));
        check_gelu(x, variant);
    }
}

// The exponential that GELU and the attention softmax vectorise (kernels/cpu/exp_nonpositive.h):
// within 4e-7 relative of exp in double on [-87, 0]; -inf and anything below -87 give e^-87,
// NaN stays NaN.
TEST_CASE("exp_nonpositive: matches exp in double on [-87, 0]") {
    double worst = 0.0;
    float worst_at = 0.0f;
    for (float x = -87.0f; x <= 0.0f; x += 0.000732421875f) {
        const double want = std::exp(double(x));
        const double error = std::fabs(kelvin::cpu::exp_nonpositive(x) - want) / want;
        if (error > worst) {
            worst = error;
            worst_at = x;
        }
    }
    CHECK_MESSAGE(worst <= 4e-7, "worst relative error " << worst << " at " << worst_at);
    CHECK(kelvin::cpu::exp_nonpositive(-1e30f) == kelvin::cpu::exp_nonpositive(-87.0f));
    CHECK(kelvin::cpu::exp_nonpositive(-INFINITY) == kelvin::cpu::exp_nonpositive(-87.0f));
    CHECK(kelvin::cpu::exp_nonpositive(0.0f) == 1.0f);
    CHECK(std::isnan(kelvin::cpu::exp_nonpositive(NAN)));
}

TEST_CASE("gradient: sum, mean, reshape, flatten") {
    gradcheck([](const auto& in) { return ops::sum(in[0]); }, {random_param({3, 4}, 24)}, "sum");
    gradcheck([](const auto& in) { return ops::mean(in[0]); }, {random_param({3, 4}, 25)}, "mean");
    gradcheck([](const auto& in) { return ops::reshape(in[0], {4, -1}); }, {random_param({2, 6}, 26)},
              "reshape");
    gradcheck([](const auto& in) { return ops::flatten(in[0]); }, {random_param({2, 3, 2, 2}, 27)},
              "flatten");
}

TEST_CASE("gradient: temperature softmax cross-entropy at several temperatures") {
    for (float t : {0.5f, 1.0f, 10.0f, 100.0f}) {
        gradcheck(
            [t](const auto& in) {
                return ops::softmax_cross_entropy(in[0], labels_of({0, 3, 2, 3, 1}), t);
            },
            {random_param({5, 4}, 28, -3.0f, 3.0f)}, "softmax_cross_entropy T=" + std::to_string(t),
            {t >= 10.0f ? 0.5f : 1e-2f, 2e-2, 1e-4});
    }
}

TEST_CASE("softmax cross-entropy: value and gradient match the formula") {
    // One row, two classes, T = 2: loss = log(e^{z0/2} + e^{z1/2}) - z_y/2.
    Tensor z = Tensor::from_vector(std::vector<float>{1.0f, 3.0f}, {1, 2});
    z.set_requires_grad(true);
    Tensor loss = ops::softmax_cross_entropy(z, labels_of({0}), 2.0f);
    const double expected = std::log(std::exp(0.5) + std::exp(1.5)) - 0.5;
    CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-6));
    loss.backward();
    const double p0 = std::exp(0.5) / (std::exp(0.5) + std::exp(1.5));
    std::vector<float> g = z.grad().to_vector();
    CHECK(g[0] == doctest::Approx((p0 - 1.0) / 2.0).epsilon(1e-5));
    CHECK(g[1] == doctest::Approx((1.0 - p0) / 2.0).epsilon(1e-5));
}

TEST_CASE("softmax cross-entropy is stable for huge logits") {
    Tensor z = Tensor::from_vector(std::vector<float>{1e30f, -1e30f, 0.0f}, {1, 3});
    float loss = ops::softmax_cross_entropy(z, labels_of({0}), 1.0f).item();
    CHECK(std::isfinite(loss));
    CHECK(loss == doctest::Approx(0.0));
}

TEST_CASE("softmax cross-entropy rejects a non-positive temperature") {
    Tensor z = Tensor::zeros({1, 3});
    CHECK_THROWS_WITH_AS(ops::softmax_cross_entropy(z, labels_of({0}), 0.0f),
                         doctest::Contains("temperature must be a positive number"), Error);
    CHECK_THROWS_AS(ops::softmax_cross_entropy(z, labels_of({0}), -1.0f), Error);
}

TEST_CASE("autograd: gradients accumulate across backward calls and free saved state") {
    Tensor w = random_param({2, 2}, 30);
    Tensor x = random_tensor({3, 2}, 31);
    ops::sum(ops::linear(x, w, Tensor())).backward();
    std::vector<float> once = w.grad().to_vector();
    Tensor y = ops::sum(ops::linear(x, w, Tensor()));
    std::weak_ptr<Node> node = y.grad_fn();
    y.backward();
    std::vector<float> twice = w.grad().to_vector();
    for (size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * once[i]));
    REQUIRE(!node.expired());
    CHECK(node.lock()->inputs.empty());  // saved inputs released after backward
}

TEST_CASE("autograd: no-grad scope records nothing") {
    Tensor w = random_param({2, 2}, 32);
    NoGradGuard guard;
    Tensor y = ops::matmul(w, w);
    CHECK(!y.requires_grad());
    CHECK(!y.grad_fn());
}

TEST_CASE("autograd: diamond graph sums both paths") {
    // f(x) = sum(relu-free (x*x) + x), df/dx = 2x + 1
    Tensor x = random_param({4}, 33);
    Tensor y = ops::sum(ops::add(ops::mul(x, x), x));
    y.backward();
    std::vector<float> xv = x.to_vector(), g = x.grad().to_vector();
    for (size_t i = 0; i < xv.size(); ++i) CHECK(g[i] == doctest::Approx(2 * xv[i] + 1));
}

TEST_CASE("gradient: l2_normalize_rows") {
    gradcheck([](const auto& in) { return ops::l2_normalize_rows(in[0]); }, {random_param({4, 5}, 40)},
              "l2_normalize_rows", {1e-3f, 2e-2, 2e-3});
    Tensor y = ops::l2_normalize_rows(random_tensor({3, 7}, 41));
    for (float n : ops::row_norms(y).to_vector()) CHECK(n == doctest::Approx(1.0f));
}

TEST_CASE("autograd: a gradient-ready listener hears each leaf once, when its gradient is final") {
    // loss = sum(w2 * relu(w1 * (w1 * x))) + sum(v): w1 is used by two nodes, w2 and v only next
    // to the loss; x needs no gradient; `unused` is not in the graph.
    Tensor x = random_tensor({6}, 11);
    Tensor w1 = random_param({6}, 12), w2 = random_param({6}, 13), v = random_param({6}, 14);
    Tensor unused = random_param({6}, 15);
    struct Heard {
        TensorImpl* leaf;
        std::vector<float> grad;
        bool w1_had_grad;
    };
    std::vector<Heard> heard;
    {
        GradientReadyScope scope([&](const Tensor& leaf) {
            heard.push_back({leaf.impl(), leaf.grad().to_vector(), w1.grad().defined()});
        });
        const Tensor inner = ops::relu(ops::mul(w1, ops::mul(w1, x)));
        ops::add(ops::sum(ops::mul(w2, inner)), ops::sum(v)).backward();
    }
    REQUIRE(heard.size() == 3);
    std::vector<TensorImpl*> leaves;
    for (const Heard& h : heard) leaves.push_back(h.leaf);
    for (Tensor* t : {&w1, &w2, &v}) {
        CHECK(std::count(leaves.begin(), leaves.end(), t->impl()) == 1);
        for (const Heard& h : heard)  // the gradient heard is the final one
            if (h.leaf == t->impl()) CHECK(h.grad == t->grad().to_vector());
    }
    CHECK(std::count(leaves.begin(), leaves.end(), unused.impl()) == 0);
    // w1 comes last, after both its uses; w2 was heard before w1 had any gradient at all.
    CHECK(heard.back().leaf == w1.impl());
    for (const Heard& h : heard)
        if (h.leaf == w2.impl()) CHECK_FALSE(h.w1_had_grad);
    // Out of the scope, nothing listens.
    w1.zero_grad();
    const size_t before = heard.size();
    ops::sum(ops::mul(w1, x)).backward();
    CHECK(heard.size() == before);
}
