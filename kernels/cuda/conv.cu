// Convolution on the GPU as implicit GEMM (docs/KERNELS-conv.md): the three products of
// kernels/cpu/conv.cpp (forward, backward data, backward weight) are computed by one tiled
// GEMM kernel whose operands are read straight from the NCHW tensors, with no im2col matrix in
// memory. Each product is a small "problem" struct that says how to find A[m][k] and B[k][n]
// and where C[m][n] goes:
//
//   product          M (rows)   N (columns)           K (reduction)         A        B
//   forward          O          batch * out pixels    C * kh * kw           weight   x taps
//   backward data    C          batch * in pixels     O * kh * kw           weight   dy taps
//   backward weight  O          C * kh * kw           batch * out pixels    dy       x taps
//
// The kernel: 64x64 output tile per block of 256 threads, 4x4 outputs per thread, K in steps
// of 16 through double-buffered shared memory with a register prefetch of the next step (one
// __syncthreads per step). Decoding a k index (divisions by kh*kw, kw, ...) is done once per
// step by 16 threads into a small shared table; decoding a column n is done once per thread.
// FP32 operands and accumulation, so results match the CPU to ~1e-6 relative.
//
// When M x N gives too few tiles to fill the GPU (the weight gradient: 64 x 576 outputs but a
// reduction over 32768 pixels), K is split across blocks; each split writes its partial tile
// to scratch memory and a second kernel sums the splits in a fixed order (deterministic: no
// atomics). The number of splits depends only on the shapes, never on the device.
//
// Backward data reads dy at (ih + p - i) / stride, which exists only when the division is
// exact: with stride 2, three quarters of the B operand is structural zeros. Correct for any
// stride; splitting the problem by stride phase would skip them (a later version).
#include "kernels/conv.h"

#include <algorithm>
#include <climits>
#include <string>

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreadM = 4, kThreadN = 4;
constexpr int kThreadsN = kTileN / kThreadN;              // 16 threads across a tile's columns
constexpr int kThreads = (kTileM / kThreadM) * kThreadsN;  // 256
constexpr int kPad = 4;  // keeps float4 alignment and spreads the A-tile stores over banks
// Loader layout: each thread loads 4 elements of A and 4 of B per K step.
constexpr int kRowsPerPassA = kThreads / kTileK;  // 16: A rows m loaded in one pass
constexpr int kRowsPerPassB = kThreads / kTileN;  // 4: B rows k loaded in one pass
static_assert(kTileM / kRowsPerPassA == 4 && kTileK / kRowsPerPassB == 4, "4 loads per operand");

// Split-K aims for this many blocks (about 2 per SM on an H200's 132 SMs). A constant, not a
// device query, so that the summation order and hence the bits are the same on every GPU.
constexpr int64_t kTargetBlocks = 264;
constexpr int64_t kMinTilesPerSplit = 8;  // at least 128 k values per split
constexpr int64_t kMaxSplits = 64;

// One k index of a problem, decoded: offsets into the A and B tensors and the kernel tap
// (or pixel) coordinates that decide whether a B element falls in the padding.
struct KTap {
    int64_t a_offset;
    int64_t b_offset;
    int di, dj;
    bool valid;  // false past the end of this block's K range
};

// ---- the three problems ---------------------------------------------------------------------

// Sizes shared by all three, as 32-bit ints (the launcher checks that they fit).
struct Dims {
    int batch, C, H, W, O, kh, kw, stride, padding, Ho, Wo;
};

Dims dims_of(const ConvShape& s) {
    auto fits = [](int64_t v) { return v >= 0 && v <= INT_MAX; };
    KELVIN_CHECK(fits(s.batch) && fits(s.in_channels) && fits(s.in_h) && fits(s.in_w) &&
                     fits(s.out_channels) && fits(s.kernel_h) && fits(s.kernel_w) &&
                     fits(s.out_h) && fits(s.out_w),
                 "cuda conv2d: a dimension does not fit in 32 bits");
    return Dims{int(s.batch), int(s.in_channels), int(s.in_h),   int(s.in_w),
                int(s.out_channels), int(s.kernel_h), int(s.kernel_w), int(s.stride),
                int(s.padding), int(s.out_h), int(s.out_w)};
}

