#include "kernels/reduce.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

void sum_all(const float* x, float* out, int64_t n, float scale) {
    double total = 0.0;  // double: the order of a float sum would matter at 1e-4
    for (int64_t i = 0; i < n; ++i) total += x[i];
    out[0] = static_cast<float>(total * scale);
}

void sum_rows(const float* x, float* out, int64_t rows, int64_t cols) {
    // Column sums, accumulated row by row so the inner loop is contiguous and vectorises.
    std::vector<double> acc(cols, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) acc[c] += xr[c];
    }
    for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(acc[c]);
}

void argmax_rows(const float* x, int32_t* out, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        int64_t best = 0;
        for (int64_t c = 1; c < cols; ++c)
            if (xr[c] > xr[best]) best = c;
        out[r] = static_cast<int32_t>(best);
    }
}

void row_norms(const float* x, float* out, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        double s = 0.0;
        for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(xr[c]) * xr[c];
        out[r] = static_cast<float>(std::sqrt(s));
    }
}

}  // namespace kelvin::cpu
