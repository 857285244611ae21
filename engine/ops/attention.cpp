// Multi-head self-attention on packed q, k, v projections (no mask, no dropout). The forward
// saves qkv, the output and one logsumexp per query row ([N, heads, S]); the backward recomputes
// the attention probabilities from them, so no S x S matrix outlives a kernel call.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/attention.h"

namespace kelvin::ops {

Tensor multi_head_attention(const Tensor& qkv, int heads) {
    KELVIN_TRACE_OP("multi_head_attention", qkv.device());
    check_f32(qkv, "multi_head_attention");
    KELVIN_CHECK(qkv.ndim() == 3, "multi_head_attention: expected qkv [N, S, 3*D], got " +
                                      qkv.describe());
    KELVIN_CHECK(heads >= 1, "multi_head_attention: heads must be at least 1, got " +
                                 std::to_string(heads));
    const int64_t batch = qkv.size(0), seq = qkv.size(1), packed = qkv.size(2);
    KELVIN_CHECK(packed % (3 * static_cast<int64_t>(heads)) == 0,
                 "multi_head_attention: last axis of " + qkv.describe() +
                     " must be 3 * heads * head_dim with heads = " + std::to_string(heads));
    const int64_t dim = packed / 3, head_dim = dim / heads;
    KELVIN_CHECK(head_dim >= 1 && head_dim <= kMaxAttentionHeadDim,
                 "multi_head_attention: head dimension " + std::to_string(head_dim) +
                     " (D = " + std::to_string(dim) + ", heads = " + std::to_string(heads) +
                     ") is outside 1.." + std::to_string(kMaxAttentionHeadDim) +
                     "; use more heads");

    Tensor out = Tensor::empty({batch, seq, dim}, DType::F32, qkv.device());
    Tensor lse = Tensor::empty({batch, static_cast<int64_t>(heads), seq}, DType::F32,
                               qkv.device());
    if (out.numel() == 0) return out;
    KELVIN_DISPATCH(qkv.device(), attention_forward, qkv.f32(), out.f32(), lse.f32(), batch, seq,
                    heads, head_dim);
    if (!needs_grad({&qkv})) return out;

    Tensor qkv_saved = qkv.detach(), out_saved = out.detach();
    return record(out, "multi_head_attention", {qkv}, [=](const Tensor& d_out) {
        Tensor d_qkv = Tensor::empty(qkv_saved.shape(), DType::F32, d_out.device());
        KELVIN_DISPATCH(d_out.device(), attention_backward, qkv_saved.f32(), out_saved.f32(),
                        lse.f32(), d_out.f32(), d_qkv.f32(), batch, seq, heads, head_dim);
        return std::vector<Tensor>{d_qkv};
    });
}

}  // namespace kelvin::ops