// y[b, o, oh, ow] = bias[o] + sum over (c, i, j) of weight[o, c, i, j] * x[b, c, ih, iw].
struct ForwardProblem {
    Dims d;
    int64_t M, N, K;
    const float* x;
    const float* weight;
    const float* bias;  // may be null
    float* y;

    struct Column {
        int64_t base;  // x offset of image b
        int h0, w0;    // top-left input pixel of the output pixel's window
    };

    __device__ KTap tap(int k) const {
        const int area = d.kh * d.kw, c = k / area, r = k - c * area, i = r / d.kw;
        return KTap{k, int64_t(c) * d.H * d.W, i, r - i * d.kw, true};
    }
    __device__ float a(int64_t m, const KTap& t) const { return weight[m * K + t.a_offset]; }
    __device__ Column column(int n) const {
        const int pixels = d.Ho * d.Wo, b = n / pixels, p = n - b * pixels, oh = p / d.Wo;
        return Column{int64_t(b) * d.C * d.H * d.W, oh * d.stride - d.padding,
                      (p - oh * d.Wo) * d.stride - d.padding};
    }
    __device__ float b(const Column& col, const KTap& t) const {
        const int ih = col.h0 + t.di, iw = col.w0 + t.dj;
        if (unsigned(ih) >= unsigned(d.H) || unsigned(iw) >= unsigned(d.W)) return 0.0f;
        return x[col.base + t.b_offset + int64_t(ih) * d.W + iw];
    }
    __device__ void store(int64_t m, int64_t n, float value) const {
        const int64_t pixels = int64_t(d.Ho) * d.Wo, b = n / pixels;
        y[(b * d.O + m) * pixels + (n - b * pixels)] = value + (bias ? bias[m] : 0.0f);
    }
};

// dx[b, c, ih, iw] = sum over (o, i, j) of weight[o, c, i, j] * dy[b, o, oh, ow] where
// oh * stride - padding + i == ih (and likewise for w).
struct BackwardDataProblem {
    Dims d;
    int64_t M, N, K;
    const float* dy;
    const float* weight;
    float* dx;

    struct Column {
        int64_t base;  // dy offset of image b
        int hp, wp;    // ih + padding, iw + padding
    };

    __device__ KTap tap(int k) const {
        const int area = d.kh * d.kw, o = k / area, r = k - o * area, i = r / d.kw;
        return KTap{int64_t(o) * d.C * area + r, int64_t(o) * d.Ho * d.Wo, i, r - i * d.kw, true};
    }
    __device__ float a(int64_t m, const KTap& t) const {
        return weight[t.a_offset + m * (d.kh * d.kw)];
    }
    __device__ Column column(int n) const {
        const int pixels = d.H * d.W, b = n / pixels, p = n - b * pixels, ih = p / d.W;
        return Column{int64_t(b) * d.O * d.Ho * d.Wo, ih + d.padding,
                      p - ih * d.W + d.padding};
    }
    __device__ float b(const Column& col, const KTap& t) const {
        int th = col.hp - t.di, tw = col.wp - t.dj;  // oh * stride, ow * stride
        if (th < 0 || tw < 0) return 0.0f;
        if (d.stride != 1) {
            if (th % d.stride != 0 || tw % d.stride != 0) return 0.0f;
            th /= d.stride;
            tw /= d.stride;
        }
        if (th >= d.Ho || tw >= d.Wo) return 0.0f;
        return dy[col.base + t.b_offset + int64_t(th) * d.Wo + tw];
    }
    __device__ void store(int64_t m, int64_t n, float value) const {
        const int64_t pixels = int64_t(d.H) * d.W, b = n / pixels;
        dx[(b * d.C + m) * pixels + (n - b * pixels)] = value;
    }
};

// dweight[o, c, i, j] = sum over (b, oh, ow) of dy[b, o, oh, ow] * x[b, c, ih, iw].
struct BackwardWeightProblem {
    Dims d;
    int64_t M, N, K;
    const float* x;
    const float* dy;
    float* dweight;

