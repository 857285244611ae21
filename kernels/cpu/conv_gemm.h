// The blocked GEMM that every CPU convolution path runs (kernels/cpu/conv.cpp, direct and
// im2col; kernels/cpu/conv_winograd.cpp), with its operand packing and per-thread scratch.
// Internal to the conv kernels: raw pointers, no shapes beyond M, N, K.
//
// C[M x N] = A * B: A packed in panels of MR rows (below), B read where it lies through a
// table of row offsets, so B can be an im2col tile, a padded input band, channel-last pixels
// or a Winograd-transformed block without a copy.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "kernels/conv.h"

// Each instruction set's variant of this code is compiled from the same source with its own
// flags into its own namespace, kelvin::cpu::KELVIN_ISA (avx512, avx2 or generic; CMake defines
// it): kernels/cpu/conv_isa.h selects one at run time, and docs/KERNELS-conv.md
// ("Instruction sets") explains why nothing compiled here can leak into another variant.
#if !defined(KELVIN_ISA)
#error "kernels/cpu/conv_gemm.h is compiled once per instruction set: define KELVIN_ISA"
#endif

namespace kelvin::cpu::KELVIN_ISA::conv_gemm {

// GCC vector extensions, one register wide: the micro-tile is MR rows x 2 vectors, its
// accumulators filling most of the register file with 2 B vectors and a broadcast beside them.
//   AVX-512 (32 zmm): 16 floats, MR 12 (or 8): 24 accumulators
//   AVX2 (16 ymm):     8 floats, MR 6: 12 accumulators, the classic 6x16 sgemm tile
//   generic (16 xmm or NEON q registers): 4 floats, MR 6
#pragma GCC diagnostic ignored "-Wpsabi"
#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kMaxMR = 12;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
constexpr int kMaxMR = 6;
#else
constexpr int kLanes = 4;
constexpr int kMaxMR = 6;
#endif
using Vec = float __attribute__((vector_size(4 * kLanes)));
constexpr int kNR = 2 * kLanes;  // columns per micro-tile: 2 vectors
constexpr int64_t kKC = 256;     // k per block: an MR x kKC slice of A (<= 12 KiB) stays in L1

inline Vec load_vec(const float* p) {
    Vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store_vec(float* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }

// ---- packed A operands ------------------------------------------------------------------------
//
// An M x K matrix packed in panels of MR rows: panel p holds its K x MR values k-major and
// contiguous, rows past M zero. A micro-kernel's slice (MR x kKC, 12 KiB) is then one stream
// in L1; read in place at a stride of O floats it was kKC lines that at O = 256 or 512 all
// fall into the same few L1 sets (~15% slower).

// Micro-tile height for M rows: 12 (more reuse of each B load) unless 8 wastes clearly fewer
// padding rows (64 rows: 8 panels of 8 instead of 6 panels of 12 with 8 rows of zeros).
int micro_rows(int64_t M);

// A packed matrix with micro_rows(M)-row panels, or a slice of one starting at column k0
// (data advanced by k0 * mr; `columns` stays the full K, which sets the panel stride).
struct PackedA {
    const float* data;
    int64_t columns;
};

// Packed element (r, k) of an M x K matrix: panel r / mr, then k, then r % mr.
inline int64_t packed_index(int64_t r, int64_t k, int64_t K, int mr) {
    return (r / mr) * K * mr + k * mr + r % mr;
}
int64_t packed_size(int64_t M, int64_t K);

// Packs rows [0, rows) x columns [0, count) of a row-major src (row stride ld) as columns
// [k0, k0 + count) of packed panels of mr rows with K columns in all; rows past `rows` up to
// the next multiple of mr become zeros.
void pack_rows(const float* src, int64_t rows, int64_t count, int64_t ld, int64_t k0, int64_t K,
               int mr, float* out);

// Packs an M x K matrix stored column-major (element (r, k) at src[k*ld + r]).
void pack_columns(const float* src, int64_t M, int64_t K, int64_t ld, float* out);

// C[M x N] (row stride ldc) = A * B + bias (per row, may be null), or C += A * B when
// `accumulate`. A packed for M rows; B's row k is b + b_offsets[k] with N readable floats.
// Single-threaded: callers parallelise over tiles.
void tile_gemm(int64_t M, int64_t N, int64_t K, const PackedA& A, const float* b,
               const int64_t* b_offsets, float* c, int64_t ldc, const float* bias,
               bool accumulate);

// The same for rows of a matrix packed for more rows than M (panel height mr = micro_rows of
// the whole matrix): a work item that owns a slice of a packed A's panels.
void tile_gemm_with_panels(int mr, int64_t M, int64_t N, int64_t K, const PackedA& A,
                           const float* b, const int64_t* b_offsets, float* c, int64_t ldc,
                           const float* bias, bool accumulate);

// out[c * out_ld + r] = in[r * in_ld + c] for an rows x cols matrix.
void transpose(const float* in, int64_t rows, int64_t cols, int64_t in_ld, int64_t out_ld,
               float* out);

// Below this many multiply-adds (~50 us of work) a conv runs on the calling thread alone:
// waking the team would cost more than it saves (gradient checks call tiny convs thousands of
// times).
constexpr int64_t kParallelMacs = int64_t{1} << 22;
bool worth_threads(const ConvShape& s);

// offsets[k] = k * stride for k < count, in this thread's scratch (valid until its next call).
const int64_t* row_offsets(int64_t count, int64_t stride);

// The filters of the convolution being computed (M outputs, K inputs, kh x kw taps): the layer's
// own weight [M, K, kh, kw], or for backward data as a stride-1 convolution of dY the layer's
// weight [K, M, kh, kw] read transposed in channels and flipped in space.
struct FilterView {
    const float* weight;
    int64_t M, K, kh, kw;
    bool flipped;
    float at(int64_t m, int64_t k, int64_t i, int64_t j) const {
        return flipped ? weight[((k * M + m) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)]
                       : weight[((m * K + k) * kh + i) * kw + j];
    }
};

// A scratch buffer that grows and is kept, one per thread: conv runs many times per step with
// the same shapes, and fresh large allocations would page-fault on every call. Bounded by the
// largest request seen.
template <typename T>
class Scratch {
public:
    T* get(int64_t count) {
        if (count > size_) {
            data_.reset(new T[count]);
            size_ = count;
        }
        return data_.get();
    }

private:
    std::unique_ptr<T[]> data_;
    int64_t size_ = 0;
};

}  // namespace kelvin::cpu::KELVIN_ISA::conv_gemm
