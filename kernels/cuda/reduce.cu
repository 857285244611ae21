// Reductions. Every sum runs in double, in an order fixed by the sizes alone (shuffle trees
// inside warps, shared memory across warps, a second pass across blocks; no float atomics), so
// the same input gives the same bits on every run and every GPU, and stays close to the CPU,
// which also accumulates in double.
#include "kernels/reduce.h"

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {


// Sum of v over a block of kBlockSize threads, valid in thread 0. All threads must call it,
// once per kernel (it owns a shared array).
__device__ double block_sum(double v) {
    __shared__ double warp_sums[kBlockSize / 32];
    int lane = threadIdx.x % 32;
    int warp = threadIdx.x / 32;
    v = warp_sum(v);
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) v = warp_sum(lane < kBlockSize / 32 ? warp_sums[lane] : 0.0);
    return v;
}

// ---- sum_all: blocks write partial sums, then one block adds them ---------------------------
__global__ void partial_sums_kernel(const float* x, double* partial, int64_t n) {
    double sum = 0.0;
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) sum += x[i];
    sum = block_sum(sum);
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

__global__ void finish_sum_kernel(const double* partial, int64_t count, float* out,
                                  float scale) {
    double sum = 0.0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += partial[i];
    sum = block_sum(sum);
    if (threadIdx.x == 0) out[0] = static_cast<float>(static_cast<double>(scale) * sum);
}

// ---- sum_rows: column sums over row chunks, then a pass that adds the chunks ----------------
// A block covers 32 columns (one per lane: each row's read is coalesced) and one chunk of rows,
// which its 8 warps split by row; blockIdx.y picks the chunk. Chunks give tall, narrow inputs
// (a bias gradient over a large batch) enough blocks to fill the GPU.
constexpr int kColumnTile = 32;
constexpr int kRowLanes = kBlockSize / kColumnTile;  // 8
constexpr int64_t kMaxRowChunks = 64;
constexpr int64_t kMinRowsPerChunk = 256;

__global__ void column_partial_sums_kernel(const float* x, double* partial, int64_t rows,
                                           int64_t cols, int64_t rows_per_chunk) {
    __shared__ double tile[kRowLanes][kColumnTile];
    int64_t col = static_cast<int64_t>(blockIdx.x) * kColumnTile + threadIdx.x;
    int64_t row_begin = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
    int64_t row_end = min(rows, row_begin + rows_per_chunk);
    double sum = 0.0;
    if (col < cols)
        for (int64_t row = row_begin + threadIdx.y; row < row_end; row += kRowLanes)
            sum += x[row * cols + col];
    tile[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        double total = 0.0;
        for (int lane = 0; lane < kRowLanes; ++lane) total += tile[lane][threadIdx.x];
        partial[blockIdx.y * cols + col] = total;
    }
}

__global__ void finish_column_sums_kernel(const double* partial, int64_t chunks, int64_t cols,
                                          float* out) {
    for (int64_t col = global_thread_index(); col < cols; col += grid_stride()) {
        double total = 0.0;
        for (int64_t chunk = 0; chunk < chunks; ++chunk) total += partial[chunk * cols + col];
        out[col] = static_cast<float>(total);
    }
}

// ---- per-row reductions: one warp per row -----------------------------------------------
// Rows here are a batch's logits or a layer's weights: short enough (tens to a few thousand
// columns) that a warp per row keeps every lane busy without block-wide synchronization.
__device__ int64_t warp_index() { return global_thread_index() / 32; }
__device__ int64_t warp_count() { return grid_stride() / 32; }
unsigned grid_for_rows(int64_t rows) { return grid_size(rows * 32); }