    struct Column {
        int64_t offset;  // x offset of channel c within an image
        int i, j;        // kernel tap
    };

    __device__ KTap tap(int k) const {
        const int pixels = d.Ho * d.Wo, b = k / pixels, p = k - b * pixels, oh = p / d.Wo;
        return KTap{int64_t(b) * d.O * pixels + p, int64_t(b) * d.C * d.H * d.W,
                    oh * d.stride - d.padding, (p - oh * d.Wo) * d.stride - d.padding, true};
    }
    __device__ float a(int64_t m, const KTap& t) const {
        return dy[t.a_offset + m * (int64_t(d.Ho) * d.Wo)];
    }
    __device__ Column column(int n) const {
        const int area = d.kh * d.kw, c = n / area, r = n - c * area, i = r / d.kw;
        return Column{int64_t(c) * d.H * d.W, i, r - i * d.kw};
    }
    __device__ float b(const Column& col, const KTap& t) const {
        const int ih = t.di + col.i, iw = t.dj + col.j;
        if (unsigned(ih) >= unsigned(d.H) || unsigned(iw) >= unsigned(d.W)) return 0.0f;
        return x[t.b_offset + col.offset + int64_t(ih) * d.W + iw];
    }
    __device__ void store(int64_t m, int64_t n, float value) const {
        dweight[m * N + n] = value;
    }
};

// ---- the tiled implicit-GEMM kernel ---------------------------------------------------------

