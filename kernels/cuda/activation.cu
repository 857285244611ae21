// ReLU and exact GELU, forward and backward, as grid-stride loops over n floats.
// GELU(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); GELU'(x) = Phi(x) + x phi(x), with
// phi(x) = exp(-x^2 / 2) / sqrt(2 pi). erff and expf (not the __ intrinsics) keep the CPU's
// accuracy, and the kernels stay memory bound either way.
#include "kernels/activation.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// Written as the CPU reference writes it, so that even NaN maps the same way (to 0).
__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride())
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(const float* y, const float* dy, float* dx, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride())
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void gelu_forward_kernel(const float* x, float* y, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + erff(v * kInvSqrt2));
    }
}

__global__ void gelu_backward_kernel(const float* x, const float* dy, float* dx, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * kInvSqrt2));
        float pdf = kInvSqrt2Pi * expf(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    relu_forward_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(x, y, n);
    CUDA_CHECK_LAUNCH();
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    relu_backward_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(y, dy, dx, n);
    CUDA_CHECK_LAUNCH();
}

void gelu_forward(const float* x, float* y, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    gelu_forward_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(x, y, n);
    CUDA_CHECK_LAUNCH();
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
    if (n == 0) return;
    // launch: 256 threads, occupancy >= 100%
    gelu_backward_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(x, dy, dx, n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
