// Optimizer updates against their formulas, and learning-rate schedules.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"

using namespace kelvin;

namespace {
Tensor leaf(std::vector<float> v) {
    Tensor t = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
    t.set_requires_grad(true);
    return t;
}
}  // namespace

TEST_CASE("sgd with momentum, weight decay and nesterov follows PyTorch's update") {
    for (bool nesterov : {false, true}) {
        Tensor p = leaf({1.0f, -2.0f});
        optim::SgdOptions o;
        o.lr = 0.1f;
        o.momentum = 0.9f;
        o.weight_decay = 0.01f;
        o.nesterov = nesterov;
        optim::Sgd sgd({&p}, o);
        std::vector<double> ref = {1.0, -2.0}, buf = {0, 0};
        const std::vector<std::vector<float>> grads = {{0.5f, 0.25f}, {-1.0f, 2.0f}, {0.1f, 0.0f}};
        for (size_t step = 0; step < grads.size(); ++step) {
            p.set_grad(Tensor::from_vector(grads[step], {2}));
            sgd.step();
            for (int i = 0; i < 2; ++i) {
                double g = grads[step][i] + 0.01 * ref[i];
                buf[i] = step == 0 ? g : 0.9 * buf[i] + g;
                ref[i] -= 0.1 * (nesterov ? g + 0.9 * buf[i] : buf[i]);
            }
        }
        std::vector<float> got = p.to_vector();
        for (int i = 0; i < 2; ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-6));
    }
}

TEST_CASE("adamw follows the decoupled weight decay update with bias correction") {
    Tensor p = leaf({0.5f, -1.5f, 3.0f});
    optim::AdamWOptions o;
    o.lr = 0.01f;
    o.weight_decay = 0.1f;
    optim::AdamW adam({&p}, o);
    std::vector<double> ref = {0.5, -1.5, 3.0}, m(3, 0), v(3, 0);
    const std::vector<std::vector<float>> grads = {{1, -2, 0.5}, {0.3f, 0.1f, -4}, {-1, 1, 1}};
    for (size_t step = 1; step <= grads.size(); ++step) {
        p.set_grad(Tensor::from_vector(grads[step - 1], {3}));
        adam.step();
        for (int i = 0; i < 3; ++i) {
            double g = grads[step - 1][i];
            ref[i] *= 1 - 0.01 * 0.1;
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            double mhat = m[i] / (1 - std::pow(0.9, step)), vhat = v[i] / (1 - std::pow(0.999, step));
            ref[i] -= 0.01 * mhat / (std::sqrt(vhat) + 1e-8);
        }
    }
    std::vector<float> got = p.to_vector();
    for (int i = 0; i < 3; ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-5));
}

TEST_CASE("a parameter without a gradient is left alone") {
    Tensor p = leaf({1.0f});
    optim::Sgd sgd({&p}, optim::SgdOptions{});
    sgd.step();
    CHECK(p.to_vector()[0] == 1.0f);
}

TEST_CASE("schedules: constant, step, cosine, with linear warm-up") {
    optim::Schedule s;
    s.base_lr = 1.0f;
    s.total_steps = 100;
    CHECK(s.lr_at(0) == doctest::Approx(1.0));
    CHECK(s.lr_at(99) == doctest::Approx(1.0));
    s.kind = "step";
    s.step_size = 10;
    s.gamma = 0.5f;
    CHECK(s.lr_at(9) == doctest::Approx(1.0));
    CHECK(s.lr_at(10) == doctest::Approx(0.5));
    CHECK(s.lr_at(25) == doctest::Approx(0.25));
    s.kind = "cosine";
    CHECK(s.lr_at(0) == doctest::Approx(1.0));
    CHECK(s.lr_at(50) == doctest::Approx(0.5));
    CHECK(s.lr_at(100) == doctest::Approx(0.0).epsilon(1e-6));
    s.warmup_steps = 10;
    CHECK(s.lr_at(0) == doctest::Approx(0.1));
    CHECK(s.lr_at(4) == doctest::Approx(0.5));
    CHECK(s.lr_at(10) == doctest::Approx(1.0));
    CHECK(s.lr_at(55) == doctest::Approx(0.5));
    s.kind = "linear-ish";
    CHECK_THROWS_AS(optim::validate(s), Error);
}