// Block (x, y, z) computes C[m0:m0+64, n0:n0+64] over the z-th slice of K, of k_per_split
// values. With `partial` null it stores through the problem; otherwise it writes the raw sums
// to partial[z][m][n] for split_k_reduce_kernel.
template <class Problem>
__global__ void __launch_bounds__(kThreads)
    implicit_gemm_kernel(const Problem problem, int64_t k_per_split, float* partial) {
    __shared__ __align__(16) float a_tile[2][kTileK][kTileM + kPad];
    __shared__ __align__(16) float b_tile[2][kTileK][kTileN + kPad];
    __shared__ KTap taps[2][kTileK];

    const int tid = threadIdx.x;
    const int64_t m0 = int64_t(blockIdx.y) * kTileM, n0 = int64_t(blockIdx.x) * kTileN;
    const int64_t k_begin = int64_t(blockIdx.z) * k_per_split;
    const int64_t k_end = min(problem.K, k_begin + k_per_split);
    const int tiles = k_end > k_begin ? int((k_end - k_begin + kTileK - 1) / kTileK) : 0;

    // Loader coordinates: A element (a_m + 16q, a_k), B element (b_k + 4q, b_n), q = 0..3.
    const int a_k = tid % kTileK, a_m = tid / kTileK;
    const int b_n = tid % kTileN, b_k = tid / kTileN;
    const bool column_valid = n0 + b_n < problem.N;
    const typename Problem::Column column = problem.column(column_valid ? int(n0 + b_n) : 0);

    float a_next[4], b_next[4];
    auto decode = [&](int buffer, int64_t k0) {
        if (tid < kTileK) {
            const int64_t k = k0 + tid;
            KTap t{0, 0, 0, 0, false};
            if (k < k_end) t = problem.tap(int(k));
            taps[buffer][tid] = t;
        }
    };
    auto load = [&](int buffer) {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const KTap& t = taps[buffer][a_k];
            const int64_t m = m0 + a_m + q * kRowsPerPassA;
            a_next[q] = t.valid && m < problem.M ? problem.a(m, t) : 0.0f;
        }
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const KTap& t = taps[buffer][b_k + q * kRowsPerPassB];
            b_next[q] = t.valid && column_valid ? problem.b(column, t) : 0.0f;
        }
    };
    auto stash = [&](int buffer) {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            a_tile[buffer][a_k][a_m + q * kRowsPerPassA] = a_next[q];
            b_tile[buffer][b_k + q * kRowsPerPassB][b_n] = b_next[q];
        }
    };

    // Compute layout: thread (ty, tx) owns rows ty*4.. and columns tx*4.. of the tile.
    const int tx = tid % kThreadsN, ty = tid / kThreadsN;
    float acc[kThreadM][kThreadN] = {};

    if (tiles > 0) {
        decode(0, k_begin);
        __syncthreads();
        load(0);
        stash(0);
        if (tiles > 1) decode(1, k_begin + kTileK);
        __syncthreads();
    }
    // Step t computes from buffer t&1 while the loads of step t+1 (from taps[(t+1)&1]) are in
    // flight; they land in the other buffer, whose previous readers all passed the last sync.
    // taps[t&1] was last read by the loads issued in step t-1, so step t may refill it.
    for (int step = 0; step < tiles; ++step) {
        const int current = step & 1;
        const bool more = step + 1 < tiles;
        if (more) load(current ^ 1);
#pragma unroll
        for (int kk = 0; kk < kTileK; ++kk) {
            const float4 a4 = *reinterpret_cast<const float4*>(&a_tile[current][kk][ty * kThreadM]);
            const float4 b4 = *reinterpret_cast<const float4*>(&b_tile[current][kk][tx * kThreadN]);
            const float a[4] = {a4.x, a4.y, a4.z, a4.w}, b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
            for (int i = 0; i < kThreadM; ++i)
#pragma unroll
                for (int j = 0; j < kThreadN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (more) {
            stash(current ^ 1);
            if (step + 2 < tiles) decode(current, k_begin + int64_t(step + 2) * kTileK);
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < kThreadM; ++i) {
        const int64_t m = m0 + ty * kThreadM + i;
        if (m >= problem.M) continue;
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) {
            const int64_t n = n0 + tx * kThreadN + j;
            if (n >= problem.N) continue;
            if (partial)
                partial[(int64_t(blockIdx.z) * problem.M + m) * problem.N + n] = acc[i][j];
            else
                problem.store(m, n, acc[i][j]);
        }
    }
}

// C[m][n] = sum over splits z (in order) of partial[z][m][n], stored through the problem.
template <class Problem>
__global__ void split_k_reduce_kernel(const Problem problem, const float* partial, int splits) {
    const int64_t count = problem.M * problem.N;
    for (int64_t index = global_thread_index(); index < count; index += grid_stride()) {
        float total = 0.0f;
        for (int z = 0; z < splits; ++z) total += partial[int64_t(z) * count + index];
        const int64_t m = index / problem.N;
        problem.store(m, index - m * problem.N, total);
    }
}

template <class Problem>
void launch_implicit_gemm(const Problem& problem) {
    if (problem.M == 0 || problem.N == 0) return;
    KELVIN_CHECK(problem.K <= INT_MAX && problem.N <= INT_MAX,
                 "cuda conv2d: GEMM of " + std::to_string(problem.N) + " columns and " +
                     std::to_string(problem.K) + " reduction steps exceeds 32-bit indexing");
    const int64_t tiles_n = (problem.N + kTileN - 1) / kTileN;
    const int64_t tiles_m = (problem.M + kTileM - 1) / kTileM;
    KELVIN_CHECK(tiles_m <= 65535, "cuda conv2d: too many rows (" + std::to_string(problem.M) +
                                       ") for the grid");
    const int64_t k_tiles = (problem.K + kTileK - 1) / kTileK;
    int64_t splits = 1;
    if (tiles_m * tiles_n < kTargetBlocks) {
        splits = (kTargetBlocks + tiles_m * tiles_n - 1) / (tiles_m * tiles_n);
        splits = std::max<int64_t>(1, std::min({splits, k_tiles / kMinTilesPerSplit, kMaxSplits}));
    }
    // Whole K tiles per split, and no empty split at the end.
    const int64_t k_per_split = std::max<int64_t>(1, (k_tiles + splits - 1) / splits) * kTileK;
    splits = std::max<int64_t>(1, (problem.K + k_per_split - 1) / k_per_split);

    const dim3 grid{unsigned(tiles_n), unsigned(tiles_m), unsigned(splits)};
    if (splits == 1) {
        // launch: 256 threads, occupancy >= 37%
        implicit_gemm_kernel<<<grid, kThreads, 0, current_stream()>>>(problem, k_per_split,
                                                                     nullptr);
        CUDA_CHECK_LAUNCH();
        return;
    }
    ScratchBuffer partial(size_t(splits) * problem.M * problem.N * sizeof(float));
    // launch: 256 threads, occupancy >= 37%
    implicit_gemm_kernel<<<grid, kThreads, 0, current_stream()>>>(problem, k_per_split,
                                                                 partial.as<float>());
    CUDA_CHECK_LAUNCH();
    // launch: 256 threads, occupancy >= 100%
    split_k_reduce_kernel<<<grid_size(problem.M * problem.N), kBlockSize, 0, current_stream()>>>(
        problem, partial.as<float>(), int(splits));
    CUDA_CHECK_LAUNCH();
}

// dbias[o] = sum of dy[b, o, :, :] over b: one block per channel, a fixed-shape tree.
__global__ void bias_gradient_kernel(const float* dy, float* dbias, int64_t batch,
                                     int64_t channels, int64_t pixels) {
    __shared__ float warp_sums[kBlockSize / 32];
    const int64_t o = blockIdx.x;
    float total = 0.0f;
    for (int64_t b = 0; b < batch; ++b) {
        const float* row = dy + (b * channels + o) * pixels;
        for (int64_t p = threadIdx.x; p < pixels; p += blockDim.x) total += row[p];
    }
    for (int offset = 16; offset > 0; offset /= 2)
        total += __shfl_down_sync(0xffffffffu, total, offset);
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = total;
    __syncthreads();
    if (threadIdx.x < 32) {
        total = threadIdx.x < kBlockSize / 32 ? warp_sums[threadIdx.x] : 0.0f;
        for (int offset = 16; offset > 0; offset /= 2)
            total += __shfl_down_sync(0xffffffffu, total, offset);
        if (threadIdx.x == 0) dbias[o] = total;
    }
}

__global__ void zero_kernel(float* out, int64_t n) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = 0.0f;
}

