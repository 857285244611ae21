#include <algorithm>
#include <cmath>

#include "kernels/normalize.h"

namespace kelvin::cpu {

void l2_normalize_rows_forward(const float* x, float* y, float* row_norm, int64_t rows,
                               int64_t cols, float eps) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        double sq = 0.0;
        for (int64_t c = 0; c < cols; ++c) sq += double(xr[c]) * xr[c];
        const float norm = static_cast<float>(std::sqrt(sq));
        row_norm[r] = norm;
        const float inv = 1.0f / std::max(norm, eps);
        for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = xr[c] * inv;
    }
}

void l2_normalize_rows_backward(const float* y, const float* row_norm, const float* dy, float* dx,
                                int64_t rows, int64_t cols, float eps) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* yr = y + r * cols;
        const float* gr = dy + r * cols;
        const float inv = 1.0f / std::max(row_norm[r], eps);
        // Below eps the forward was a fixed scaling, so the projection term vanishes.
        double dot = 0.0;
        if (row_norm[r] > eps)
            for (int64_t c = 0; c < cols; ++c) dot += double(yr[c]) * gr[c];
        for (int64_t c = 0; c < cols; ++c)
            dx[r * cols + c] = (gr[c] - yr[c] * static_cast<float>(dot)) * inv;
    }
}

}  // namespace kelvin::cpu
