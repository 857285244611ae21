// Token plumbing for vision transformers: grid-stride copies, one thread per output element.
// Memory-bound and small next to the attention and MLP GEMMs, so the index arithmetic stays
// plain (64-bit divisions) rather than tiled.
#include "kernels/sequence.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

// Patch element o of [N, P, C*p*p] <-> image element of [N, C, H, W]. The index loop runs over
// the image so that its writes (backward) or reads (forward) are coalesced rows; the patch side
// is contiguous in runs of p.
template <bool kToPatches>
__global__ void patch_copy_kernel(const float* __restrict__ src, float* __restrict__ dst,
                                  int64_t total, int64_t channels, int64_t height, int64_t width,
                                  int64_t patch) {
    const int64_t grid_w = width / patch, seq = (height / patch) * grid_w;
    const int64_t patch_len = channels * patch * patch;
    for (int64_t index = global_thread_index(); index < total; index += grid_stride()) {
        const int64_t x = index % width;
        const int64_t y = (index / width) % height;
        const int64_t c = (index / (width * height)) % channels;
        const int64_t n = index / (width * height * channels);
        const int64_t token = n * seq + (y / patch) * grid_w + x / patch;
        const int64_t patch_at = token * patch_len + (c * patch + y % patch) * patch + x % patch;
        if (kToPatches) dst[patch_at] = src[index];
        else dst[index] = src[patch_at];
    }
}

__global__ void prepend_token_kernel(const float* __restrict__ x, const float* __restrict__ token,
                                     float* __restrict__ out, int64_t total, int64_t seq,
                                     int64_t dim) {
    // out is [N, S + 1, D]; row 0 of each item is the token.
    for (int64_t index = global_thread_index(); index < total; index += grid_stride()) {
        const int64_t d = index % dim;
        const int64_t row = (index / dim) % (seq + 1);
        const int64_t n = index / (dim * (seq + 1));
        out[index] = row == 0 ? token[d] : x[(n * seq + row - 1) * dim + d];
    }
}

__global__ void strip_token_kernel(const float* __restrict__ grad_out, float* __restrict__ grad_x,
                                   int64_t total, int64_t seq, int64_t dim) {
    // grad_x is [N, S, D]: row s of item n comes from row s + 1.
    for (int64_t index = global_thread_index(); index < total; index += grid_stride()) {
        const int64_t n = index / (seq * dim);
        grad_x[index] = grad_out[index + (n + 1) * dim];
    }
}

__global__ void token_grad_kernel(const float* __restrict__ grad_out, float* __restrict__ grad_token,
                                  int64_t batch, int64_t seq, int64_t dim) {
    // One thread per feature, summing the batch in order (like the CPU, in double).
    for (int64_t d = global_thread_index(); d < dim; d += grid_stride()) {
        double sum = 0.0;
        for (int64_t n = 0; n < batch; ++n) sum += grad_out[n * (seq + 1) * dim + d];
        grad_token[d] = static_cast<float>(sum);
    }
}

__global__ void select_token_kernel(const float* __restrict__ x, float* __restrict__ out,
                                    int64_t total, int64_t seq, int64_t dim, int64_t index) {
    for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
        const int64_t n = i / dim, d = i % dim;
        out[i] = x[(n * seq + index) * dim + d];
    }
}

__global__ void select_token_backward_kernel(const float* __restrict__ grad_out,
                                             float* __restrict__ grad_x, int64_t total,
                                             int64_t seq, int64_t dim, int64_t index) {
    for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
        const int64_t d = i % dim, row = (i / dim) % seq, n = i / (dim * seq);
        grad_x[i] = row == index ? grad_out[n * dim + d] : 0.0f;
    }
}

}  // namespace

void patchify_forward(const float* images, float* patches, int64_t batch, int64_t channels,
                      int64_t height, int64_t width, int64_t patch) {
    const int64_t total = batch * channels * height * width;
    if (total == 0) return;
    // launch: 256 threads, occupancy >= 75%
    patch_copy_kernel<true><<<grid_size(total), kBlockSize, 0, current_stream()>>>(
        images, patches, total, channels, height, width, patch);
    CUDA_CHECK_LAUNCH();
}

void patchify_backward(const float* grad_patches, float* grad_images, int64_t batch,
                       int64_t channels, int64_t height, int64_t width, int64_t patch) {
    const int64_t total = batch * channels * height * width;
    if (total == 0) return;
    // launch: 256 threads, occupancy >= 75%
    patch_copy_kernel<false><<<grid_size(total), kBlockSize, 0, current_stream()>>>(
        grad_patches, grad_images, total, channels, height, width, patch);
    CUDA_CHECK_LAUNCH();
}

void prepend_token_forward(const float* x, const float* token, float* out, int64_t batch,
                           int64_t seq, int64_t dim) {
    const int64_t total = batch * (seq + 1) * dim;
    if (total == 0) return;
    // launch: 256 threads, occupancy >= 100%
    prepend_token_kernel<<<grid_size(total), kBlockSize, 0, current_stream()>>>(x, token, out,
                                                                                 total, seq, dim);
    CUDA_CHECK_LAUNCH();
}

void prepend_token_backward(const float* grad_out, float* grad_x, float* grad_token,
                            int64_t batch, int64_t seq, int64_t dim) {
    const int64_t total = batch * seq * dim;
    if (grad_x && total > 0) {
        // launch: 256 threads, occupancy >= 100%
        strip_token_kernel<<<grid_size(total), kBlockSize, 0, current_stream()>>>(
            grad_out, grad_x, total, seq, dim);
        CUDA_CHECK_LAUNCH();
    }
    if (grad_token && dim > 0) {
        // launch: 256 threads, occupancy >= 100%
        token_grad_kernel<<<grid_size(dim), kBlockSize, 0, current_stream()>>>(
            grad_out, grad_token, batch, seq, dim);
        CUDA_CHECK_LAUNCH();
    }
}

void select_token_forward(const float* x, float* out, int64_t batch, int64_t seq, int64_t dim,
                          int64_t index) {
    const int64_t total = batch * dim;
    if (total == 0) return;
    // launch: 256 threads, occupancy >= 100%
    select_token_kernel<<<grid_size(total), kBlockSize, 0, current_stream()>>>(x, out, total, seq,
                                                                                dim, index);
    CUDA_CHECK_LAUNCH();
}

void select_token_backward(const float* grad_out, float* grad_x, int64_t batch, int64_t seq,
                           int64_t dim, int64_t index) {
    const int64_t total = batch * seq * dim;
    if (total == 0) return;
    // launch: 256 threads, occupancy >= 100%
    select_token_backward_kernel<<<grid_size(total), kBlockSize, 0, current_stream()>>>(
        grad_out, grad_x, total, seq, dim, index);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
