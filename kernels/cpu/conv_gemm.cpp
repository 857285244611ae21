// The conv GEMM: a register-blocked micro-kernel and the tile loop around it
// (kernels/cpu/conv_gemm.h says what each function computes).
#include "kernels/cpu/conv_gemm.h"

#include <algorithm>
#include <vector>

namespace kelvin::cpu::KELVIN_ISA::conv_gemm {

namespace {

// C[rows x cols] (row stride ldc) = or += A[rows x kc] * B[kc x cols], rows <= MR, cols <= kNR.
// A is packed: its MR values for step k are a[k*MR .. k*MR + MR). B's row k starts at
// b + b_offsets[k] and holds kNR readable floats. The accumulators, MR x 2 vectors of kLanes
// floats, stay in registers for the whole kc loop: per k, two loads of B, MR broadcasts of A,
// 2*MR fused multiply-adds.
template <int MR>
void micro_kernel(int64_t kc, const float* a, const float* b, const int64_t* b_offsets,
                  float* c, int64_t ldc, int rows, int cols, const float* bias, bool overwrite) {
    Vec acc[MR][2];
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = Vec{};
    // Four k steps per iteration: the loop's own offset load, pointer steps and branch were a
    // fifth of its instructions; unrolled, the 6x16 AVX2 tile went from 90 to 100 GFLOP/s and
    // the AVX-512 tile from 165 to 178 on one core (tile_gemm 120x256x576, B in L2).
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k) {
        const float* bk = b + b_offsets[k];
        const Vec b0 = load_vec(bk), b1 = load_vec(bk + kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            const float value = a[k * MR + r];
            acc[r][0] += value * b0;
            acc[r][1] += value * b1;
        }
    }
    if (rows == MR && cols == kNR) {
        for (int r = 0; r < MR; ++r) {
            float* row = c + r * ldc;
            Vec base0 = Vec{} + (bias ? bias[r] : 0.0f), base1 = base0;
            if (!overwrite) {
                base0 = load_vec(row);
                base1 = load_vec(row + kLanes);
            }
            store_vec(row, base0 + acc[r][0]);
            store_vec(row + kLanes, base1 + acc[r][1]);
        }
        return;
    }
    float tile[MR][kNR];
    for (int r = 0; r < MR; ++r) {
        store_vec(tile[r], acc[r][0]);
        store_vec(tile[r] + kLanes, acc[r][1]);
    }
    for (int r = 0; r < rows; ++r)
        for (int n = 0; n < cols; ++n) {
            float& out = c[r * ldc + n];
            out = (overwrite ? (bias ? bias[r] : 0.0f) : out) + tile[r][n];
        }
}

template <int MR>
void tile_gemm_with(int64_t M, int64_t N, int64_t K, const PackedA& A, const float* b,
                    const int64_t* b_offsets, float* c, int64_t ldc, const float* bias,
                    bool accumulate) {
    // A last panel of fewer than kNR columns is copied, zero-padded, so that the micro-kernel
    // never reads past the end of B.
    alignas(64) float b_edge[kKC * kNR];
    static const std::vector<int64_t> edge_offsets = [] {
        std::vector<int64_t> offsets(kKC);
        for (int64_t k = 0; k < kKC; ++k) offsets[k] = k * kNR;
        return offsets;
    }();
    const int64_t n_full = N / kNR * kNR;
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
        const int64_t kc = std::min(kKC, K - k0);
        const bool overwrite = k0 == 0 && !accumulate;
        if (n_full < N) {
            const int64_t width = N - n_full;
            for (int64_t k = 0; k < kc; ++k) {
                float* row = b_edge + k * kNR;
                std::memcpy(row, b + b_offsets[k0 + k] + n_full, width * sizeof(float));
                std::fill(row + width, row + kNR, 0.0f);
            }
        }
        for (int64_t m0 = 0; m0 < M; m0 += MR) {
            const int rows = static_cast<int>(std::min<int64_t>(MR, M - m0));
            const float* a = A.data + m0 * A.columns + k0 * MR;
            const float* row_bias = bias ? bias + m0 : nullptr;
            float* c_rows = c + m0 * ldc;
            for (int64_t n0 = 0; n0 < n_full; n0 += kNR)
                micro_kernel<MR>(kc, a, b + n0, b_offsets + k0, c_rows + n0, ldc, rows, kNR,
                                 row_bias, overwrite);
            if (n_full < N)
                micro_kernel<MR>(kc, a, b_edge, edge_offsets.data(), c_rows + n_full, ldc, rows,
                                 static_cast<int>(N - n_full), row_bias, overwrite);
        }
    }
    if (K == 0 && !accumulate)  // no reduction at all: C is the bias (or zero)
        for (int64_t m = 0; m < M; ++m)
            std::fill(c + m * ldc, c + m * ldc + N, bias ? bias[m] : 0.0f);
}

}  // namespace

int micro_rows(int64_t M) {
#if defined(__AVX512F__)
    const int64_t waste12 = (M + 11) / 12 * 12 - M, waste8 = (M + 7) / 8 * 8 - M;
    return waste12 - waste8 > M / 32 ? 8 : 12;
#else
    (void)M;
    return kMaxMR;
#endif
}

int64_t packed_size(int64_t M, int64_t K) {
    const int mr = micro_rows(M);
    return (M + mr - 1) / mr * mr * K;
}

