// Pointwise kernels: grid-stride loops over n contiguous floats. They are bound by memory
// bandwidth, and coalesced scalar loads already stream it; outputs may alias inputs (in-place
// updates), so no pointer is __restrict__.
#include "kernels/elementwise.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

template <typename T>
__global__ void fill_kernel(T* out, T value, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = value;
}

__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = a[i] + b[i];
}

__global__ void axpy_kernel(float alpha, const float* x, float* y, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) y[i] += alpha * x[i];
}

__global__ void mul_kernel(const float* a, const float* b, float* out, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = a[i] * b[i];
}

__global__ void scale_kernel(const float* a, float alpha, float* out, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = alpha * a[i];
}

// The bias of element i is bias[i mod cols]. One flat loop keeps every thread busy whatever
// the row length (10 logits or 4096 features). A 64-bit modulo per element would cost more than
// the memory traffic, so each thread takes one and then advances its column incrementally.
template <bool kRelu>
__global__ void bias_add_kernel(const float* x, const float* bias, float* out, int64_t rows,
                                int64_t cols) {
    int64_t n = rows * cols;
    int64_t i = global_thread_index();
    int64_t col = i % cols;
    const int64_t col_step = grid_stride() % cols;
    for (; i < n; i += grid_stride()) {
        float value = x[i] + bias[col];
        out[i] = kRelu && value < 0.0f ? 0.0f : value;  // NaN passes, as std::max on the CPU
        col += col_step;
        if (col >= cols) col -= cols;
    }
}

template <typename T>
void launch_fill(T* out, T value, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    fill_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(out, value, n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace

void fill(float* out, float value, int64_t n) { launch_fill(out, value, n); }

void fill_i32(int32_t* out, int32_t value, int64_t n) { launch_fill(out, value, n); }

void add(const float* a, const float* b, float* out, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    add_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(a, b, out, n);
    CUDA_CHECK_LAUNCH();
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    axpy_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(alpha, x, y, n);
    CUDA_CHECK_LAUNCH();
}

void mul(const float* a, const float* b, float* out, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    mul_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(a, b, out, n);
    CUDA_CHECK_LAUNCH();
}

void scale(const float* a, float alpha, float* out, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    scale_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(a, alpha, out, n);
    CUDA_CHECK_LAUNCH();
}

void bias_add(const float* x, const float* bias, float* out, int64_t rows, int64_t cols) {
    if (rows == 0 || cols == 0) return;
    // launch: 256 threads, occupancy >= 100%
    bias_add_kernel<false><<<grid_size(rows * cols), kBlockSize, 0, current_stream()>>>(
        x, bias, out, rows, cols);
    CUDA_CHECK_LAUNCH();
}

void bias_relu(const float* x, const float* bias, float* out, int64_t rows, int64_t cols) {
    if (rows == 0 || cols == 0) return;
    // launch: 256 threads, occupancy >= 100%
    bias_add_kernel<true><<<grid_size(rows * cols), kBlockSize, 0, current_stream()>>>(
        x, bias, out, rows, cols);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
