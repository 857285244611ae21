// Row-wise data movement and per-column affine maps over row-major [rows, cols] matrices:
// the building blocks of shuffled mini-batches on the device and of feature standardisation.
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_ROWS_DECLARATIONS                                                             \
    /* dst[i, :] = src[index[i], :] for i < rows; 32-bit elements of any type */             \
    void gather_rows(const uint32_t* src, const int32_t* index, uint32_t* dst, int64_t rows, \
                     int64_t cols);                                                          \
    /* dst[r, j] = src[r, index[j]] for j < dst_cols; 32-bit elements of any type */         \
    void gather_columns(const uint32_t* src, const int32_t* index, uint32_t* dst,            \
                        int64_t rows, int64_t src_cols, int64_t dst_cols);                   \
    /* out[r, c] = x[r, c] * scale[c] + shift[c] */                                           \
    void column_affine(const float* x, const float* scale, const float* shift, float* out,   \
                       int64_t rows, int64_t cols);
namespace cpu {
KELVIN_ROWS_DECLARATIONS
}
namespace cuda {
KELVIN_ROWS_DECLARATIONS
}
#undef KELVIN_ROWS_DECLARATIONS
}  // namespace kelvin
