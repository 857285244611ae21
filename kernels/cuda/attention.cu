// Fused multi-head attention in fp32 (flash attention's idea, without tensor cores).
//
// Forward: a block owns a tile of query rows of one (batch item, head); it streams the keys and
// values through shared memory one tile at a time and keeps, per query row, a running maximum m,
// a running sum l and an unnormalised output o (the online softmax). The S x S scores never reach
// global memory; the block writes o / l and the row's logsumexp.
//
// Backward (deterministic, no atomics): three launches.
//   1. row_dot:  D_i = dO_i . O_i per query row (= sum_j P_ij dP_ij, the softmax Jacobian term).
//   2. key pass: a block owns a tile of key rows and streams query tiles; per (i, j) it recomputes
//      P_ij = exp(s_ij - lse_i) and accumulates dV_j += P_ij dO_i, dK_j += dS_ij q_i.
//   3. query pass: a block owns a tile of query rows and streams key tiles; it recomputes P_ij and
//      dP_ij and accumulates dQ_i += dS_ij k_j.
// Each gradient element has one owner thread that sums in a fixed order, so results are
// bit-for-bit repeatable. The price is recomputing q.k and dO.v in both passes (7 S x S x Dh
// products instead of flash attention 2's 5 with atomic dQ); see docs/KERNELS-attention.md.
//
// Thread layout: a row (query or key) belongs to a group of kLanes consecutive threads. Each lane
// holds kSlice = 16 elements of the row in registers, interleaved in float4s: lane l holds
// elements c*4*kLanes + 4*l + {0..3}, c < 4. A group therefore reads one contiguous span of a
// shared-memory row per float4 (no bank conflicts; the other groups read the same addresses, a
// broadcast), and a dot product is 16 FMAs plus a butterfly of log2(kLanes) shuffles, after which
// every lane holds the same sum (float addition is commutative, so the butterfly is symmetric).
// The head dimension is rounded up to a bucket of 32, 64 or 128 with zeros in shared memory and
// registers, so any Dh <= 128 works; the buckets have 2, 4 and 8 lanes per row.
#include "kernels/attention.h"

#include <cmath>
#include <string>

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kThreads = 128;
constexpr int kSlice = 16;    // row elements per thread
// Rows scored together, so that their shuffles overlap. The key pass keeps each query's q and dO
// slices live from the dot products to the accumulation: 2 rows fit in ~156 registers, 4 take 237.
constexpr int kChunk = 8;
constexpr int kQueryChunk = 2;
constexpr unsigned kFullMask = 0xffffffffu;

template <int kHeadDim>
struct Tiling {
    static constexpr int kLanes = kHeadDim / kSlice;          // threads per row: 2, 4, 8
    static constexpr int kRowsPerBlock = kThreads / kLanes;   // rows a block owns: 64, 32, 16
    static constexpr int kTileRows = 4096 / kHeadDim;         // streamed rows per tile: 128, 64, 32
    static constexpr int kVectors = kHeadDim / 4;             // float4s per shared row
    static_assert(kSlice * kLanes == kHeadDim && 32 % kLanes == 0, "lanes must tile a warp");
    static_assert(kTileRows % kChunk == 0 && kTileRows % kQueryChunk == 0, "whole chunks");
};

// Which element of the row lane `lane` holds in register slot c*4 + e.
template <int kLanes>
__device__ __forceinline__ int slot_column(int lane, int c, int e) {
    return c * 4 * kLanes + 4 * lane + e;
}

// Sum over the kLanes lanes of a group; every lane of the group gets the same value.
template <int kLanes>
__device__ __forceinline__ float group_sum(float value) {
#pragma unroll
    for (int offset = kLanes / 2; offset > 0; offset >>= 1)
        value += __shfl_xor_sync(kFullMask, value, offset);
    return value;
}