void zero(float* out, int64_t n) {
    if (n <= 0) return;
    // launch: 256 threads, occupancy >= 100%
    zero_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(out, n);
    CUDA_CHECK_LAUNCH();
}

}  // namespace

void conv2d_forward(const float* x, const float* weight, const float* bias, float* y,
                    const ConvShape& shape) {
    const Dims d = dims_of(shape);
    ForwardProblem problem{d, d.O, int64_t(d.batch) * d.Ho * d.Wo,
                           int64_t(d.C) * d.kh * d.kw, x, weight, bias, y};
    launch_implicit_gemm(problem);
}

void conv2d_backward_data(const float* dy, const float* weight, float* dx,
                          const ConvShape& shape) {
    const Dims d = dims_of(shape);
    BackwardDataProblem problem{d, d.C, int64_t(d.batch) * d.H * d.W,
                                int64_t(d.O) * d.kh * d.kw, dy, weight, dx};
    launch_implicit_gemm(problem);  // K == 0 (no output channels) stores zeros
}

void conv2d_backward_weight(const float* x, const float* dy, float* dweight,
                            const ConvShape& shape) {
    const Dims d = dims_of(shape);
    BackwardWeightProblem problem{d, d.O, int64_t(d.C) * d.kh * d.kw,
                                  int64_t(d.batch) * d.Ho * d.Wo, x, dy, dweight};
    launch_implicit_gemm(problem);  // K == 0 (empty batch) stores zeros
}

void conv2d_backward_bias(const float* dy, float* dbias, const ConvShape& shape) {
    if (shape.out_channels == 0) return;
    const int64_t pixels = std::max<int64_t>(0, shape.out_h) * std::max<int64_t>(0, shape.out_w);
    if (shape.batch == 0 || pixels == 0) {
        zero(dbias, shape.out_channels);
        return;
    }
    KELVIN_CHECK(shape.out_channels <= INT_MAX, "cuda conv2d: too many output channels");
    // launch: 256 threads, occupancy >= 100%
    bias_gradient_kernel<<<unsigned(shape.out_channels), kBlockSize, 0, current_stream()>>>(
        dy, dbias, shape.batch, shape.out_channels, pixels);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
