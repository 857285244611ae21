// Layer normalisation over rows of d values. One warp per row: the rows of a transformer or an
// MLP (d from tens to a few thousand) are short enough that 32 lanes stay busy with no block-wide
// synchronisation, and a row (a few KB) stays in L1 between the passes over it, so DRAM sees
// each row once per direction. The forward pass is two-pass (mean, then squared deviations, as
// in llm.c's layernorm kernels) for a variance that does not cancel.
//
// The weight and bias gradients are column sums over rows. Instead of float atomics, blocks of
// 32 columns x one chunk of rows write partial sums in double, and one more pass adds the chunks
// in order: deterministic, like kelvin's sum_rows.
#include "kernels/norm.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {


__device__ int64_t warp_index() { return global_thread_index() / 32; }
__device__ int64_t warp_count() { return grid_stride() / 32; }
unsigned grid_for_rows(int64_t rows) { return grid_size(rows * 32); }

__global__ void forward_kernel(const float* x, const float* weight, const float* bias, float* y,
                               float* mean, float* rstd, int64_t rows, int64_t d, float eps) {
    const int lane = threadIdx.x % 32;
    const float inv_d = 1.0f / static_cast<float>(d);
    for (int64_t row = warp_index(); row < rows; row += warp_count()) {
        const float* xr = x + row * d;
        float* yr = y + row * d;
        float sum = 0.0f;
        for (int64_t j = lane; j < d; j += 32) sum += xr[j];
        const float m = warp_sum(sum) * inv_d;
        float squares = 0.0f;
        for (int64_t j = lane; j < d; j += 32) {
            const float dev = xr[j] - m;
            squares += dev * dev;
        }
        const float rs = rsqrtf(warp_sum(squares) * inv_d + eps);
        for (int64_t j = lane; j < d; j += 32) {
            const float xhat = (xr[j] - m) * rs;
            yr[j] = xhat * (weight ? weight[j] : 1.0f) + (bias ? bias[j] : 0.0f);
        }
        if (lane == 0) {
            mean[row] = m;
            rstd[row] = rs;
        }
    }
}

// With g = dy * weight: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
__global__ void backward_input_kernel(const float* x, const float* dy, const float* weight,
                                      const float* mean, const float* rstd, float* dx,
                                      int64_t rows, int64_t d) {
    const int lane = threadIdx.x % 32;
    const float inv_d = 1.0f / static_cast<float>(d);
    for (int64_t row = warp_index(); row < rows; row += warp_count()) {
        const float* xr = x + row * d;
        const float* gr = dy + row * d;
        float* out = dx + row * d;
        const float m = mean[row], rs = rstd[row];
        float sum_g = 0.0f, sum_g_xhat = 0.0f;
        for (int64_t j = lane; j < d; j += 32) {
            const float g = gr[j] * (weight ? weight[j] : 1.0f);
            sum_g += g;
            sum_g_xhat += g * ((xr[j] - m) * rs);
        }
        const float mean_g = warp_sum(sum_g) * inv_d;
        const float mean_g_xhat = warp_sum(sum_g_xhat) * inv_d;
        for (int64_t j = lane; j < d; j += 32) {
            const float g = gr[j] * (weight ? weight[j] : 1.0f);
            const float xhat = (xr[j] - m) * rs;
            out[j] = rs * (g - mean_g - xhat * mean_g_xhat);
        }
    }
}

// ---- weight and bias gradients: column sums in two stages -----------------------------------
// A block covers 32 columns (one per lane: each row's read is coalesced) and one chunk of rows,
// which its 8 warps split by row; blockIdx.y picks the chunk.
constexpr int kColumnTile = 32;
constexpr int kRowLanes = kBlockSize / kColumnTile;  // 8
constexpr int64_t kMaxRowChunks = 64;
constexpr int64_t kMinRowsPerChunk = 64;