// This lane's partial dot product of its register slice with shared row `row` of `tile`.
template <int kHeadDim>
__device__ __forceinline__ float partial_dot(const float (&reg)[kSlice], const float4* tile,
                                             int row, int lane) {
    using T = Tiling<kHeadDim>;
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kSlice / 4; ++c) {
        const float4 x = tile[row * T::kVectors + c * T::kLanes + lane];
        sum += reg[4 * c] * x.x + reg[4 * c + 1] * x.y + reg[4 * c + 2] * x.z + reg[4 * c + 3] * x.w;
    }
    return sum;
}

// reg += weight * (shared row `row` of `tile`), over this lane's slice.
template <int kHeadDim>
__device__ __forceinline__ void accumulate_row(float (&reg)[kSlice], float weight,
                                               const float4* tile, int row, int lane) {
    using T = Tiling<kHeadDim>;
#pragma unroll
    for (int c = 0; c < kSlice / 4; ++c) {
        const float4 x = tile[row * T::kVectors + c * T::kLanes + lane];
        reg[4 * c] += weight * x.x;
        reg[4 * c + 1] += weight * x.y;
        reg[4 * c + 2] += weight * x.z;
        reg[4 * c + 3] += weight * x.w;
    }
}

// Loads this lane's slice of one head row (`row` of a [*, stride] matrix starting at `base`),
// times `factor`; zeros past head_dim and for rows past seq.
template <int kHeadDim>
__device__ __forceinline__ void load_slice(float (&reg)[kSlice], const float* base, int64_t stride,
                                           int row, int seq, int head_dim, int lane, float factor) {
    constexpr int kLanes = Tiling<kHeadDim>::kLanes;
#pragma unroll
    for (int c = 0; c < kSlice / 4; ++c)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int d = slot_column<kLanes>(lane, c, e);
            reg[4 * c + e] = row < seq && d < head_dim ? base[row * stride + d] * factor : 0.0f;
        }
}

// Stores this lane's slice of one head row, times `factor`, for d < head_dim.
template <int kHeadDim>
__device__ __forceinline__ void store_slice(const float (&reg)[kSlice], float* base, int64_t stride,
                                            int row, int head_dim, int lane, float factor) {
    constexpr int kLanes = Tiling<kHeadDim>::kLanes;
#pragma unroll
    for (int c = 0; c < kSlice / 4; ++c)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int d = slot_column<kLanes>(lane, c, e);
            if (d < head_dim) base[row * stride + d] = reg[4 * c + e] * factor;
        }
}

// Copies rows [first, first + kTileRows) of a head (a [seq, stride] matrix starting at `base`)
// into a shared tile; rows past seq and columns past head_dim become zeros, so padded rows
// contribute nothing and can never inject NaN from stale shared memory.
template <int kHeadDim>
__device__ __forceinline__ void load_tile(float4* tile, const float* base, int64_t stride,
                                          int first, int seq, int head_dim) {
    using T = Tiling<kHeadDim>;
    float* flat = reinterpret_cast<float*>(tile);
    for (int index = threadIdx.x; index < T::kTileRows * kHeadDim; index += kThreads) {
        const int r = index / kHeadDim, d = index % kHeadDim;
        const int row = first + r;
        flat[index] = row < seq && d < head_dim ? base[row * stride + d] : 0.0f;
    }
}

// Same for one float per row (a logsumexp or a row dot), times `factor`.
template <int kHeadDim>
__device__ __forceinline__ void load_row_values(float* values, const float* source, int first,
                                                int seq, float factor) {
    for (int r = threadIdx.x; r < Tiling<kHeadDim>::kTileRows; r += kThreads)
        values[r] = first + r < seq ? source[first + r] * factor : 0.0f;
}

