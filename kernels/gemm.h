// Dense matrix multiply, row-major: C = alpha * op(A) * op(B) + beta * C, where op(X) is X or
// its transpose. op(A) is M x K, op(B) is K x N, C is M x N. Leading dimensions are row strides.
// CPU: OpenBLAS sgemm. CUDA: cuBLAS sgemm (computed as the column-major C^T = B^T A^T).
#pragma once

#include <cstdint>

namespace kelvin {
namespace cpu {
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc);
}
namespace cuda {
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc);
}
}  // namespace kelvin