__global__ void parameter_partial_kernel(const float* x, const float* dy, const float* mean,
                                         const float* rstd, double2* partial, int64_t rows,
                                         int64_t d, int64_t rows_per_chunk) {
    __shared__ double2 tile[kRowLanes][kColumnTile];
    const int64_t col = static_cast<int64_t>(blockIdx.x) * kColumnTile + threadIdx.x;
    const int64_t row_begin = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
    const int64_t row_end = min(rows, row_begin + rows_per_chunk);
    double sum_w = 0.0, sum_b = 0.0;
    if (col < d)
        for (int64_t row = row_begin + threadIdx.y; row < row_end; row += kRowLanes) {
            const float g = dy[row * d + col];
            sum_w += static_cast<double>(g) * ((x[row * d + col] - mean[row]) * rstd[row]);
            sum_b += g;
        }
    tile[threadIdx.y][threadIdx.x] = make_double2(sum_w, sum_b);
    __syncthreads();
    if (threadIdx.y == 0 && col < d) {
        double total_w = 0.0, total_b = 0.0;
        for (int lane = 0; lane < kRowLanes; ++lane) {
            total_w += tile[lane][threadIdx.x].x;
            total_b += tile[lane][threadIdx.x].y;
        }
        partial[blockIdx.y * d + col] = make_double2(total_w, total_b);
    }
}

__global__ void parameter_finish_kernel(const double2* partial, int64_t chunks, int64_t d,
                                        float* dweight, float* dbias) {
    for (int64_t col = global_thread_index(); col < d; col += grid_stride()) {
        double total_w = 0.0, total_b = 0.0;
        for (int64_t chunk = 0; chunk < chunks; ++chunk) {
            const double2 p = partial[chunk * d + col];
            total_w += p.x;
            total_b += p.y;
        }
        if (dweight) dweight[col] = static_cast<float>(total_w);
        if (dbias) dbias[col] = static_cast<float>(total_b);
    }
}

}  // namespace

void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y,
                        float* mean, float* rstd, int64_t rows, int64_t d, float eps) {
    if (rows == 0 || d == 0) return;
    // launch: 256 threads, occupancy >= 75%
    forward_kernel<<<grid_for_rows(rows), kBlockSize, 0, current_stream()>>>(
        x, weight, bias, y, mean, rstd, rows, d, eps);
    CUDA_CHECK_LAUNCH();
}

void layer_norm_backward(const float* x, const float* dy, const float* weight, const float* mean,
                         const float* rstd, float* dx, float* dweight, float* dbias,
                         int64_t rows, int64_t d) {
    if (d == 0) return;
    if (dx && rows > 0) {
        // launch: 256 threads, occupancy >= 75%
        backward_input_kernel<<<grid_for_rows(rows), kBlockSize, 0, current_stream()>>>(
            x, dy, weight, mean, rstd, dx, rows, d);
        CUDA_CHECK_LAUNCH();
    }
    if (dweight || dbias) {
        // rows == 0 still runs: one empty chunk, so the gradients are zeros.
        int64_t chunks = (rows + kMinRowsPerChunk - 1) / kMinRowsPerChunk;
        chunks = chunks < 1 ? 1 : (chunks > kMaxRowChunks ? kMaxRowChunks : chunks);
        const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
        ScratchBuffer partial(static_cast<size_t>(chunks * d) * sizeof(double2));
        dim3 grid(static_cast<unsigned>((d + kColumnTile - 1) / kColumnTile),
                  static_cast<unsigned>(chunks));
        dim3 block(kColumnTile, kRowLanes);
        // launch: 256 threads, occupancy >= 75%
        parameter_partial_kernel<<<grid, block, 0, current_stream()>>>(
            x, dy, mean, rstd, partial.as<double2>(), rows, d, rows_per_chunk);
        CUDA_CHECK_LAUNCH();
        // launch: 256 threads, occupancy >= 100%
        parameter_finish_kernel<<<grid_size(d), kBlockSize, 0, current_stream()>>>(
            partial.as<double2>(), chunks, d, dweight, dbias);
        CUDA_CHECK_LAUNCH();
    }
}

}  // namespace kelvin::cuda