__global__ void argmax_rows_kernel(const float* x, int32_t* out, int64_t rows, int64_t cols) {
    int lane = threadIdx.x % 32;
    for (int64_t row = warp_index(); row < rows; row += warp_count()) {
        const float* values = x + row * cols;
        // Each lane scans its columns in increasing order and keeps the first maximum; the
        // merge then prefers the larger value and, on a tie, the smaller index. Index `cols`
        // means "no candidate yet". NaN never becomes a candidate, and a row whose first
        // element is NaN answers 0: the CPU's `if (x[c] > x[best])` from best = 0 does both.
        int64_t best = cols;
        float best_value = 0.0f;
        for (int64_t col = lane; col < cols; col += 32) {
            float v = values[col];
            if ((best == cols && !isnan(v)) || v > best_value) {
                best = col;
                best_value = v;
            }
        }
        for (int offset = 16; offset > 0; offset /= 2) {
            int64_t other = __shfl_down_sync(kFullWarp, best, offset);
            float other_value = __shfl_down_sync(kFullWarp, best_value, offset);
            bool other_wins = other != cols &&
                              (best == cols || other_value > best_value ||
                               (other_value == best_value && other < best));
            if (other_wins) {
                best = other;
                best_value = other_value;
            }
        }
        if (lane == 0)
            out[row] = best == cols || isnan(values[0]) ? 0 : static_cast<int32_t>(best);
    }
}

__global__ void row_norms_kernel(const float* x, float* out, int64_t rows, int64_t cols) {
    int lane = threadIdx.x % 32;
    for (int64_t row = warp_index(); row < rows; row += warp_count()) {
        const float* values = x + row * cols;
        double sum = 0.0;
        for (int64_t col = lane; col < cols; col += 32) {
            double v = values[col];
            sum += v * v;
        }
        sum = warp_sum(sum);
        if (lane == 0) out[row] = static_cast<float>(sqrt(sum));
    }
}

}  // namespace

void sum_all(const float* x, float* out, int64_t n, float scale) {
    // Even for n == 0 the kernels run: they write out[0] = 0.
    unsigned blocks = grid_size(n, int64_t{kBlockSize} * 4);  // >= 4 elements per thread
    ScratchBuffer partial(blocks * sizeof(double));
    // launch: 256 threads, occupancy >= 100%
    partial_sums_kernel<<<blocks, kBlockSize, 0, current_stream()>>>(x, partial.as<double>(), n);
    CUDA_CHECK_LAUNCH();
    // launch: 256 threads, occupancy >= 100%
    finish_sum_kernel<<<1, kBlockSize, 0, current_stream()>>>(partial.as<double>(), blocks, out,
                                                              scale);
    CUDA_CHECK_LAUNCH();
}

void sum_rows(const float* x, float* out, int64_t rows, int64_t cols) {
    if (cols == 0) return;
    // rows == 0 still runs: one empty chunk, so out is all zeros.
    int64_t chunks = (rows + kMinRowsPerChunk - 1) / kMinRowsPerChunk;
    chunks = chunks < 1 ? 1 : (chunks > kMaxRowChunks ? kMaxRowChunks : chunks);
    int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
    ScratchBuffer partial(chunks * cols * sizeof(double));
    dim3 grid(static_cast<unsigned>((cols + kColumnTile - 1) / kColumnTile),
              static_cast<unsigned>(chunks));
    dim3 block(kColumnTile, kRowLanes);
    // launch: 256 threads, occupancy >= 100%
    column_partial_sums_kernel<<<grid, block, 0, current_stream()>>>(
        x, partial.as<double>(), rows, cols, rows_per_chunk);
    CUDA_CHECK_LAUNCH();
    // launch: 256 threads, occupancy >= 100%
    finish_column_sums_kernel<<<grid_size(cols), kBlockSize, 0, current_stream()>>>(
        partial.as<double>(), chunks, cols, out);
    CUDA_CHECK_LAUNCH();
}

void argmax_rows(const float* x, int32_t* out, int64_t rows, int64_t cols) {
    if (rows == 0) return;
    // launch: 256 threads, occupancy >= 75%
    argmax_rows_kernel<<<grid_for_rows(rows), kBlockSize, 0, current_stream()>>>(x, out, rows,
                                                                                  cols);
    CUDA_CHECK_LAUNCH();
}

void row_norms(const float* x, float* out, int64_t rows, int64_t cols) {
    if (rows == 0) return;
    // launch: 256 threads, occupancy >= 100%
    row_norms_kernel<<<grid_for_rows(rows), kBlockSize, 0, current_stream()>>>(x, out, rows,
                                                                                cols);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