// ---- forward ----------------------------------------------------------------------------------
// grid: (batch * heads, query tiles); block: kThreads.
template <int kHeadDim>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(const float* __restrict__ qkv, float* __restrict__ out,
                             float* __restrict__ logsumexp, int seq, int heads, int head_dim) {
    using T = Tiling<kHeadDim>;
    __shared__ float4 k_tile[T::kTileRows * T::kVectors];
    __shared__ float4 v_tile[T::kTileRows * T::kVectors];

    const int64_t pair = blockIdx.x;
    const int64_t n = pair / heads, h = pair % heads;
    const int64_t dim = static_cast<int64_t>(heads) * head_dim, stride = 3 * dim;
    const float* q_base = qkv + n * seq * stride + h * head_dim;
    const float* k_base = q_base + dim;
    const float* v_base = q_base + 2 * dim;
    const int lane = threadIdx.x % T::kLanes;
    const int row = blockIdx.y * T::kRowsPerBlock + threadIdx.x / T::kLanes;

    // Scores in the log2 domain: exp(x) = exp2(x * log2 e), with the 1/sqrt(Dh) folded into q.
    const float score_scale = kLog2e / sqrtf(static_cast<float>(head_dim));
    float q[kSlice], o[kSlice];
    load_slice<kHeadDim>(q, q_base, stride, row, seq, head_dim, lane, score_scale);
#pragma unroll
    for (int i = 0; i < kSlice; ++i) o[i] = 0.0f;
    float running_max = -INFINITY, running_sum = 0.0f;

    for (int first = 0; first < seq; first += T::kTileRows) {
        const int tile_keys = min(T::kTileRows, seq - first);
        __syncthreads();  // everyone is done with the previous tile
        load_tile<kHeadDim>(k_tile, k_base, stride, first, seq, head_dim);
        load_tile<kHeadDim>(v_tile, v_base, stride, first, seq, head_dim);
        __syncthreads();
        for (int j0 = 0; j0 < tile_keys; j0 += kChunk) {  // tile_keys is uniform: no divergence
            float s[kChunk];
#pragma unroll
            for (int j = 0; j < kChunk; ++j) s[j] = partial_dot<kHeadDim>(q, k_tile, j0 + j, lane);
            float chunk_max = -INFINITY;
#pragma unroll
            for (int j = 0; j < kChunk; ++j) {
                s[j] = group_sum<T::kLanes>(s[j]);  // every lane shuffles: keep it unconditional
                if (j0 + j >= tile_keys) s[j] = -INFINITY;
                chunk_max = fmaxf(chunk_max, s[j]);
            }
            // chunk_max is finite (key j0 exists), so the first correction is exp2(-inf) = 0.
            const float new_max = fmaxf(running_max, chunk_max);
            const float correction = exp2f(running_max - new_max);
            running_sum *= correction;
#pragma unroll
            for (int i = 0; i < kSlice; ++i) o[i] *= correction;
#pragma unroll
            for (int j = 0; j < kChunk; ++j) {
                const float p = exp2f(s[j] - new_max);  // 0 for padded keys
                running_sum += p;
                accumulate_row<kHeadDim>(o, p, v_tile, j0 + j, lane);
            }
            running_max = new_max;
        }
    }

    if (row < seq) {
        store_slice<kHeadDim>(o, out + n * seq * dim + h * head_dim, dim, row, head_dim, lane,
                              1.0f / running_sum);
        if (lane == 0)
            logsumexp[pair * seq + row] = (running_max + log2f(running_sum)) * kLn2;
    }
}

// ---- backward 1: D_i = dO_i . O_i, one warp per (n, i, h) row ---------------------------------
__global__ void row_dot_kernel(const float* __restrict__ out, const float* __restrict__ grad_out,
                               float* __restrict__ row_dot, int64_t batch, int seq, int heads,
                               int head_dim) {
    const int64_t rows = batch * heads * seq;
    const int lane = threadIdx.x % 32;
    const int64_t dim = static_cast<int64_t>(heads) * head_dim;
    for (int64_t r = global_thread_index() / 32; r < rows; r += grid_stride() / 32) {
        // r indexes the [N, heads, S] output; the row lives at (n, i, h) of [N, S, D].
        const int64_t i = r % seq, pair = r / seq;
        const int64_t n = pair / heads, h = pair % heads;
        const int64_t offset = (n * seq + i) * dim + h * head_dim;
        float sum = 0.0f;
        for (int d = lane; d < head_dim; d += 32) sum += out[offset + d] * grad_out[offset + d];
#pragma unroll
        for (int step = 16; step > 0; step >>= 1) sum += __shfl_xor_sync(kFullMask, sum, step);
        if (lane == 0) row_dot[r] = sum;
    }
}

