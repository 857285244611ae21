// Inverted dropout (torch.nn.functional.dropout): in training, each element is zeroed with
// probability p and the survivors are scaled by 1/(1-p), so evaluation needs no rescaling. The
// mask is a pure function of (seed, element index) (kernels/dropout.h): the backward pass
// recomputes it rather than keeping it, and the same seed drops the same elements on either
// device. Callers vary the seed from step to step (nn::Dropout does).
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/dropout.h"

namespace kelvin::ops {

Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed) {
    KELVIN_TRACE_OP("dropout", x.device());
    check_f32(x, "dropout");
    KELVIN_CHECK(std::isfinite(p) && p >= 0.0f && p < 1.0f,
                 "dropout: p must be in [0, 1), got " + std::to_string(p));
    if (!training || p == 0.0f) return x;  // the identity, as in PyTorch

    const uint64_t threshold = dropout_threshold(p);
    const float scale = dropout_scale(p);
    Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), dropout_apply, x.f32(), y.f32(), x.numel(), seed, threshold,
                    scale);
    return record(y, "dropout", {x}, [seed, threshold, scale](const Tensor& dy) {
        // y = x * mask * scale is linear in x: its backward is the same map applied to dy.
        Tensor dx = Tensor::empty(dy.shape(), DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), dropout_apply, dy.f32(), dx.f32(), dy.numel(), seed,
                        threshold, scale);
        return std::vector<Tensor>{dx};
    });
}

}  // namespace kelvin::ops
