// Finite-difference gradient checking for ops and models (float32, central differences).
// The function under test is reduced to a scalar by a fixed random projection, so every output
// element's gradient path is exercised, not only their sum.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/ops.h"

namespace kelvin::testing {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> v(shape_numel(shape));
    for (float& x : v) x = dist(gen);
    return Tensor::from_vector(v, shape);
}

// A random leaf tensor that requires a gradient: the input of a gradient check.
inline Tensor random_param(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
    Tensor t = random_tensor(shape, seed, low, high);
    t.set_requires_grad(true);
    return t;
}

struct GradcheckOptions {
    float eps = 1e-2f;
    double rtol = 2e-2;
    double atol = 2e-3;
};

// Checks d(sum(f(inputs) * R))/d(input) for every input that requires a gradient.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      std::vector<Tensor> inputs, const std::string& what,
                      GradcheckOptions opt = {}) {
    Tensor probe_out;
    {
        NoGradGuard no_grad;
        probe_out = f(inputs);
    }
    Tensor projection = random_tensor(probe_out.shape(), 1234);
    auto objective = [&](const std::vector<Tensor>& in) {
        return ops::sum(ops::mul(f(in), projection));
    };
    for (Tensor& t : inputs)
        if (t.requires_grad()) t.impl()->grad.reset();
    objective(inputs).backward();

    for (size_t i = 0; i < inputs.size(); ++i) {
        Tensor& x = inputs[i];
        if (!x.requires_grad()) continue;
        REQUIRE_MESSAGE(x.grad().defined(), what << ": input " << i << " got no gradient");
        std::vector<float> analytic = x.grad().to_vector();
        float* data = x.f32();
        for (int64_t k = 0; k < x.numel(); ++k) {
            NoGradGuard no_grad;
            const float saved = data[k];
            data[k] = saved + opt.eps;
            double plus = objective(inputs).item();
            data[k] = saved - opt.eps;
            double minus = objective(inputs).item();
            data[k] = saved;
            double numeric = (plus - minus) / (2.0 * opt.eps);
            double err = std::fabs(numeric - analytic[k]);
            double bound = opt.atol + opt.rtol * std::max(std::fabs(numeric), std::fabs(double(analytic[k])));
            if (err > bound) {
                FAIL_CHECK(what << ": input " << i << " element " << k << ": analytic "
                                << analytic[k] << " vs numeric " << numeric);
                return;
            }
        }
    }
}

}  // namespace kelvin::testing