// ---- backward 2: dK and dV; a block owns key rows and streams query tiles -----------------------
template <int kHeadDim>
__global__ void __launch_bounds__(kThreads)
    attention_backward_kv_kernel(const float* __restrict__ qkv, const float* __restrict__ grad_out,
                                 const float* __restrict__ logsumexp,
                                 const float* __restrict__ row_dot, float* __restrict__ grad_qkv,
                                 int seq, int heads, int head_dim) {
    using T = Tiling<kHeadDim>;
    __shared__ float4 q_tile[T::kTileRows * T::kVectors];
    __shared__ float4 do_tile[T::kTileRows * T::kVectors];
    __shared__ float lse_tile[T::kTileRows];  // log2 domain
    __shared__ float dot_tile[T::kTileRows];

    const int64_t pair = blockIdx.x;
    const int64_t n = pair / heads, h = pair % heads;
    const int64_t dim = static_cast<int64_t>(heads) * head_dim, stride = 3 * dim;
    const int64_t q_offset = n * seq * stride + h * head_dim;
    const float* q_base = qkv + q_offset;
    const float* do_base = grad_out + n * seq * dim + h * head_dim;
    const int lane = threadIdx.x % T::kLanes;
    const int row = blockIdx.y * T::kRowsPerBlock + threadIdx.x / T::kLanes;  // a key row

    const float scale = 1.0f / sqrtf(static_cast<float>(head_dim));
    float k[kSlice], v[kSlice], dk[kSlice], dv[kSlice];
    load_slice<kHeadDim>(k, q_base + dim, stride, row, seq, head_dim, lane, scale * kLog2e);
    load_slice<kHeadDim>(v, q_base + 2 * dim, stride, row, seq, head_dim, lane, 1.0f);
#pragma unroll
    for (int i = 0; i < kSlice; ++i) dk[i] = dv[i] = 0.0f;

    for (int first = 0; first < seq; first += T::kTileRows) {
        const int tile_queries = min(T::kTileRows, seq - first);
        __syncthreads();
        load_tile<kHeadDim>(q_tile, q_base, stride, first, seq, head_dim);
        load_tile<kHeadDim>(do_tile, do_base, dim, first, seq, head_dim);
        load_row_values<kHeadDim>(lse_tile, logsumexp + pair * seq, first, seq, kLog2e);
        load_row_values<kHeadDim>(dot_tile, row_dot + pair * seq, first, seq, 1.0f);
        __syncthreads();
        for (int i0 = 0; i0 < tile_queries; i0 += kQueryChunk) {
            float s[kQueryChunk], dp[kQueryChunk];
#pragma unroll
            for (int i = 0; i < kQueryChunk; ++i) {
                s[i] = partial_dot<kHeadDim>(k, q_tile, i0 + i, lane);
                dp[i] = partial_dot<kHeadDim>(v, do_tile, i0 + i, lane);
            }
#pragma unroll
            for (int i = 0; i < kQueryChunk; ++i) {
                s[i] = group_sum<T::kLanes>(s[i]);
                dp[i] = group_sum<T::kLanes>(dp[i]);
            }
#pragma unroll
            for (int i = 0; i < kQueryChunk; ++i) {
                const int qi = i0 + i;
                const float p = qi < tile_queries ? exp2f(s[i] - lse_tile[qi]) : 0.0f;
                const float ds = p * (dp[i] - dot_tile[qi]);
                accumulate_row<kHeadDim>(dv, p, do_tile, qi, lane);
                accumulate_row<kHeadDim>(dk, ds, q_tile, qi, lane);
            }
        }
    }

    if (row < seq) {
        store_slice<kHeadDim>(dk, grad_qkv + q_offset + dim, stride, row, head_dim, lane, scale);
        store_slice<kHeadDim>(dv, grad_qkv + q_offset + 2 * dim, stride, row, head_dim, lane, 1.0f);
    }
}

