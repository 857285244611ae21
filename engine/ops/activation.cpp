// ReLU and GELU (exact, erf form).
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/activation.h"

namespace kelvin::ops {

Tensor relu(const Tensor& x) {
    KELVIN_TRACE_OP("relu", x.device());
    check_f32(x, "relu");
    Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), relu_forward, x.f32(), y.f32(), x.numel());
    Tensor y_saved = y.detach();  // the mask y > 0 is all the backward needs
    return record(y, "relu", {x}, [y_saved](const Tensor& dy) {
        Tensor dx = Tensor::empty(dy.shape(), DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), relu_backward, y_saved.f32(), dy.f32(), dx.f32(), dy.numel());
        return std::vector<Tensor>{dx};
    });
}

Tensor gelu(const Tensor& x) {
    KELVIN_TRACE_OP("gelu", x.device());
    check_f32(x, "gelu");
    Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), gelu_forward, x.f32(), y.f32(), x.numel());
    Tensor x_saved = x.detach();
    return record(y, "gelu", {x}, [x_saved](const Tensor& dy) {
        Tensor dx = Tensor::empty(dy.shape(), DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), gelu_backward, x_saved.f32(), dy.f32(), dx.f32(), dy.numel());
        return std::vector<Tensor>{dx};
    });
}

}  // namespace kelvin::ops
