// Row-major gemm on cuBLAS, which is column-major. A row-major M x N matrix with row stride ld
// is, read column-major, its N x M transpose with the same leading dimension. So the row-major
// C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T: swap the operands and
// M with N, keep each operand's transpose flag, and cuBLAS writes C in row-major order.
#include "kernels/gemm.h"

#include <climits>
#include <string>

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

// C = beta * C for the K == 0 case, where cuBLAS would need leading dimensions of an empty
// operand to be valid. beta == 0 writes zeros without reading C (BLAS semantics: C may hold NaN).
__global__ void scale_matrix_kernel(float* c, int64_t ldc, int64_t m, int64_t n, float beta) {
    for (int64_t i = global_thread_index(); i < m * n; i += grid_stride()) {
        int64_t row = i / n;
        int64_t col = i - row * n;
        float* element = c + row * ldc + col;
        *element = beta == 0.0f ? 0.0f : beta * *element;
    }
}

int to_int(int64_t value, const char* name) {
    KELVIN_CHECK(value >= 0 && value <= INT_MAX,
                 std::string("cuda::gemm: ") + name + " = " + std::to_string(value) +
                     " is outside cuBLAS's 32-bit range");
    return static_cast<int>(value);
}

}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        // launch: 256 threads, occupancy >= 100%
        scale_matrix_kernel<<<grid_size(m * n), kBlockSize, 0, current_stream()>>>(c, ldc, m, n,
                                                                                    beta);
        CUDA_CHECK_LAUNCH();
        return;
    }
    // cuBLAS's pointer mode is host (the default), so alpha and beta are read from here.
    CUBLAS_CHECK(cublasSgemm(cublas_handle(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, to_int(n, "n"),
                             to_int(m, "m"), to_int(k, "k"), &alpha, b, to_int(ldb, "ldb"), a,
                             to_int(lda, "lda"), &beta, c, to_int(ldc, "ldc")));
}

}  // namespace kelvin::cuda
