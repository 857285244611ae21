// Row-wise L2 normalisation, y_r = x_r / max(||x_r||, eps): the "normalised logits" head of the
// paper's normalisation-placement study.
//   backward: dx_r = (dy_r - y_r (y_r . dy_r)) / max(||x_r||, eps)
//   (when the norm is clamped at eps the map is linear, dx_r = dy_r / eps)
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_NORMALIZE_DECLARATIONS                                                        \
    void l2_normalize_rows_forward(const float* x, float* y, float* row_norm, int64_t rows,  \
                                   int64_t cols, float eps);                                 \
    void l2_normalize_rows_backward(const float* y, const float* row_norm, const float* dy,  \
                                    float* dx, int64_t rows, int64_t cols, float eps);
namespace cpu {
KELVIN_NORMALIZE_DECLARATIONS
}
namespace cuda {
KELVIN_NORMALIZE_DECLARATIONS
}
#undef KELVIN_NORMALIZE_DECLARATIONS
}  // namespace kelvin