namespace {

// One panel of MR live rows: the writes run through the panel in order. (Row by row they went
// to every MR-th float of it, each cache line written MR separate times: packing dY for the
// weight gradient of the first layer took a sixth of that pass.)
// On AVX-512 its panels of 8 and the first 8 rows of 12 go through transpose's 8 x 8 register
// blocks.
template <int MR>
void pack_full_panel(const float* src, int64_t count, int64_t ld, float* panel) {
    if (MR >= 8) {
        transpose(src, MR, count, ld, MR, panel);
        return;
    }
    for (int64_t k = 0; k < count; ++k)
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) panel[k * MR + r] = src[r * ld + k];
}

}  // namespace

void pack_rows(const float* src, int64_t rows, int64_t count, int64_t ld, int64_t k0, int64_t K,
               int mr, float* out) {
    for (int64_t r0 = 0; r0 < rows; r0 += mr) {
        float* panel = out + packed_index(r0, k0, K, mr);
        const int64_t live = std::min<int64_t>(mr, rows - r0);
        if (live == kMaxMR) {
            pack_full_panel<kMaxMR>(src + r0 * ld, count, ld, panel);
            continue;
        }
#if defined(__AVX512F__)
        if (live == 8 && mr == 8) {
            pack_full_panel<8>(src + r0 * ld, count, ld, panel);
            continue;
        }
#endif
        for (int64_t k = 0; k < count; ++k)
            for (int64_t r = 0; r < mr; ++r)
                panel[k * mr + r] = r < live ? src[(r0 + r) * ld + k] : 0.0f;
    }
}

void pack_columns(const float* src, int64_t M, int64_t K, int64_t ld, float* out) {
    const int mr = micro_rows(M);
    for (int64_t m0 = 0; m0 < M; m0 += mr) {
        const int64_t rows = std::min<int64_t>(mr, M - m0);
        float* panel = out + m0 * K;
        for (int64_t k = 0; k < K; ++k) {
            for (int64_t r = 0; r < rows; ++r) panel[k * mr + r] = src[k * ld + m0 + r];
            for (int64_t r = rows; r < mr; ++r) panel[k * mr + r] = 0.0f;
        }
    }
}

void tile_gemm(int64_t M, int64_t N, int64_t K, const PackedA& A, const float* b,
               const int64_t* b_offsets, float* c, int64_t ldc, const float* bias,
               bool accumulate) {
    tile_gemm_with_panels(micro_rows(M), M, N, K, A, b, b_offsets, c, ldc, bias, accumulate);
}

void tile_gemm_with_panels(int mr, int64_t M, int64_t N, int64_t K, const PackedA& A,
                           const float* b, const int64_t* b_offsets, float* c, int64_t ldc,
                           const float* bias, bool accumulate) {
    if (M == 0 || N == 0) return;
#if defined(__AVX512F__)
    if (mr == 8) {
        tile_gemm_with<8>(M, N, K, A, b, b_offsets, c, ldc, bias, accumulate);
        return;
    }
#endif
    (void)mr;
    tile_gemm_with<kMaxMR>(M, N, K, A, b, b_offsets, c, ldc, bias, accumulate);
}

bool worth_threads(const ConvShape& s) {
    return s.batch * s.out_channels * s.out_h * s.out_w * s.in_channels * s.kernel_h *
               s.kernel_w >
           kParallelMacs;
}

const int64_t* row_offsets(int64_t count, int64_t stride) {
    static thread_local Scratch<int64_t> offsets_scratch;
    int64_t* offsets = offsets_scratch.get(std::max<int64_t>(count, 1));
    for (int64_t k = 0; k < count; ++k) offsets[k] = k * stride;
    return offsets;
}

namespace {

// An 8 x 8 block transposed in registers: three rounds of two-input shuffles (pairs, quads,
// halves), the classic unpack/shuffle/permute sequence on AVX2; on 4-float ISAs the compiler
// splits each 8-float vector in two (__builtin_shufflevector: GCC 12 and clang both have it).
// Element by element through a stack block it cost ~1 ns a float: the strided 1x1 weight
// gradient spent a third of its time transposing x.
using Vec8 = float __attribute__((vector_size(32)));

void transpose_block8(const float* in, int64_t in_ld, float* out, int64_t out_ld) {
    Vec8 r[8], t[8], u[8];
    for (int i = 0; i < 8; ++i) std::memcpy(&r[i], in + i * in_ld, sizeof(Vec8));
    for (int i = 0; i < 8; i += 2) {  // t: pairs of rows interleaved
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {  // u: four rows' columns (j, j+4) side by side
        u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int j = 0; j < 4; ++j) {  // columns j and j + 4
        const Vec8 column = __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        const Vec8 column4 = __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
        std::memcpy(out + j * out_ld, &column, sizeof(Vec8));
        std::memcpy(out + (j + 4) * out_ld, &column4, sizeof(Vec8));
    }
}

}  // namespace

void transpose(const float* in, int64_t rows, int64_t cols, int64_t in_ld, int64_t out_ld,
               float* out) {
    constexpr int64_t kBlock = 8;
    const int64_t full_rows = rows / kBlock * kBlock, full_cols = cols / kBlock * kBlock;
    for (int64_t r0 = 0; r0 < full_rows; r0 += kBlock)
        for (int64_t c0 = 0; c0 < full_cols; c0 += kBlock)
            transpose_block8(in + r0 * in_ld + c0, in_ld, out + c0 * out_ld + r0, out_ld);
    for (int64_t r = 0; r < rows; ++r)  // the ragged right and bottom edges
        for (int64_t c = r < full_rows ? full_cols : 0; c < cols; ++c)
            out[c * out_ld + r] = in[r * in_ld + c];
}

}  // namespace kelvin::cpu::KELVIN_ISA::conv_gemm
