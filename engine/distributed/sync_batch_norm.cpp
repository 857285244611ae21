#include "engine/distributed/sync_batch_norm.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/norm.h"

namespace kelvin::distributed {

namespace {

// The global batch's per-channel mean and biased variance, from this shard's and the others'.
// The shard's own moments come from the batch-statistics kernel run with eps = 0 (its sums are in
// double), so var = 1/invstd^2 to within float rounding, and zero variance comes back as zero.
// Counts, sums and sums of squares are then combined in double, where sumsq/M - mean^2 loses
// nothing that matters at float precision.
struct GlobalMoments {
    std::vector<float> mean, var, invstd;
    double count = 0;
};

GlobalMoments global_moments(const Tensor& x, float eps, Communicator& communicator) {
    const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
    Tensor mean = Tensor::empty({c}, DType::F32, x.device());
    Tensor invstd = Tensor::empty({c}, DType::F32, x.device());
    if (n * hw > 0)
        KELVIN_DISPATCH(x.device(), batch_norm_statistics, x.f32(), mean.f32(), invstd.f32(),
                        nullptr, nullptr, n, c, hw, 0.0f, 0.0f);
    const std::vector<float> m = n * hw > 0 ? mean.to_vector() : std::vector<float>(c, 0.0f);
    const std::vector<float> s = n * hw > 0 ? invstd.to_vector() : std::vector<float>(c, 0.0f);
    const double local = double(n) * hw;
    std::vector<double> sums(2 * c + 1, 0.0);
    sums[2 * c] = local;
    for (int64_t ch = 0; ch < c && local > 0; ++ch) {
        const double var = std::isinf(s[ch]) ? 0.0 : 1.0 / (double(s[ch]) * s[ch]);
        sums[ch] = local * m[ch];
        sums[c + ch] = local * (var + double(m[ch]) * m[ch]);
    }
    communicator.allreduce_sum(sums.data(), 2 * c + 1);
    GlobalMoments g;
    g.count = sums[2 * c];
    KELVIN_CHECK(g.count > 1, "sync_batch_norm2d: expected more than 1 value per channel in the "
                              "global batch, got " + std::to_string(int64_t(g.count)) +
                                  " (x " + x.describe() + " on this rank)");
    g.mean.resize(c);
    g.var.resize(c);
    g.invstd.resize(c);
    for (int64_t ch = 0; ch < c; ++ch) {
        const double mu = sums[ch] / g.count;
        const double var = std::max(0.0, sums[c + ch] / g.count - mu * mu);
        g.mean[ch] = static_cast<float>(mu);
        g.var[ch] = static_cast<float>(var);
        g.invstd[ch] = static_cast<float>(1.0 / std::sqrt(var + eps));
    }
    return g;
}

// running = (1 - momentum) * running + momentum * batch, with the unbiased global variance.
void update_running(Tensor& running_mean, Tensor& running_var, const GlobalMoments& g,
                    float momentum) {
    std::vector<float> rm = running_mean.to_vector(), rv = running_var.to_vector();
    const double unbias = g.count / (g.count - 1);
    for (size_t ch = 0; ch < rm.size(); ++ch) {
        rm[ch] = static_cast<float>((1.0 - momentum) * rm[ch] + double(momentum) * g.mean[ch]);
        rv[ch] = static_cast<float>((1.0 - momentum) * rv[ch] +
                                    double(momentum) * g.var[ch] * unbias);
    }
    running_mean.copy_from(Tensor::from_vector(rm, running_mean.shape()));
    running_var.copy_from(Tensor::from_vector(rv, running_var.shape()));
}

}  // namespace

Tensor sync_batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                         Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                         Communicator& communicator) {
    KELVIN_TRACE_OP("sync_batch_norm2d", x.device());
    ops::check_f32(x, "sync_batch_norm2d");
    KELVIN_CHECK(x.ndim() == 4, "sync_batch_norm2d: expected x [N, C, H, W], got " + x.describe());
    const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
    for (const Tensor* t :
         std::initializer_list<const Tensor*>{&weight, &bias, &running_mean, &running_var})
        KELVIN_CHECK(!t->defined() || (t->ndim() == 1 && t->size(0) == c &&
                                       t->device() == x.device()),
                     "sync_batch_norm2d: expected per-channel vectors [" + std::to_string(c) +
                         "] on x's device for x " + x.describe() + ", got " + t->describe());
    const Device device = x.device();
    const GlobalMoments g = global_moments(x, eps, communicator);
    if (running_mean.defined()) update_running(running_mean, running_var, g, momentum);
    Tensor mean = Tensor::from_vector(g.mean, {c}, device);
    Tensor invstd = Tensor::from_vector(g.invstd, {c}, device);
    const float* w = weight.defined() ? weight.f32() : nullptr;
    const float* b = bias.defined() ? bias.f32() : nullptr;
    Tensor y = Tensor::empty(x.shape(), DType::F32, device);
    if (n > 0)
        KELVIN_DISPATCH(device, batch_norm_apply, x.f32(), mean.f32(), invstd.f32(), w, b,
                        y.f32(), n, c, hw);

    if (!needs_grad({&x, &weight, &bias})) return y;
    const bool need_x = x.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    Tensor x_saved = x.detach();
    Tensor w_saved = weight.defined() ? weight.detach() : Tensor();
    const double global_count = g.count;
    Communicator* comm = &communicator;
    return record(y, "sync_batch_norm2d", {x, weight, bias}, [=](const Tensor& dy) {
        // This shard's sum(dy) and sum(dy * xhat) are its weight and bias gradients (summed over
        // the ranks later, with every other gradient); the input gradient needs the global ones.
        Tensor sum_dy = Tensor::zeros({c}, DType::F32, device);
        Tensor sum_dy_xhat = Tensor::zeros({c}, DType::F32, device);
        if (n > 0)
            KELVIN_DISPATCH(device, batch_norm_backward_reduce, x_saved.f32(), dy.f32(),
                            mean.f32(), invstd.f32(), sum_dy.f32(), sum_dy_xhat.f32(), n, c, hw);
        Tensor dx;
        if (need_x) {
            std::vector<double> sums(2 * c);
            const std::vector<float> a = sum_dy.to_vector(), s = sum_dy_xhat.to_vector();
            for (int64_t ch = 0; ch < c; ++ch) {
                sums[ch] = a[ch];
                sums[c + ch] = s[ch];
            }
            comm->allreduce_sum(sums.data(), 2 * c);
            // The kernel divides the sums by this shard's n*hw; scaled so that it divides the
            // global sums by the global count instead.
            const double rescale = double(n) * hw / global_count;
            std::vector<float> global_dy(c), global_dy_xhat(c);
            for (int64_t ch = 0; ch < c; ++ch) {
                global_dy[ch] = static_cast<float>(sums[ch] * rescale);
                global_dy_xhat[ch] = static_cast<float>(sums[c + ch] * rescale);
            }
            Tensor gd = Tensor::from_vector(global_dy, {c}, device);
            Tensor gdx = Tensor::from_vector(global_dy_xhat, {c}, device);
            dx = Tensor::empty(x_saved.shape(), DType::F32, device);
            if (n > 0)
                KELVIN_DISPATCH(device, batch_norm_backward_input, x_saved.f32(), dy.f32(),
                                mean.f32(), invstd.f32(),
                                w_saved.defined() ? w_saved.f32() : nullptr, gd.f32(), gdx.f32(),
                                dx.f32(), n, c, hw, true);
        }
        return std::vector<Tensor>{dx, need_w ? sum_dy_xhat : Tensor(),
                                   need_b ? sum_dy : Tensor()};
    });
}

}  // namespace kelvin::distributed