// ---- backward 3: dQ; a block owns query rows and streams key tiles ------------------------------
template <int kHeadDim>
__global__ void __launch_bounds__(kThreads)
    attention_backward_q_kernel(const float* __restrict__ qkv, const float* __restrict__ grad_out,
                                const float* __restrict__ logsumexp,
                                const float* __restrict__ row_dot, float* __restrict__ grad_qkv,
                                int seq, int heads, int head_dim) {
    using T = Tiling<kHeadDim>;
    __shared__ float4 k_tile[T::kTileRows * T::kVectors];
    __shared__ float4 v_tile[T::kTileRows * T::kVectors];

    const int64_t pair = blockIdx.x;
    const int64_t n = pair / heads, h = pair % heads;
    const int64_t dim = static_cast<int64_t>(heads) * head_dim, stride = 3 * dim;
    const int64_t q_offset = n * seq * stride + h * head_dim;
    const float* q_base = qkv + q_offset;
    const int lane = threadIdx.x % T::kLanes;
    const int row = blockIdx.y * T::kRowsPerBlock + threadIdx.x / T::kLanes;  // a query row

    const float scale = 1.0f / sqrtf(static_cast<float>(head_dim));
    float q[kSlice], d_o[kSlice], dq[kSlice];
    load_slice<kHeadDim>(q, q_base, stride, row, seq, head_dim, lane, scale * kLog2e);
    load_slice<kHeadDim>(d_o, grad_out + n * seq * dim + h * head_dim, dim, row, seq, head_dim,
                         lane, 1.0f);
#pragma unroll
    for (int i = 0; i < kSlice; ++i) dq[i] = 0.0f;
    // Rows past seq read zeros: q = dO = 0 there, so p = 1 but dS = 0; nothing is stored.
    const float lse = row < seq ? logsumexp[pair * seq + row] * kLog2e : 0.0f;
    const float dot = row < seq ? row_dot[pair * seq + row] : 0.0f;

    for (int first = 0; first < seq; first += T::kTileRows) {
        const int tile_keys = min(T::kTileRows, seq - first);
        __syncthreads();
        load_tile<kHeadDim>(k_tile, q_base + dim, stride, first, seq, head_dim);
        load_tile<kHeadDim>(v_tile, q_base + 2 * dim, stride, first, seq, head_dim);
        __syncthreads();
        for (int j0 = 0; j0 < tile_keys; j0 += kChunk) {
            float s[kChunk], dp[kChunk];
#pragma unroll
            for (int j = 0; j < kChunk; ++j) {
                s[j] = partial_dot<kHeadDim>(q, k_tile, j0 + j, lane);
                dp[j] = partial_dot<kHeadDim>(d_o, v_tile, j0 + j, lane);
            }
#pragma unroll
            for (int j = 0; j < kChunk; ++j) {
                s[j] = group_sum<T::kLanes>(s[j]);
                dp[j] = group_sum<T::kLanes>(dp[j]);
            }
#pragma unroll
            for (int j = 0; j < kChunk; ++j) {
                const float p = j0 + j < tile_keys ? exp2f(s[j] - lse) : 0.0f;
                accumulate_row<kHeadDim>(dq, p * (dp[j] - dot), k_tile, j0 + j, lane);
            }
        }
    }

    if (row < seq) store_slice<kHeadDim>(dq, grad_qkv + q_offset, stride, row, head_dim, lane, scale);
}

// ---- launch helpers -------------------------------------------------------------------------
int head_dim_bucket(int64_t head_dim) {
    if (head_dim < 1 || head_dim > kMaxAttentionHeadDim)
        throw Error("attention: head dimension " + std::to_string(head_dim) +
                    " is outside 1.." + std::to_string(kMaxAttentionHeadDim));
    return head_dim <= 32 ? 32 : head_dim <= 64 ? 64 : 128;
}

template <int kHeadDim>
dim3 row_grid(int64_t batch, int64_t seq, int64_t heads) {
    const int64_t pairs = batch * heads;
    const int64_t row_blocks = (seq + Tiling<kHeadDim>::kRowsPerBlock - 1) /
                               Tiling<kHeadDim>::kRowsPerBlock;
    if (pairs > 0x7fffffff || row_blocks > 65535 || seq > 0x7fffffff)
        throw Error("attention: batch * heads = " + std::to_string(pairs) + " and sequence " +
                    std::to_string(seq) + " exceed the CUDA grid");
    return dim3(static_cast<unsigned>(pairs), static_cast<unsigned>(row_blocks));
}

