// Batch normalisation over [n, c, hw]. A channel's n*hw values are strided across the tensor
// (hw contiguous values per sample), so the per-channel sums are split into chunks: one block
// per (channel, chunk) writes a partial sum in double, then one thread per channel adds its
// chunks in order. No float atomics: the same input gives the same bits on every run. The
// pointwise passes walk the flat tensor with grid-stride loops and track each element's channel
// incrementally instead of dividing per element.
#include "kernels/norm.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

constexpr int kWarps = kBlockSize / 32;

// ---- chunking a channel ------------------------------------------------------------------
// Chunks per channel: enough blocks to fill the GPU when channels are few and maps large
// (64 channels x 128 x 32 x 32 gives 32 chunks each), fixed by the sizes alone.
constexpr int64_t kMinChunkElements = 4096;
constexpr int64_t kMaxChunks = 64;

int64_t chunks_for(int64_t count) {
    int64_t chunks = (count + kMinChunkElements - 1) / kMinChunkElements;
    return chunks < 1 ? 1 : (chunks > kMaxChunks ? kMaxChunks : chunks);
}

// Calls visit(offset) for this thread's share of elements [begin, end) of channel ch, where
// element j of a channel is sample j / hw, position j % hw.
template <typename Visit>
__device__ void for_channel_elements(int64_t ch, int64_t begin, int64_t end, int64_t c,
                                     int64_t hw, Visit visit) {
    int64_t j = begin + threadIdx.x;
    if (j >= end) return;
    int64_t sample = j / hw, s = j - sample * hw;
    const int64_t step_samples = kBlockSize / hw, step_s = kBlockSize % hw;
    for (; j < end; j += kBlockSize) {
        visit((sample * c + ch) * hw + s);
        sample += step_samples;
        s += step_s;
        if (s >= hw) {
            s -= hw;
            ++sample;
        }
    }
}

// Walks flat indices i, i + step, ... of an [n, c, hw] tensor, keeping the channel of each.
struct ChannelWalker {
    int64_t s, ch, step_s, step_ch;
    __device__ ChannelWalker(int64_t i, int64_t step, int64_t c, int64_t hw) {
        const int64_t plane = i / hw;
        s = i - plane * hw;
        ch = plane % c;
        step_s = step % hw;
        step_ch = (step / hw) % c;
    }
    __device__ void advance(int64_t c, int64_t hw) {
        s += step_s;
        int64_t carry = 0;
        if (s >= hw) {
            s -= hw;
            carry = 1;
        }
        ch += step_ch + carry;  // < 2c, so one subtraction wraps it
        if (ch >= c) ch -= c;
    }
};

// All threads must call it, once per kernel (it owns a shared array).
__device__ void block_sum2(double& a, double& b) {
    __shared__ double warp_sums[2][kWarps];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    a = warp_sum(a);
    b = warp_sum(b);
    if (lane == 0) {
        warp_sums[0][warp] = a;
        warp_sums[1][warp] = b;
    }
    __syncthreads();
    if (warp == 0) {
        a = warp_sum(lane < kWarps ? warp_sums[0][lane] : 0.0);
        b = warp_sum(lane < kWarps ? warp_sums[1][lane] : 0.0);
    }
}

// ---- statistics -----------------------------------------------------------------------------
// Block (ch, chunk) writes partial[ch * chunks + chunk] = (sum x, sum x^2). Double sums make the
// one-pass variance E[x^2] - E[x]^2 safe for float inputs unless |mean| exceeds the standard
// deviation by a factor of about 1e6.
__global__ void statistics_partial_kernel(const float* x, double2* partial, int64_t c,
                                          int64_t hw, int64_t count, int64_t chunks,
                                          int64_t per_chunk) {
    const int64_t ch = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
    const int64_t begin = chunk * per_chunk;
    const int64_t end = min(count, begin + per_chunk);
    double sum = 0.0, squares = 0.0;
    for_channel_elements(ch, begin, end, c, hw, [&](int64_t offset) {
        const double v = x[offset];
        sum += v;
        squares += v * v;
    });
    block_sum2(sum, squares);
    if (threadIdx.x == 0) partial[blockIdx.x] = make_double2(sum, squares);
}

