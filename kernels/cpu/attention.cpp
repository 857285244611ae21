// Attention on the CPU: for each (batch item, head) the score matrix is one SGEMM straight out of
// the packed qkv rows (leading dimension 3D, no gather), a row softmax, and one SGEMM with v.
// The (n, h) pairs are independent, so OpenMP splits them across threads; each thread owns its
// S x S scratch, and kelvin::cpu::gemm runs single-threaded inside the parallel region (one
// thread pool, no nesting; per-pair GEMMs are too small to split anyway). The backward recomputes P from the saved logsumexp, like the CUDA kernel, so
// both devices save the same tensors. The softmax's exponentials are exp_nonpositive (its
// arguments are <= 0), vectorised; std::exp kept those loops scalar.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/exp_nonpositive.h"
#include "kernels/gemm.h"

namespace kelvin::cpu {

namespace {

// Where head h of batch item n lives: q, k, v rows have stride 3D; out rows have stride D.
struct HeadView {
    const float* q;
    const float* k;
    const float* v;
    int64_t qkv_stride;
    int64_t out_offset;  // of (n, row 0, head h) in an [N, S, D] tensor
    int64_t qkv_offset;  // of (n, row 0, q of head h) in the [N, S, 3D] tensor
};

HeadView head_view(const float* qkv, int64_t n, int64_t h, int64_t seq, int64_t heads,
                   int64_t head_dim) {
    const int64_t dim = heads * head_dim;
    const int64_t qkv_offset = n * seq * 3 * dim + h * head_dim;
    const float* q = qkv + qkv_offset;
    return {q, q + dim, q + 2 * dim, 3 * dim, n * seq * dim + h * head_dim, qkv_offset};
}

// Work below this many multiply-adds per call stays on one thread.
constexpr int64_t kParallelFlops = 1 << 18;

}  // namespace

void attention_forward(const float* qkv, float* out, float* logsumexp, int64_t batch,
                       int64_t seq, int64_t heads, int64_t head_dim) {
    const int64_t dim = heads * head_dim, pairs = batch * heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
#pragma omp parallel if (pairs * seq * seq * head_dim > kParallelFlops)
    {
        std::vector<float> probs(seq * seq);
#pragma omp for schedule(static)
        for (int64_t pair = 0; pair < pairs; ++pair) {
            const int64_t n = pair / heads, h = pair % heads;
            const HeadView view = head_view(qkv, n, h, seq, heads, head_dim);
            gemm(false, true, seq, seq, head_dim, scale, view.q, view.qkv_stride, view.k,
                 view.qkv_stride, 0.0f, probs.data(), seq);
            float* lse = logsumexp + pair * seq;
            for (int64_t i = 0; i < seq; ++i) {
                float* row = probs.data() + i * seq;
                const float row_max = *std::max_element(row, row + seq);
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int64_t j = 0; j < seq; ++j) {
                    row[j] = exp_nonpositive(row[j] - row_max);
                    sum += row[j];
                }
                const float inv = 1.0f / sum;
                for (int64_t j = 0; j < seq; ++j) row[j] *= inv;
                lse[i] = row_max + std::log(sum);
            }
            gemm(false, false, seq, head_dim, seq, 1.0f, probs.data(), seq, view.v,
                 view.qkv_stride, 0.0f, out + view.out_offset, dim);
        }
    }
}

void attention_backward(const float* qkv, const float* out, const float* logsumexp,
                        const float* grad_out, float* grad_qkv, int64_t batch, int64_t seq,
                        int64_t heads, int64_t head_dim) {
    const int64_t dim = heads * head_dim, pairs = batch * heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
#pragma omp parallel if (pairs * seq * seq * head_dim > kParallelFlops)
    {
        std::vector<float> probs(seq * seq), grad_scores(seq * seq);
#pragma omp for schedule(static)
        for (int64_t pair = 0; pair < pairs; ++pair) {
            const int64_t n = pair / heads, h = pair % heads;
            const HeadView view = head_view(qkv, n, h, seq, heads, head_dim);
            const float* d_out = grad_out + view.out_offset;
            const float* o = out + view.out_offset;
            float* dq = grad_qkv + view.qkv_offset;
            float* dk = dq + dim;
            float* dv = dq + 2 * dim;
            const float* lse = logsumexp + pair * seq;

            // P = exp(q k^T * scale - lse), recomputed.
            gemm(false, true, seq, seq, head_dim, scale, view.q, view.qkv_stride, view.k,
                 view.qkv_stride, 0.0f, probs.data(), seq);
            for (int64_t i = 0; i < seq; ++i) {
                float* row = probs.data() + i * seq;
                const float row_lse = lse[i];
#pragma omp simd
                for (int64_t j = 0; j < seq; ++j) row[j] = exp_nonpositive(row[j] - row_lse);
            }
            // dV = P^T dO;  dP = dO V^T
            gemm(true, false, seq, head_dim, seq, 1.0f, probs.data(), seq, d_out, dim, 0.0f, dv,
                 view.qkv_stride);
            gemm(false, true, seq, seq, head_dim, 1.0f, d_out, dim, view.v, view.qkv_stride,
                 0.0f, grad_scores.data(), seq);
            // dS = P * (dP - rowsum(dO * O)): the softmax Jacobian, with sum_j P dP = dO . O.
            for (int64_t i = 0; i < seq; ++i) {
                float dot = 0.0f;
                for (int64_t d = 0; d < head_dim; ++d) dot += d_out[i * dim + d] * o[i * dim + d];
                const float* p = probs.data() + i * seq;
                float* ds = grad_scores.data() + i * seq;
                for (int64_t j = 0; j < seq; ++j) ds[j] = p[j] * (ds[j] - dot);
            }
            // dQ = scale * dS K;  dK = scale * dS^T Q
            gemm(false, false, seq, head_dim, seq, scale, grad_scores.data(), seq, view.k,
                 view.qkv_stride, 0.0f, dq, view.qkv_stride);
            gemm(true, false, seq, head_dim, seq, scale, grad_scores.data(), seq, view.q,
                 view.qkv_stride, 0.0f, dk, view.qkv_stride);
        }
    }
}

}  // namespace kelvin::cpu
