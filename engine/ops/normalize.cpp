// l2_normalize_rows: y_r = x_r / max(||x_r||, eps), the normalised-logits head.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/normalize.h"

namespace kelvin::ops {

Tensor l2_normalize_rows(const Tensor& x, float eps) {
    KELVIN_TRACE_OP("l2_normalize_rows", x.device());
    check_f32(x, "l2_normalize_rows");
    KELVIN_CHECK(x.ndim() == 2, "l2_normalize_rows: expected [N, C], got " + x.describe());
    const int64_t rows = x.size(0), cols = x.size(1);
    Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
    Tensor norms = Tensor::empty({rows}, DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), l2_normalize_rows_forward, x.f32(), y.f32(), norms.f32(), rows,
                    cols, eps);
    Tensor y_saved = y.detach();
    return record(y, "l2_normalize_rows", {x}, [=](const Tensor& dy) {
        Tensor dx = Tensor::empty(dy.shape(), DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), l2_normalize_rows_backward, y_saved.f32(), norms.f32(),
                        dy.f32(), dx.f32(), rows, cols, eps);
        return std::vector<Tensor>{dx};
    });
}

}  // namespace kelvin::ops
