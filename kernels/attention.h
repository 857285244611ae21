// Multi-head self-attention on packed projections, without mask or dropout.
//   qkv [N, S, 3D]: q = qkv[..., 0:D], k = qkv[..., D:2D], v = qkv[..., 2D:3D]; head h owns
//   columns h*Dh .. (h+1)*Dh of each, Dh = D / heads.
//   P = softmax(q k^T / sqrt(Dh)) per (n, h);  out[n, s, h*Dh + d] = (P v)[s, d]   ([N, S, D])
// The forward also writes each query row's logsumexp of the scaled scores, lse [N, heads, S];
// the backward recomputes P = exp(q k^T / sqrt(Dh) - lse) from it instead of saving S x S.
// CPU: per (n, h) GEMMs through the saved logsumexp; CUDA: a fused online-softmax kernel
// (flash attention) and a two-pass deterministic backward. See docs/KERNELS-attention.md.
#pragma once

#include <cstdint>

namespace kelvin {

// Largest head dimension the kernels accept (the CUDA kernels keep a head row in registers).
constexpr int64_t kMaxAttentionHeadDim = 128;

#define KELVIN_ATTENTION_DECLARATIONS                                                          \
    void attention_forward(const float* qkv, float* out, float* logsumexp, int64_t batch,     \
                           int64_t seq, int64_t heads, int64_t head_dim);                     \
    /* grad_qkv [N, S, 3D]: every element written (dq, dk, dv side by side like qkv) */      \
    void attention_backward(const float* qkv, const float* out, const float* logsumexp,       \
                            const float* grad_out, float* grad_qkv, int64_t batch,            \
                            int64_t seq, int64_t heads, int64_t head_dim);
namespace cpu {
KELVIN_ATTENTION_DECLARATIONS
}
namespace cuda {
KELVIN_ATTENTION_DECLARATIONS
}
#undef KELVIN_ATTENTION_DECLARATIONS
}  // namespace kelvin
