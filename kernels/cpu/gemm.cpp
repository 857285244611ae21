// CPU GEMM: OpenBLAS sgemm, parallelised by kelvin rather than by OpenBLAS.
//
// Why: OpenBLAS (Debian's pthread build) and OpenMP each keep their own worker threads, and both
// spin for a while after finishing work. A training step alternates GEMMs with OpenMP pointwise
// kernels, so on a 2-core machine the two pools fight over the cores: the mlp6x1024_b128 step
// measured 2-4x slower that way than with one pool. So OpenBLAS is told to stay single-threaded
// and this function splits the output into one panel per OpenMP thread instead; every parallel
// loop in kelvin then shares libgomp's one team.
#include "kernels/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

namespace kelvin::cpu {

namespace {
// Below this many multiply-adds a second thread costs more than it saves.
constexpr int64_t kParallelFlops = int64_t(1) << 18;

struct SingleThreadedOpenBlas {
    SingleThreadedOpenBlas() { openblas_set_num_threads(1); }
};
const SingleThreadedOpenBlas kSingleThreadedOpenBlas;

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                static_cast<blasint>(ldc));
}
}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
    if (m == 0 || n == 0) return;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads <= 1 || m * n * k < kParallelFlops) {
        sgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    // Split the longer output dimension into panels; panel widths are multiples of 16 floats
    // (one AVX-512 register) so each panel starts on an aligned column.
    const bool split_columns = n >= m;
    const int64_t extent = split_columns ? n : m;
    const int64_t quantum = 16;
    // Panels of ceil(extent / threads) rounded up to the quantum, so that `threads` panels
    // cover the extent (rounding the floor instead left the last rows or columns unwritten).
    const int64_t per_thread = ((extent + threads - 1) / threads + quantum - 1) / quantum * quantum;
    const int64_t panels = (extent + per_thread - 1) / per_thread;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t panel = 0; panel < panels; ++panel) {
        const int64_t begin = panel * per_thread;
        const int64_t end = std::min(extent, begin + per_thread);
        if (split_columns) {
            // Columns [begin, end) of C need columns [begin, end) of op(B).
            const float* b_panel = transpose_b ? b + begin * ldb : b + begin;
            sgemm(transpose_a, transpose_b, m, end - begin, k, alpha, a, lda, b_panel, ldb, beta,
                  c + begin, ldc);
        } else {
            // Rows [begin, end) of C need rows [begin, end) of op(A).
            const float* a_panel = transpose_a ? a + begin : a + begin * lda;
            sgemm(transpose_a, transpose_b, end - begin, n, k, alpha, a_panel, lda, b, ldb, beta,
                  c + begin * ldc, ldc);
        }
    }
}

}  // namespace kelvin::cpu
