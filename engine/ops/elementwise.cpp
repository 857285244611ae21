// add, mul, scale and the unrecorded in-place updates used by autograd and optimizers.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/elementwise.h"

namespace kelvin::ops {

namespace {
void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
    check_f32(a, op);
    check_f32(b, op);
    check_same_device(a, b, op);
    KELVIN_CHECK(a.shape() == b.shape(), std::string(op) + ": shapes differ: " + a.describe() +
                                             " and " + b.describe());
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
    KELVIN_TRACE_OP("add", a.device());
    check_same_shape(a, b, "add");
    Tensor out = Tensor::empty(a.shape(), DType::F32, a.device());
    KELVIN_DISPATCH(a.device(), add, a.f32(), b.f32(), out.f32(), a.numel());
    return record(out, "add", {a, b},
                  [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
    KELVIN_TRACE_OP("mul", a.device());
    check_same_shape(a, b, "mul");
    Tensor out = Tensor::empty(a.shape(), DType::F32, a.device());
    KELVIN_DISPATCH(a.device(), mul, a.f32(), b.f32(), out.f32(), a.numel());
    Tensor a_saved = a.detach(), b_saved = b.detach();
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    return record(out, "mul", {a, b}, [=](const Tensor& g) {
        Tensor da, db;
        if (need_a) {
            da = Tensor::empty(g.shape(), DType::F32, g.device());
            KELVIN_DISPATCH(g.device(), mul, g.f32(), b_saved.f32(), da.f32(), g.numel());
        }
        if (need_b) {
            db = Tensor::empty(g.shape(), DType::F32, g.device());
            KELVIN_DISPATCH(g.device(), mul, g.f32(), a_saved.f32(), db.f32(), g.numel());
        }
        return std::vector<Tensor>{da, db};
    });
}

Tensor scale(const Tensor& a, float alpha) {
    KELVIN_TRACE_OP("scale", a.device());
    check_f32(a, "scale");
    Tensor out = Tensor::empty(a.shape(), DType::F32, a.device());
    KELVIN_DISPATCH(a.device(), scale, a.f32(), alpha, out.f32(), a.numel());
    return record(out, "scale", {a}, [alpha](const Tensor& g) {
        Tensor da = Tensor::empty(g.shape(), DType::F32, g.device());
        KELVIN_DISPATCH(g.device(), scale, g.f32(), alpha, da.f32(), g.numel());
        return std::vector<Tensor>{da};
    });
}

void fill_(Tensor& t, float value) {
    if (t.dtype() == DType::I32)
        KELVIN_DISPATCH(t.device(), fill_i32, t.i32(), static_cast<int32_t>(value), t.numel());
    else
        KELVIN_DISPATCH(t.device(), fill, t.f32(), value, t.numel());
}

void add_inplace(Tensor& dst, const Tensor& src) { axpy_(dst, 1.0f, src); }

void axpy_(Tensor& y, float alpha, const Tensor& x) {
    check_same_shape(y, x, "axpy");
    KELVIN_DISPATCH(y.device(), axpy, alpha, x.f32(), y.f32(), y.numel());
}

}  // namespace kelvin::ops
