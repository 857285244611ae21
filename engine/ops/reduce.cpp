// sum and mean to a scalar, and the unrecorded row queries (argmax, norms, column sums).
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace kelvin::ops {

namespace {
Tensor scaled_sum(const Tensor& x, float factor, const char* name) {
    check_f32(x, name);
    Tensor out = Tensor::empty({1}, DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), sum_all, x.f32(), out.f32(), x.numel(), factor);
    Shape shape = x.shape();
    return record(out, name, {x}, [shape, factor](const Tensor& g) {
        // dx = factor * g[0] everywhere, without reading g on the host: a bias add of the
        // one-element g onto a zero column (not a hot path; the loss takes its scale directly).
        Tensor dx = Tensor::zeros(shape, DType::F32, g.device());
        KELVIN_DISPATCH(g.device(), bias_add, dx.f32(), g.f32(), dx.f32(), dx.numel(), 1);
        if (factor != 1.0f)
            KELVIN_DISPATCH(g.device(), scale, dx.f32(), factor, dx.f32(), dx.numel());
        return std::vector<Tensor>{dx};
    });
}
}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum(x, 1.0f, "sum"); }
Tensor mean(const Tensor& x) {
    KELVIN_TRACE_OP("sum", x.device());
    KELVIN_CHECK(x.numel() > 0, "mean of an empty tensor");
    return scaled_sum(x, 1.0f / static_cast<float>(x.numel()), "mean");
}

Tensor argmax_rows(const Tensor& x) {
    KELVIN_TRACE_OP("argmax_rows", x.device());
    check_f32(x, "argmax_rows");
    KELVIN_CHECK(x.ndim() == 2, "argmax_rows: expected [N, C], got " + x.describe());
    Tensor out = Tensor::empty({x.size(0)}, DType::I32, x.device());
    KELVIN_DISPATCH(x.device(), argmax_rows, x.f32(), out.i32(), x.size(0), x.size(1));
    return out;
}

Tensor row_norms(const Tensor& x) {
    KELVIN_TRACE_OP("row_norms", x.device());
    check_f32(x, "row_norms");
    KELVIN_CHECK(x.ndim() == 2, "row_norms: expected [N, C], got " + x.describe());
    Tensor out = Tensor::empty({x.size(0)}, DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), row_norms, x.f32(), out.f32(), x.size(0), x.size(1));
    return out;
}

Tensor sum_rows(const Tensor& x) {
    KELVIN_TRACE_OP("sum_rows", x.device());
    check_f32(x, "sum_rows");
    KELVIN_CHECK(x.ndim() == 2, "sum_rows: expected [N, C], got " + x.describe());
    Tensor out = Tensor::empty({x.size(1)}, DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), sum_rows, x.f32(), out.f32(), x.size(0), x.size(1));
    return out;
}

}  // namespace kelvin::ops
