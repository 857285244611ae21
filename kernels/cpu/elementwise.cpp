#include "kernels/elementwise.h"

#include <algorithm>

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

void fill(float* out, float value, int64_t n) {
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) out[i] = value;
}

void fill_i32(int32_t* out, int32_t value, int64_t n) { std::fill(out, out + n, value); }

void add(const float* a, const float* b, float* out, int64_t n) {
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void mul(const float* a, const float* b, float* out, int64_t n) {
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void scale(const float* a, float alpha, float* out, int64_t n) {
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) out[i] = alpha * a[i];
}

void bias_add(const float* x, const float* bias, float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* yr = out + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] + bias[c];
    }
}

void bias_relu(const float* x, const float* bias, float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* yr = out + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) yr[c] = std::max(xr[c] + bias[c], 0.0f);
    }
}

}  // namespace kelvin::cpu
