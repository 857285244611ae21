#include "analysis/probes.h"

#include <cmath>
#include <numeric>
#include <random>

#include "engine/nn/linear.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/train_step.h"
#include "analysis/accuracy.h"

namespace kelvin {

namespace {

// Per-feature mean and 1/std of the training features (std floored so constant features map to 0).
void feature_statistics(const Tensor& x, Tensor& mean, Tensor& inv_std) {
    NoGradGuard no_grad;
    const int64_t n = x.size(0), d = x.size(1);
    Tensor sums = ops::sum_rows(x);
    Tensor squares = ops::sum_rows(ops::mul(x, x));
    std::vector<float> s = sums.to_vector(), q = squares.to_vector(), m(d), inv(d);
    for (int64_t j = 0; j < d; ++j) {
        double mu = double(s[j]) / n;
        double var = std::max(0.0, double(q[j]) / n - mu * mu);
        m[j] = static_cast<float>(mu);
        inv[j] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 0.0f;
    }
    mean = Tensor::from_vector(m, {d}, x.device());
    inv_std = Tensor::from_vector(inv, {d}, x.device());
}

Tensor standardize(const Tensor& x, const Tensor& mean, const Tensor& inv_std) {
    std::vector<float> inv = inv_std.to_vector(), mu = mean.to_vector(), shift(inv.size());
    for (size_t j = 0; j < inv.size(); ++j) shift[j] = -mu[j] * inv[j];
    return ops::column_affine(x, inv_std, Tensor::from_vector(shift, {int64_t(shift.size())}, x.device()));
}

double accuracy(const Tensor& logits, const Tensor& labels) {
    const int64_t n = labels.numel();
    return n == 0 ? 0.0 : double(count_correct(logits, labels)) / n;
}

}  // namespace

ProbeResult train_linear_probe(const Tensor& train_x_raw, const Tensor& train_y,
                               const Tensor& test_x_raw, const Tensor& test_y, int num_classes,
                               const ProbeOptions& options) {
    KELVIN_CHECK(train_x_raw.ndim() == 2 && test_x_raw.ndim() == 2 &&
                     train_x_raw.size(1) == test_x_raw.size(1),
                 "linear probe: expected train [N, D] and test [M, D] features, got " +
                     train_x_raw.describe() + " and " + test_x_raw.describe());
    KELVIN_CHECK(train_x_raw.size(0) == train_y.numel() && test_x_raw.size(0) == test_y.numel(),
                 "linear probe: features and labels differ in count");
    KELVIN_CHECK(train_x_raw.size(0) > 0 && test_x_raw.size(0) > 0 && num_classes > 0,
                 "linear probe: empty data");
    Tensor train_x = train_x_raw, test_x = test_x_raw;
    if (options.standardize) {
        Tensor mean, inv_std;
        feature_statistics(train_x_raw, mean, inv_std);
        train_x = standardize(train_x_raw, mean, inv_std);
        test_x = standardize(test_x_raw, mean, inv_std);
    }
    const int64_t n = train_x.size(0), d = train_x.size(1);
    nn::Generator gen(options.seed);
    nn::Linear probe(d, num_classes, true, 1.0f, gen);
    probe.to(train_x.device());
    optim::AdamWOptions adam;
    adam.lr = options.lr;
    adam.weight_decay = 0.0f;
    optim::AdamW optimizer(probe.parameters(), adam);

    // Each epoch permutes the whole training set once on the device (one gather), then takes
    // contiguous mini-batches as row windows: no per-batch copies.
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 shuffle(options.seed + 17);
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
        std::shuffle(order.begin(), order.end(), shuffle);
        Tensor index = Tensor::from_vector(order, {n}, train_x.device());
        Tensor epoch_x = ops::gather_rows(train_x, index);
        Tensor epoch_y = ops::gather_rows(train_y, index);
        for (int64_t begin = 0; begin < n; begin += options.batch_size) {
            const int64_t end = std::min(n, begin + options.batch_size);
            Tensor xb = epoch_x.rows(begin, end);
            Tensor yb = epoch_y.rows(begin, end);
            optim::train_step([&](const Tensor& x) { return probe.forward(x); }, optimizer, xb, yb,
                              1.0f, false);
        }
    }
    NoGradGuard no_grad;
    ProbeResult result;
    result.train_accuracy = accuracy(probe.forward(train_x), train_y);
    result.test_accuracy = accuracy(probe.forward(test_x), test_y);
    return result;
}

}  // namespace kelvin
