// Layer normalisation over the last axis (torch.nn.functional.layer_norm with
// normalized_shape = [D]): each row of D values is normalised with its own mean and biased
// variance, then scaled by weight and shifted by bias. The forward pass saves each row's mean and
// 1/std, so the backward pass reads x once more instead of recomputing them.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/norm.h"

namespace kelvin::ops {

namespace {

void check_feature_vector(const Tensor& t, const Tensor& x, int64_t d, const char* what) {
    if (!t.defined()) return;
    check_f32(t, "layer_norm");
    check_same_device(x, t, "layer_norm");
    KELVIN_CHECK(t.ndim() == 1 && t.size(0) == d,
                 std::string("layer_norm: expected ") + what + " [" + std::to_string(d) +
                     "] (the last axis of x " + x.describe() + "), got " + t.describe());
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    KELVIN_TRACE_OP("layer_norm", x.device());
    check_f32(x, "layer_norm");
    KELVIN_CHECK(x.ndim() >= 1 && x.size(-1) > 0,
                 "layer_norm: expected x with a non-empty last axis, got " + x.describe());
    const int64_t d = x.size(-1), rows = x.numel() / d;
    check_feature_vector(weight, x, d, "weight");
    check_feature_vector(bias, x, d, "bias");
    KELVIN_CHECK(eps >= 0.0f,
                 "layer_norm: eps must be non-negative, got " + std::to_string(eps));

    const Device device = x.device();
    Tensor y = Tensor::empty(x.shape(), DType::F32, device);
    Tensor mean = Tensor::empty({rows}, DType::F32, device);
    Tensor rstd = Tensor::empty({rows}, DType::F32, device);
    KELVIN_DISPATCH(device, layer_norm_forward, x.f32(), weight.defined() ? weight.f32() : nullptr,
                    bias.defined() ? bias.f32() : nullptr, y.f32(), mean.f32(), rstd.f32(), rows,
                    d, eps);

    if (!needs_grad({&x, &weight, &bias})) return y;
    const bool need_x = x.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    Tensor x_saved = x.detach();
    Tensor w_saved = weight.defined() ? weight.detach() : Tensor();
    return record(y, "layer_norm", {x, weight, bias}, [=](const Tensor& dy) {
        const Device dev = dy.device();
        Tensor dx = need_x ? Tensor::empty(x_saved.shape(), DType::F32, dev) : Tensor();
        Tensor dw = need_w ? Tensor::empty({d}, DType::F32, dev) : Tensor();
        Tensor db = need_b ? Tensor::empty({d}, DType::F32, dev) : Tensor();
        KELVIN_DISPATCH(dev, layer_norm_backward, x_saved.f32(), dy.f32(),
                        w_saved.defined() ? w_saved.f32() : nullptr, mean.f32(), rstd.f32(),
                        need_x ? dx.f32() : nullptr, need_w ? dw.f32() : nullptr,
                        need_b ? db.f32() : nullptr, rows, d);
        return std::vector<Tensor>{dx, dw, db};
    });
}

}  // namespace kelvin::ops
