// Unrecorded row gathers and per-column affine maps (shuffled mini-batches, standardisation).
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/rows.h"

namespace kelvin::ops {

Tensor gather_rows(const Tensor& x, const Tensor& index) {
    KELVIN_TRACE_OP("gather_rows", x.device());
    KELVIN_CHECK(x.ndim() >= 1, "gather_rows: x must have a first axis, got " + x.describe());
    KELVIN_CHECK(index.dtype() == DType::I32 && index.ndim() == 1,
                 "gather_rows: index must be i32 [K], got " + index.describe());
    check_same_device(x, index, "gather_rows");
    const int64_t cols = x.size(0) ? x.numel() / x.size(0) : 0;
    Shape shape = x.shape();
    shape[0] = index.numel();
    Tensor out = Tensor::empty(shape, x.dtype(), x.device());
    KELVIN_DISPATCH(x.device(), gather_rows, x.data<uint32_t>(), index.i32(), out.data<uint32_t>(),
                    index.numel(), cols);
    return out;
}

Tensor gather_columns(const Tensor& x, const Tensor& index) {
    KELVIN_TRACE_OP("gather_columns", x.device());
    KELVIN_CHECK(x.ndim() == 2, "gather_columns: expected [N, D], got " + x.describe());
    KELVIN_CHECK(index.dtype() == DType::I32 && index.ndim() == 1,
                 "gather_columns: index must be i32 [K], got " + index.describe());
    check_same_device(x, index, "gather_columns");
    Tensor out = Tensor::empty({x.size(0), index.numel()}, x.dtype(), x.device());
    KELVIN_DISPATCH(x.device(), gather_columns, x.data<uint32_t>(), index.i32(),
                    out.data<uint32_t>(), x.size(0), x.size(1), index.numel());
    return out;
}

Tensor column_affine(const Tensor& x, const Tensor& scale, const Tensor& shift) {
    KELVIN_TRACE_OP("column_affine", x.device());
    check_f32(x, "column_affine");
    const int64_t cols = x.size(-1);
    KELVIN_CHECK(scale.numel() == cols && shift.numel() == cols,
                 "column_affine: scale and shift need " + std::to_string(cols) + " values");
    check_same_device(x, scale, "column_affine");
    check_same_device(x, shift, "column_affine");
    Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), column_affine, x.f32(), scale.f32(), shift.f32(), out.f32(),
                    x.numel() / std::max<int64_t>(cols, 1), cols);
    return out;
}

}  // namespace kelvin::ops