template <int kHeadDim>
void launch_forward(const float* qkv, float* out, float* logsumexp, int64_t batch, int64_t seq,
                    int64_t heads, int64_t head_dim) {
    // ptxas (CUDA 13.0) spills in the 32-wide bucket only, at 80 registers of the 255 allowed.
    // launch: 128 threads, occupancy >= 37%; known spill: 40 B in attention_forward_kernel<32>
    attention_forward_kernel<kHeadDim>
        <<<row_grid<kHeadDim>(batch, seq, heads), kThreads, 0, current_stream()>>>(
            qkv, out, logsumexp, static_cast<int>(seq), static_cast<int>(heads),
            static_cast<int>(head_dim));
    CUDA_CHECK_LAUNCH();
}

template <int kHeadDim>
void launch_backward(const float* qkv, const float* logsumexp, const float* row_dot,
                     const float* grad_out, float* grad_qkv, int64_t batch, int64_t seq,
                     int64_t heads, int64_t head_dim) {
    const dim3 grid = row_grid<kHeadDim>(batch, seq, heads);
    // launch: 128 threads, occupancy >= 18%
    attention_backward_kv_kernel<kHeadDim><<<grid, kThreads, 0, current_stream()>>>(
        qkv, grad_out, logsumexp, row_dot, grad_qkv, static_cast<int>(seq),
        static_cast<int>(heads), static_cast<int>(head_dim));
    CUDA_CHECK_LAUNCH();
    // launch: 128 threads, occupancy >= 25%
    attention_backward_q_kernel<kHeadDim><<<grid, kThreads, 0, current_stream()>>>(
        qkv, grad_out, logsumexp, row_dot, grad_qkv, static_cast<int>(seq),
        static_cast<int>(heads), static_cast<int>(head_dim));
    CUDA_CHECK_LAUNCH();
}

}  // namespace

void attention_forward(const float* qkv, float* out, float* logsumexp, int64_t batch,
                       int64_t seq, int64_t heads, int64_t head_dim) {
    if (batch == 0 || seq == 0 || heads == 0) return;
    switch (head_dim_bucket(head_dim)) {
        case 32: launch_forward<32>(qkv, out, logsumexp, batch, seq, heads, head_dim); break;
        case 64: launch_forward<64>(qkv, out, logsumexp, batch, seq, heads, head_dim); break;
        default: launch_forward<128>(qkv, out, logsumexp, batch, seq, heads, head_dim); break;
    }
}

void attention_backward(const float* qkv, const float* out, const float* logsumexp,
                        const float* grad_out, float* grad_qkv, int64_t batch, int64_t seq,
                        int64_t heads, int64_t head_dim) {
    if (batch == 0 || seq == 0 || heads == 0) return;
    const int bucket = head_dim_bucket(head_dim);
    const int64_t rows = batch * heads * seq;
    ScratchBuffer row_dot(rows * sizeof(float));
    // launch: 256 threads, occupancy >= 100%
    row_dot_kernel<<<grid_size(rows * 32), kBlockSize, 0, current_stream()>>>(
        out, grad_out, row_dot.as<float>(), batch, static_cast<int>(seq), static_cast<int>(heads),
        static_cast<int>(head_dim));
    CUDA_CHECK_LAUNCH();
    switch (bucket) {
        case 32:
            launch_backward<32>(qkv, logsumexp, row_dot.as<float>(), grad_out, grad_qkv, batch,
                                seq, heads, head_dim);
            break;
        case 64:
            launch_backward<64>(qkv, logsumexp, row_dot.as<float>(), grad_out, grad_qkv, batch,
                                seq, heads, head_dim);
            break;
        default:
            launch_backward<128>(qkv, logsumexp, row_dot.as<float>(), grad_out, grad_qkv, batch,
                                 seq, heads, head_dim);
            break;
    }
}

}  // namespace kelvin::cuda
