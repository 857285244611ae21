#include "kernels/sequence.h"

#include <cstring>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

namespace {

// Copies between an image batch and its patch vectors, one image row segment (p contiguous
// floats) at a time. kToPatches: src is the images and dst the patches; otherwise the reverse.
// Either way every element is touched once.
template <bool kToPatches>
void patch_copy(const float* src, float* dst, int64_t batch, int64_t channels, int64_t height,
                int64_t width, int64_t patch) {
    const int64_t grid_w = width / patch, grid_h = height / patch;
    const int64_t patch_len = channels * patch * patch, seq = grid_h * grid_w;
    const int64_t planes = batch * channels;
#pragma omp parallel for schedule(static) if (planes * height * width > kParallelThreshold)
    for (int64_t plane = 0; plane < planes; ++plane) {
        const int64_t n = plane / channels, c = plane % channels;
        for (int64_t y = 0; y < height; ++y) {
            const int64_t py = y / patch, i = y % patch;
            for (int64_t px = 0; px < grid_w; ++px) {
                const int64_t image_at = (plane * height + y) * width + px * patch;
                const int64_t patch_at =
                    (n * seq + py * grid_w + px) * patch_len + (c * patch + i) * patch;
                if (kToPatches) std::memcpy(dst + patch_at, src + image_at, patch * sizeof(float));
                else std::memcpy(dst + image_at, src + patch_at, patch * sizeof(float));
            }
        }
    }
}

}  // namespace

void patchify_forward(const float* images, float* patches, int64_t batch, int64_t channels,
                      int64_t height, int64_t width, int64_t patch) {
    patch_copy<true>(images, patches, batch, channels, height, width, patch);
}

void patchify_backward(const float* grad_patches, float* grad_images, int64_t batch,
                       int64_t channels, int64_t height, int64_t width, int64_t patch) {
    patch_copy<false>(grad_patches, grad_images, batch, channels, height, width, patch);
}

void prepend_token_forward(const float* x, const float* token, float* out, int64_t batch,
                           int64_t seq, int64_t dim) {
    for (int64_t n = 0; n < batch; ++n) {
        float* dst = out + n * (seq + 1) * dim;
        std::memcpy(dst, token, dim * sizeof(float));
        std::memcpy(dst + dim, x + n * seq * dim, seq * dim * sizeof(float));
    }
}

void prepend_token_backward(const float* grad_out, float* grad_x, float* grad_token,
                            int64_t batch, int64_t seq, int64_t dim) {
    if (grad_x)
        for (int64_t n = 0; n < batch; ++n)
            std::memcpy(grad_x + n * seq * dim, grad_out + (n * (seq + 1) + 1) * dim,
                        seq * dim * sizeof(float));
    if (grad_token) {
        std::vector<double> acc(dim, 0.0);
        for (int64_t n = 0; n < batch; ++n) {
            const float* row = grad_out + n * (seq + 1) * dim;
            for (int64_t d = 0; d < dim; ++d) acc[d] += row[d];
        }
        for (int64_t d = 0; d < dim; ++d) grad_token[d] = static_cast<float>(acc[d]);
    }
}

void select_token_forward(const float* x, float* out, int64_t batch, int64_t seq, int64_t dim,
                          int64_t index) {
    for (int64_t n = 0; n < batch; ++n)
        std::memcpy(out + n * dim, x + (n * seq + index) * dim, dim * sizeof(float));
}

void select_token_backward(const float* grad_out, float* grad_x, int64_t batch, int64_t seq,
                           int64_t dim, int64_t index) {
    std::memset(grad_x, 0, batch * seq * dim * sizeof(float));
    for (int64_t n = 0; n < batch; ++n)
        std::memcpy(grad_x + (n * seq + index) * dim, grad_out + n * dim, dim * sizeof(float));
}

}  // namespace kelvin::cpu
