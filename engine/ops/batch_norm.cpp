// 2-D batch normalisation with PyTorch's semantics (torch.nn.functional.batch_norm on NCHW).
// Training: normalise with the batch mean and biased variance per channel, and move the running
// statistics towards the batch ones with the unbiased variance. Evaluation (or no running
// statistics at all, PyTorch's track_running_stats=False): normalise with the running statistics
// (respectively the batch's). The backward pass goes through the batch statistics when they were
// used, and is a per-channel affine map when the statistics were constants.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/norm.h"

namespace kelvin::ops {

namespace {

void check_channel_vector(const Tensor& t, const Tensor& x, int64_t channels, const char* what) {
    if (!t.defined()) return;
    check_f32(t, "batch_norm2d");
    check_same_device(x, t, "batch_norm2d");
    KELVIN_CHECK(t.ndim() == 1 && t.size(0) == channels,
                 std::string("batch_norm2d: expected ") + what + " [" +
                     std::to_string(channels) + "] for x " + x.describe() + ", got " +
                     t.describe());
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                    float eps) {
    KELVIN_TRACE_OP("batch_norm2d", x.device());
    check_f32(x, "batch_norm2d");
    KELVIN_CHECK(x.ndim() == 4, "batch_norm2d: expected x [N, C, H, W], got " + x.describe());
    const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
    check_channel_vector(weight, x, c, "weight");
    check_channel_vector(bias, x, c, "bias");
    check_channel_vector(running_mean, x, c, "running_mean");
    check_channel_vector(running_var, x, c, "running_var");
    KELVIN_CHECK(running_mean.defined() == running_var.defined(),
                 "batch_norm2d: running_mean and running_var must be both given or both absent");
    KELVIN_CHECK(eps >= 0.0f,
                 "batch_norm2d: eps must be non-negative, got " + std::to_string(eps));

    const bool batch_statistics = training || !running_mean.defined();
    const Device device = x.device();
    Tensor mean = Tensor::empty({c}, DType::F32, device);
    Tensor invstd = Tensor::empty({c}, DType::F32, device);
    if (batch_statistics) {
        KELVIN_CHECK(n * hw > 1, "batch_norm2d: expected more than 1 value per channel when "
                                 "using batch statistics, got x " + x.describe());
        // Running statistics move only in training (PyTorch updates them even under no_grad).
        float* rm = training && running_mean.defined() ? running_mean.f32() : nullptr;
        float* rv = training && running_var.defined() ? running_var.f32() : nullptr;
        KELVIN_DISPATCH(device, batch_norm_statistics, x.f32(), mean.f32(), invstd.f32(), rm, rv,
                        n, c, hw, momentum, eps);
    } else {
        // A copy: a later training step updates the running statistics in place, and this
        // op's backward must still see the values it normalised with.
        mean.copy_from(running_mean);
        KELVIN_DISPATCH(device, batch_norm_inverse_std, running_var.f32(), invstd.f32(), c, eps);
    }
    const float* w = weight.defined() ? weight.f32() : nullptr;
    const float* b = bias.defined() ? bias.f32() : nullptr;
    Tensor y = Tensor::empty(x.shape(), DType::F32, device);
    KELVIN_DISPATCH(device, batch_norm_apply, x.f32(), mean.f32(), invstd.f32(), w, b, y.f32(), n,
                    c, hw);

    if (!needs_grad({&x, &weight, &bias})) return y;
    const bool need_x = x.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    Tensor x_saved = x.detach();
    Tensor w_saved = weight.defined() ? weight.detach() : Tensor();
    return record(y, "batch_norm2d", {x, weight, bias}, [=](const Tensor& dy) {
        const Device dev = dy.device();
        Tensor dx, dw, db;
        const float* ws = w_saved.defined() ? w_saved.f32() : nullptr;
        Tensor sum_dy, sum_dy_xhat;
        // The sums give the parameter gradients, and dx needs them when the statistics
        // depended on x.
        if (need_w || need_b || (need_x && batch_statistics)) {
            sum_dy = Tensor::empty({c}, DType::F32, dev);
            sum_dy_xhat = Tensor::empty({c}, DType::F32, dev);
            KELVIN_DISPATCH(dev, batch_norm_backward_reduce, x_saved.f32(), dy.f32(), mean.f32(),
                            invstd.f32(), sum_dy.f32(), sum_dy_xhat.f32(), n, c, hw);
        }
        if (need_x) {
            dx = Tensor::empty(x_saved.shape(), DType::F32, dev);
            KELVIN_DISPATCH(dev, batch_norm_backward_input, x_saved.f32(), dy.f32(), mean.f32(),
                            invstd.f32(), ws, sum_dy.defined() ? sum_dy.f32() : nullptr,
                            sum_dy_xhat.defined() ? sum_dy_xhat.f32() : nullptr, dx.f32(), n, c,
                            hw, batch_statistics);
        }
        if (need_w) dw = sum_dy_xhat;
        if (need_b) db = sum_dy;
        return std::vector<Tensor>{dx, dw, db};
    });
}

}  // namespace kelvin::ops
