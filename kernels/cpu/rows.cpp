#include "kernels/rows.h"

#include <cstring>

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

void gather_rows(const uint32_t* src, const int32_t* index, uint32_t* dst, int64_t rows,
                 int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
    for (int64_t i = 0; i < rows; ++i)
        std::memcpy(dst + i * cols, src + static_cast<int64_t>(index[i]) * cols, cols * sizeof(uint32_t));
}

void gather_columns(const uint32_t* src, const int32_t* index, uint32_t* dst, int64_t rows,
                    int64_t src_cols, int64_t dst_cols) {
#pragma omp parallel for schedule(static) if (rows * dst_cols > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < dst_cols; ++j) dst[r * dst_cols + j] = src[r * src_cols + index[j]];
}

void column_affine(const float* x, const float* scale, const float* shift, float* out,
                   int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* yr = out + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] * scale[c] + shift[c];
    }
}

}  // namespace kelvin::cpu