__global__ void statistics_finish_kernel(const double2* partial, float* mean, float* invstd,
                                         float* running_mean, float* running_var, int64_t c,
                                         int64_t count, int64_t chunks, float momentum,
                                         float eps) {
    for (int64_t ch = global_thread_index(); ch < c; ch += grid_stride()) {
        double sum = 0.0, squares = 0.0;
        for (int64_t k = 0; k < chunks; ++k) {
            const double2 p = partial[ch * chunks + k];
            sum += p.x;
            squares += p.y;
        }
        const double mu = count > 0 ? sum / count : 0.0;
        double var = count > 0 ? squares / count - mu * mu : 0.0;
        if (var < 0.0) var = 0.0;  // rounding can leave a constant channel slightly negative
        mean[ch] = static_cast<float>(mu);
        invstd[ch] = static_cast<float>(1.0 / sqrt(var + eps));
        if (running_mean) {
            const double unbiased = count > 1 ? var * count / (count - 1) : var;
            running_mean[ch] =
                static_cast<float>((1.0 - momentum) * running_mean[ch] + momentum * mu);
            running_var[ch] =
                static_cast<float>((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        }
    }
}

__global__ void inverse_std_kernel(const float* var, float* invstd, int64_t c, float eps) {
    for (int64_t ch = global_thread_index(); ch < c; ch += grid_stride())
        invstd[ch] = static_cast<float>(1.0 / sqrt(static_cast<double>(var[ch]) + eps));
}

// ---- pointwise passes ---------------------------------------------------------------------------
__global__ void apply_kernel(const float* x, const float* mean, const float* invstd,
                             const float* weight, const float* bias, float* y, int64_t total,
                             int64_t c, int64_t hw) {
    int64_t i = global_thread_index();
    if (i >= total) return;
    ChannelWalker walker(i, grid_stride(), c, hw);
    for (; i < total; i += grid_stride(), walker.advance(c, hw)) {
        const int64_t ch = walker.ch;
        const float scale = invstd[ch] * (weight ? weight[ch] : 1.0f);
        y[i] = (x[i] - mean[ch]) * scale + (bias ? bias[ch] : 0.0f);
    }
}

__global__ void backward_input_kernel(const float* x, const float* dy, const float* mean,
                                      const float* invstd, const float* weight,
                                      const float* sum_dy, const float* sum_dy_xhat, float* dx,
                                      int64_t total, int64_t c, int64_t hw, float inv_count,
                                      bool batch_statistics) {
    int64_t i = global_thread_index();
    if (i >= total) return;
    ChannelWalker walker(i, grid_stride(), c, hw);
    for (; i < total; i += grid_stride(), walker.advance(c, hw)) {
        const int64_t ch = walker.ch;
        const float rs = invstd[ch];
        const float gain = rs * (weight ? weight[ch] : 1.0f);
        const float mean_dy = batch_statistics ? sum_dy[ch] * inv_count : 0.0f;
        const float mean_dy_xhat = batch_statistics ? sum_dy_xhat[ch] * inv_count : 0.0f;
        dx[i] = gain * (dy[i] - mean_dy - (x[i] - mean[ch]) * rs * mean_dy_xhat);
    }
}

// ---- backward sums ---------------------------------------------------------------------------
__global__ void backward_partial_kernel(const float* x, const float* dy, const float* mean,
                                        double2* partial, int64_t c, int64_t hw, int64_t count,
                                        int64_t chunks, int64_t per_chunk) {
    const int64_t ch = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
    const int64_t begin = chunk * per_chunk;
    const int64_t end = min(count, begin + per_chunk);
    const float mu = mean[ch];
    double total_dy = 0.0, total_dy_centered = 0.0;
    for_channel_elements(ch, begin, end, c, hw, [&](int64_t offset) {
        const double g = dy[offset];
        total_dy += g;
        total_dy_centered += g * (x[offset] - mu);
    });
    block_sum2(total_dy, total_dy_centered);
    if (threadIdx.x == 0) partial[blockIdx.x] = make_double2(total_dy, total_dy_centered);
}

__global__ void backward_finish_kernel(const double2* partial, const float* invstd,
                                       float* sum_dy, float* sum_dy_xhat, int64_t c,
                                       int64_t chunks) {
    for (int64_t ch = global_thread_index(); ch < c; ch += grid_stride()) {
        double total_dy = 0.0, total_dy_centered = 0.0;
        for (int64_t k = 0; k < chunks; ++k) {
            const double2 p = partial[ch * chunks + k];
            total_dy += p.x;
            total_dy_centered += p.y;
        }
        sum_dy[ch] = static_cast<float>(total_dy);
        sum_dy_xhat[ch] = static_cast<float>(total_dy_centered * invstd[ch]);
    }
}

}  // namespace

void batch_norm_statistics(const float* x, float* mean, float* invstd, float* running_mean,
                           float* running_var, int64_t n, int64_t c, int64_t hw, float momentum,
                           float eps) {
    if (c == 0) return;
    const int64_t count = n * hw;
    const int64_t chunks = chunks_for(count);
    const int64_t per_chunk = (count + chunks - 1) / chunks;
    ScratchBuffer partial(static_cast<size_t>(c * chunks) * sizeof(double2));
    // hw == 0 would divide by zero in the walk; an empty channel has nothing to visit anyway.
    // launch: 256 threads, occupancy >= 100%
    statistics_partial_kernel<<<static_cast<unsigned>(c * chunks), kBlockSize, 0,
                                current_stream()>>>(x, partial.as<double2>(), c, hw > 0 ? hw : 1,
                                                    count, chunks, per_chunk);
    CUDA_CHECK_LAUNCH();
    // launch: 256 threads, occupancy >= 75%
    statistics_finish_kernel<<<grid_size(c), kBlockSize, 0, current_stream()>>>(
        partial.as<double2>(), mean, invstd, running_mean, running_var, c, count, chunks,
        momentum, eps);
    CUDA_CHECK_LAUNCH();
}

void batch_norm_inverse_std(const float* var, float* invstd, int64_t c, float eps) {
    if (c == 0) return;
    // launch: 256 threads, occupancy >= 75%
    inverse_std_kernel<<<grid_size(c), kBlockSize, 0, current_stream()>>>(var, invstd, c, eps);
    CUDA_CHECK_LAUNCH();
}

void batch_norm_apply(const float* x, const float* mean, const float* invstd,
                      const float* weight, const float* bias, float* y, int64_t n, int64_t c,
                      int64_t hw) {
    const int64_t total = n * c * hw;
    if (total == 0) return;
    // launch: 256 threads, occupancy >= 75%
    apply_kernel<<<grid_size(total), kBlockSize, 0, current_stream()>>>(x, mean, invstd, weight,
                                                                        bias, y, total, c, hw);
    CUDA_CHECK_LAUNCH();
}

void batch_norm_backward_reduce(const float* x, const float* dy, const float* mean,
                                const float* invstd, float* sum_dy, float* sum_dy_xhat,
                                int64_t n, int64_t c, int64_t hw) {
    if (c == 0) return;
    const int64_t count = n * hw;
    const int64_t chunks = chunks_for(count);
    const int64_t per_chunk = (count + chunks - 1) / chunks;
    ScratchBuffer partial(static_cast<size_t>(c * chunks) * sizeof(double2));
    // launch: 256 threads, occupancy >= 75%
    backward_partial_kernel<<<static_cast<unsigned>(c * chunks), kBlockSize, 0,
                              current_stream()>>>(x, dy, mean, partial.as<double2>(), c,
                                                  hw > 0 ? hw : 1, count, chunks, per_chunk);
    CUDA_CHECK_LAUNCH();
    // launch: 256 threads, occupancy >= 100%
    backward_finish_kernel<<<grid_size(c), kBlockSize, 0, current_stream()>>>(
        partial.as<double2>(), invstd, sum_dy, sum_dy_xhat, c, chunks);
    CUDA_CHECK_LAUNCH();
}

void batch_norm_backward_input(const float* x, const float* dy, const float* mean,
                               const float* invstd, const float* weight, const float* sum_dy,
                               const float* sum_dy_xhat, float* dx, int64_t n, int64_t c,
                               int64_t hw, bool batch_statistics) {
    const int64_t total = n * c * hw;
    if (total == 0) return;
    const float inv_count = 1.0f / static_cast<float>(n * hw);
    // launch: 256 threads, occupancy >= 75%
    backward_input_kernel<<<grid_size(total), kBlockSize, 0, current_stream()>>>(
        x, dy, mean, invstd, weight, sum_dy, sum_dy_xhat, dx, total, c, hw, inv_count,
        batch_statistics);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
