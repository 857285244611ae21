// Moving tokens around for a vision transformer: cutting images into patch vectors, prepending
// the class token and reading it back. Pure data movement: every output element is one input
// element (or, for gradients, one gradient element or a zero), so CPU and CUDA agree bit for bit.
// The position-embedding add (ops::add_broadcast) reuses bias_add and sum_rows.
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_SEQUENCE_DECLARATIONS                                                          \
    /* images [N, C, H, W] -> patches [N, (H/p)*(W/p), C*p*p], each patch vector ordered     \
       (c, i, j), patches in row-major order of the patch grid; H and W multiples of p */     \
    void patchify_forward(const float* images, float* patches, int64_t batch,                 \
                          int64_t channels, int64_t height, int64_t width, int64_t patch);    \
    /* the inverse permutation: writes every element of grad_images */                       \
    void patchify_backward(const float* grad_patches, float* grad_images, int64_t batch,      \
                           int64_t channels, int64_t height, int64_t width, int64_t patch);   \
    /* out[n, 0, :] = token[:], out[n, 1 + s, :] = x[n, s, :]; out is [N, S + 1, D] */       \
    void prepend_token_forward(const float* x, const float* token, float* out, int64_t batch, \
                               int64_t seq, int64_t dim);                                     \
    /* grad_x [N, S, D] = grad_out[:, 1:, :]; grad_token [D] = sum over n of grad_out[n, 0, :] \
       (in a fixed order, accumulated in double). Either output may be null. */              \
    void prepend_token_backward(const float* grad_out, float* grad_x, float* grad_token,      \
                                int64_t batch, int64_t seq, int64_t dim);                     \
    /* out [N, D] = x[:, index, :] for x [N, S, D] */                                         \
    void select_token_forward(const float* x, float* out, int64_t batch, int64_t seq,         \
                              int64_t dim, int64_t index);                                    \
    /* grad_x [N, S, D]: grad_out at row `index`, zero elsewhere (every element written) */    \
    void select_token_backward(const float* grad_out, float* grad_x, int64_t batch,           \
                               int64_t seq, int64_t dim, int64_t index);
namespace cpu {
KELVIN_SEQUENCE_DECLARATIONS
}
namespace cuda {
KELVIN_SEQUENCE_DECLARATIONS
}
#undef KELVIN_SEQUENCE_DECLARATIONS
}  // namespace kelvin
