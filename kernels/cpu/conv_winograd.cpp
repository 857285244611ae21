// Winograd F(2x2, 3x3) convolution (kernels/cpu/conv_winograd.h has the algebra).
//
// The 16 GEMMs per block run on the conv micro-kernel (kernels/cpu/conv_gemm.h); the
// transforms around them are short loops over contiguous data that the compiler vectorises:
// along a row of tiles for the forward pass (NCHW planes), along channels for the weight
// gradient (channel-last copies of x and dY). Work items are fixed by the shape alone and every
// sum runs in a fixed order, so results do not depend on the thread count.
#include "kernels/cpu/conv_winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/conv_gemm.h"

namespace kelvin::cpu::KELVIN_ISA::conv_winograd {

namespace {

using namespace conv_gemm;

constexpr int kPositions = 16;  // the 4x4 positions xi of a transformed tile

// The 16 positions of U, V, M and dU are stored one after another, each `size` floats plus a
// cache line: with power-of-two sizes (64 channels x 256 tiles) the 16 streams that every
// transform reads or writes fell into the same L1 sets, and the filter transform alone took a
// third of a 512-channel layer's time.
inline int64_t position_stride(int64_t size) { return size + 16; }

// Floats from one packed U_xi [M, K] to the next.
inline int64_t filter_stride(int64_t M, int64_t K) { return position_stride(packed_size(M, K)); }

thread_local Scratch<float> t_filters;  // U, 16 packed A operands (calling thread)
thread_local Scratch<float> t_inputs;   // V of a block of tiles
thread_local Scratch<float> t_products;  // M = U V of a block, or the transposed x and dY
thread_local Scratch<float> t_rows;      // a row of tiles being transformed

// ---- the filter transform U = G g G^T --------------------------------------------------------

// G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]: u (4) = G v (3).
inline void apply_g(const float v0, const float v1, const float v2, float* u, int stride) {
    u[0] = v0;
    u[stride] = 0.5f * (v0 + v1 + v2);
    u[2 * stride] = 0.5f * (v0 - v1 + v2);
    u[3 * stride] = v2;
}

// The 16 matrices U_xi [M, K], each packed as a GEMM A operand, one after another.
// f: 3x3 filters (conv_gemm.h FilterView).
void transform_filters(const FilterView& f, float* packed, bool parallel) {
    const int mr = micro_rows(f.M);
    const int64_t stride = filter_stride(f.M, f.K), panels = (f.M + mr - 1) / mr;
    // Panel by panel, k then the panel's rows: each of the 16 outputs is written in order.
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t panel = 0; panel < panels; ++panel)
        for (int64_t k = 0; k < f.K; ++k)
            for (int r = 0; r < mr; ++r) {
                const int64_t m = panel * mr + r;
                float u[kPositions] = {};
                if (m < f.M) {
                    float t[4][3];  // G g
                    for (int j = 0; j < 3; ++j)
                        apply_g(f.at(m, k, 0, j), f.at(m, k, 1, j), f.at(m, k, 2, j), &t[0][j],
                                3);
                    for (int a = 0; a < 4; ++a) apply_g(t[a][0], t[a][1], t[a][2], u + a * 4, 1);
                }
                const int64_t at = (panel * f.K + k) * mr + r;
                for (int xi = 0; xi < kPositions; ++xi) packed[xi * stride + at] = u[xi];
            }
}

// ---- forward: blocks of tile rows ------------------------------------------------------------

struct Tiling {
    int64_t tiles_h, tiles_w;  // 2x2 output tiles down and across a map
    int64_t tile_rows;         // batch * tiles_h
    int64_t rows_per_block;    // tile rows per work item
};

Tiling tiling_of(const ConvShape& s) {
    Tiling t;
    t.tiles_h = (s.out_h + 1) / 2;
    t.tiles_w = (s.out_w + 1) / 2;
    t.tile_rows = s.batch * t.tiles_h;
    // ~128 KiB of V per position: the B operand of each GEMM stays in L2 while every panel of
    // U_xi streams past it; at least 64 tiles so that each U_xi load serves two micro-tiles.
    const int64_t target = std::clamp<int64_t>(32768 / s.in_channels, 64, 256);
    t.rows_per_block = std::max<int64_t>(1, target / t.tiles_w);
    // At least four items when there are enough rows, so both cores get work.
    t.rows_per_block = std::min(t.rows_per_block, std::max<int64_t>(1, (t.tile_rows + 3) / 4));
    return t;
}

// V for tile rows [r0, r1) and input channel k: from the plane's rows 2*tr - p .. 2*tr - p + 3,
// split into even and odd columns so that every step below runs along the row of tiles.
void transform_input_rows(const float* plane, const ConvShape& s, const Tiling& t, int64_t r0,
                          int64_t r1, float* v, int64_t position_stride) {
    const int64_t tw = t.tiles_w, width = tw + 1, p = s.padding;
    float* buffer = t_rows.get(8 * width + 8 * width);
    float* even = buffer;              // [4][width]: row r, column 2u - p
    float* odd = buffer + 4 * width;   // [4][width]: row r, column 2u + 1 - p
    float* even_t = odd + 4 * width;   // B^T applied down the rows
    float* odd_t = even_t + 4 * width;
    for (int64_t row = r0; row < r1; ++row) {
        const int64_t tr = row % t.tiles_h, n = row / t.tiles_h;
        const float* image_plane = plane + n * s.in_channels * s.in_h * s.in_w;
        for (int r = 0; r < 4; ++r) {
            const int64_t ih = 2 * tr - p + r;
            float* e = even + r * width;
            float* o = odd + r * width;
            if (ih < 0 || ih >= s.in_h) {
                std::fill(e, e + width, 0.0f);
                std::fill(o, o + width, 0.0f);
                continue;
            }
            const float* in = image_plane + ih * s.in_w;
            for (int64_t u = 0; u < width; ++u) {
                const int64_t iw = 2 * u - p;
                e[u] = iw >= 0 && iw < s.in_w ? in[iw] : 0.0f;
                o[u] = iw + 1 >= 0 && iw + 1 < s.in_w ? in[iw + 1] : 0.0f;
            }
        }
        // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] down the four rows.
        for (int64_t u = 0; u < width; ++u) {
            const float* src[2] = {even, odd};
            float* dst[2] = {even_t, odd_t};
            for (int side = 0; side < 2; ++side) {
                const float d0 = src[side][u], d1 = src[side][width + u],
                            d2 = src[side][2 * width + u], d3 = src[side][3 * width + u];
                dst[side][u] = d0 - d2;
                dst[side][width + u] = d1 + d2;
                dst[side][2 * width + u] = d2 - d1;
                dst[side][3 * width + u] = d1 - d3;
            }
        }
        // ... and B across: columns 2u .. 2u + 3 are even[u], odd[u], even[u + 1], odd[u + 1].
        const int64_t col0 = (row - r0) * tw;
        for (int a = 0; a < 4; ++a) {
            const float* e = even_t + a * width;
            const float* o = odd_t + a * width;
            float* v0 = v + (a * 4) * position_stride + col0;
            float* v1 = v0 + position_stride;
            float* v2 = v1 + position_stride;
            float* v3 = v2 + position_stride;
#pragma omp simd
            for (int64_t u = 0; u < tw; ++u) {
                v0[u] = e[u] - e[u + 1];
                v1[u] = o[u] + e[u + 1];
                v2[u] = e[u + 1] - o[u];
                v3[u] = o[u] - o[u + 1];
            }
        }
    }
}

// Y = A^T M A + bias for output channel m and tile rows [r0, r1), A^T = [1 1 1 0; 0 1 -1 -1].
void transform_output_rows(const float* products, int64_t position_stride, float bias,
                           const ConvShape& s, const Tiling& t, int64_t r0, int64_t r1,
                           float* y_channel) {
    const int64_t tw = t.tiles_w;
    float* buffer = t_rows.get(4 * tw);
    float* y00 = buffer;
    float* y01 = buffer + tw;
    float* y10 = buffer + 2 * tw;
    float* y11 = buffer + 3 * tw;
    for (int64_t row = r0; row < r1; ++row) {
        const float* m = products + (row - r0) * tw;
#pragma omp simd
        for (int64_t u = 0; u < tw; ++u) {
            float top[4], bottom[4];
            for (int b = 0; b < 4; ++b) {
                const float m0 = m[b * position_stride + u], m1 = m[(4 + b) * position_stride + u],
                            m2 = m[(8 + b) * position_stride + u],
                            m3 = m[(12 + b) * position_stride + u];
                top[b] = m0 + m1 + m2;
                bottom[b] = m1 - m2 - m3;
            }
            y00[u] = top[0] + top[1] + top[2] + bias;
            y01[u] = top[1] - top[2] - top[3] + bias;
            y10[u] = bottom[0] + bottom[1] + bottom[2] + bias;
            y11[u] = bottom[1] - bottom[2] - bottom[3] + bias;
        }
        const int64_t tr = row % t.tiles_h, n = row / t.tiles_h, oh = 2 * tr;
        float* out = y_channel + n * s.out_channels * s.out_h * s.out_w + oh * s.out_w;
        const int64_t pairs = s.out_w / 2;  // whole 2-wide tiles; an odd width has one more column
        for (int64_t u = 0; u < pairs; ++u) {
            out[2 * u] = y00[u];
            out[2 * u + 1] = y01[u];
        }
        if (s.out_w % 2) out[2 * pairs] = y00[pairs];
        if (oh + 1 < s.out_h) {
            out += s.out_w;
            for (int64_t u = 0; u < pairs; ++u) {
                out[2 * u] = y10[u];
                out[2 * u + 1] = y11[u];
            }
            if (s.out_w % 2) out[2 * pairs] = y10[pairs];
        }
    }
}

// y = conv(x, filters) + bias, the filters already transformed into U.
void convolve(const float* x, const float* U, const float* bias, float* y, const ConvShape& s,
              bool parallel) {
    const Tiling t = tiling_of(s);
    const int64_t M = s.out_channels, K = s.in_channels;
    const int64_t u_stride = filter_stride(M, K);
    const int64_t blocks = (t.tile_rows + t.rows_per_block - 1) / t.rows_per_block;
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t block = 0; block < blocks; ++block) {
        const int64_t r0 = block * t.rows_per_block;
        const int64_t r1 = std::min(t.tile_rows, r0 + t.rows_per_block);
        const int64_t tiles = (r1 - r0) * t.tiles_w;
        const int64_t v_stride = position_stride(K * tiles), m_stride = position_stride(M * tiles);
        float* v = t_inputs.get(kPositions * v_stride);
        float* products = t_products.get(kPositions * m_stride);
        for (int64_t k = 0; k < K; ++k)
            transform_input_rows(x + k * in_plane, s, t, r0, r1, v + k * tiles, v_stride);
        const int64_t* offsets = row_offsets(K, tiles);
        for (int xi = 0; xi < kPositions; ++xi)
            tile_gemm(M, tiles, K, PackedA{U + xi * u_stride, K}, v + xi * v_stride, offsets,
                      products + xi * m_stride, tiles, nullptr, false);
        for (int64_t m = 0; m < M; ++m)
            transform_output_rows(products + m * tiles, m_stride, bias ? bias[m] : 0.0f, s, t,
                                  r0, r1, y + m * out_plane);
    }
}

}  // namespace

void forward(const float* x, const float* weight, const float* bias, float* y,
             const ConvShape& s) {
    const bool parallel = worth_threads(s);
    float* U = t_filters.get(kPositions * filter_stride(s.out_channels, s.in_channels));
    transform_filters(FilterView{weight, s.out_channels, s.in_channels, 3, 3, false}, U, parallel);
    convolve(x, U, bias, y, s, parallel);
}

void backward_data(const float* dy, const float* weight, float* dx, const ConvShape& s) {
    const ConvShape flipped = flipped_stride1_shape(s);  // 3x3, stride 1: its output is dx
    const bool parallel = worth_threads(s);
    float* U = t_filters.get(kPositions * filter_stride(s.in_channels, s.out_channels));
    transform_filters(FilterView{weight, s.in_channels, s.out_channels, 3, 3, true}, U, parallel);
    convolve(dy, U, nullptr, dx, flipped, parallel);
}

// ---- backward weight -------------------------------------------------------------------------
//
// Over chunks of tiles in order: V (channel-last, the B operand, from x made channel-last and
// padded once) and A dY A^T (packed as the A operand, from dY made channel-last), then per
// position xi and block of input channels dU_xi[:, block] += (A dY A^T)_xi * V_xi. Chunks run
// in sequence and each (xi, block) is one item, so every sum has a fixed order.

namespace {

// The weight gradient's transforms run along channels, kLanes at a time as one Vec (GCC vector
// extensions; the same code on a float handles the tail), on channel-last data.
template <typename T>
inline T load_lanes(const float* p);
template <>
inline Vec load_lanes<Vec>(const float* p) {
    return load_vec(p);
}
template <>
inline float load_lanes<float>(const float* p) {
    return *p;
}
inline void store_lanes(float* p, const Vec& v) { store_vec(p, v); }
inline void store_lanes(float* p, float v) { *p = v; }

// V = B^T d B, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], for the channels at d: element
// (r, q) of the tile at d + r*row + q*col; V_xi written at v + xi*stride.
template <typename T>
inline void input_tile(const float* d, int64_t row, int64_t col, float* v, int64_t stride) {
    T w[4][4];  // B^T d
    for (int q = 0; q < 4; ++q) {
        const T d0 = load_lanes<T>(d + q * col), d1 = load_lanes<T>(d + row + q * col),
                d2 = load_lanes<T>(d + 2 * row + q * col), d3 = load_lanes<T>(d + 3 * row + q * col);
        w[0][q] = d0 - d2;
        w[1][q] = d1 + d2;
        w[2][q] = d2 - d1;
        w[3][q] = d1 - d3;
    }
    for (int a = 0; a < 4; ++a) {
        float* out = v + 4 * a * stride;
        store_lanes(out, w[a][0] - w[a][2]);
        store_lanes(out + stride, w[a][1] + w[a][2]);
        store_lanes(out + 2 * stride, w[a][2] - w[a][1]);
        store_lanes(out + 3 * stride, w[a][1] - w[a][3]);
    }
}

// A g A^T, A = [1 0; 1 1; 1 -1; 0 -1], for the 2x2 output-gradient tile at g (g(r, q) at
// g + r*row + q*col); written at m + xi*stride.
template <typename T>
inline void gradient_tile(const float* g, int64_t row, int64_t col, float* m, int64_t stride) {
    const T g00 = load_lanes<T>(g), g01 = load_lanes<T>(g + col), g10 = load_lanes<T>(g + row),
            g11 = load_lanes<T>(g + row + col);
    const T h[4][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g00 - g10, g01 - g11}, {-g10, -g11}};
    for (int a = 0; a < 4; ++a) {
        float* out = m + 4 * a * stride;
        store_lanes(out, h[a][0]);
        store_lanes(out + stride, h[a][0] + h[a][1]);
        store_lanes(out + 2 * stride, h[a][0] - h[a][1]);
        store_lanes(out + 3 * stride, -h[a][1]);
    }
}

// One tile of the weight gradient's operands: V (16 rows of C channels at v, position stride
// v_stride) and A dY A^T as column `column` of the 16 packed A operands (panels of MR output
// channels; `staging` holds 16 x padded-O floats, zero past O).
template <int MR>
void gradient_operands(const float* d, int64_t d_row, int64_t C, float* v, int64_t v_stride,
                       const float* g, int64_t g_row, int64_t O, float* staging, float* a_ops,
                       int64_t column, int64_t count, int64_t a_stride) {
    int64_t c = 0;
    for (; c + kLanes <= C; c += kLanes) input_tile<Vec>(d + c, d_row, C, v + c, v_stride);
    for (; c < C; ++c) input_tile<float>(d + c, d_row, C, v + c, v_stride);
    const int64_t panels = (O + MR - 1) / MR, padded = panels * MR;
    int64_t o = 0;
    for (; o + kLanes <= O; o += kLanes) gradient_tile<Vec>(g + o, g_row, O, staging + o, padded);
    for (; o < O; ++o) gradient_tile<float>(g + o, g_row, O, staging + o, padded);
    for (int xi = 0; xi < kPositions && O < padded; ++xi)
        std::fill(staging + xi * padded + O, staging + (xi + 1) * padded, 0.0f);
    for (int xi = 0; xi < kPositions; ++xi) {
        const float* from = staging + xi * padded;
        float* to = a_ops + xi * a_stride + column * MR;
        for (int64_t panel = 0; panel < panels; ++panel)
            std::memcpy(to + panel * count * MR, from + panel * MR, MR * sizeof(float));
    }
}

}  // namespace

namespace {

// The weight gradient's data, made channel-last once per call, and its chunking.
struct GradientPlan {
    int64_t C, O;
    int64_t tiles_w, per_image, total;  // tiles across a map, per image, in the batch
    int64_t wp, x_image, dy_image;      // padded row width, floats per image of x_t and dy_t
    const float* x_t;                   // [N, hp, wp, C]: x padded, channel-last
    const float* dy_t;                  // [N, 2 tiles_h, 2 tiles_w, O]: dY channel-last
    int64_t chunk;                      // tiles per GEMM reduction block
    int mr;
    int64_t a_stride, v_stride, du_stride;  // position strides of A dY A^T, V and dU
    int64_t padded_o;
    int64_t block, blocks;  // input channels per GEMM item
    const int64_t* offsets;  // B row offsets: t * C
};

// dU (= when `first`, else +=) the products of tiles [t0, t0 + count), a_ops and v being
// scratch for one chunk. `parallel`: split the transforms across tiles and the GEMMs across
// (position, channel block) items; otherwise all on the calling thread.
void accumulate_chunk(const GradientPlan& plan, int64_t t0, int64_t count, float* a_ops,
                      float* v, float* du, bool first, bool parallel) {
    const int64_t C = plan.C, O = plan.O;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < count; ++i) {
        const int64_t tile = t0 + i, n = tile / plan.per_image;
        const int64_t tr = tile % plan.per_image / plan.tiles_w, tc = tile % plan.tiles_w;
        const float* d = plan.x_t + n * plan.x_image + (2 * tr * plan.wp + 2 * tc) * C;
        const float* g =
            plan.dy_t + n * plan.dy_image + (2 * tr * 2 * plan.tiles_w + 2 * tc) * O;
        float* staging = t_rows.get(kPositions * plan.padded_o);
        // The panel height is micro_rows(O): 8 or kMaxMR (12 with AVX-512, 6 otherwise).
        if (plan.mr == 8)
            gradient_operands<8>(d, plan.wp * C, C, v + i * C, plan.v_stride, g,
                                 2 * plan.tiles_w * O, O, staging, a_ops, i, count, plan.a_stride);
        else
            gradient_operands<kMaxMR>(d, plan.wp * C, C, v + i * C, plan.v_stride, g,
                                      2 * plan.tiles_w * O, O, staging, a_ops, i, count,
                                      plan.a_stride);
    }
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < kPositions * plan.blocks; ++item) {
        const int64_t xi = item / plan.blocks, c0 = item % plan.blocks * plan.block;
        tile_gemm(O, std::min(plan.block, C - c0), count,
                  PackedA{a_ops + xi * plan.a_stride, count}, v + xi * plan.v_stride + c0,
                  plan.offsets, du + xi * plan.du_stride + c0, C, nullptr, !first);
    }
}

}  // namespace

void backward_weight(const float* x, const float* dy, float* dweight, const ConvShape& s) {
    const bool parallel = worth_threads(s);
    const int64_t C = s.in_channels, O = s.out_channels, p = s.padding;
    GradientPlan plan;
    plan.C = C;
    plan.O = O;
    const int64_t tiles_h = (s.out_h + 1) / 2;
    plan.tiles_w = (s.out_w + 1) / 2;
    plan.per_image = tiles_h * plan.tiles_w;
    plan.total = s.batch * plan.per_image;
    // Tile (tr, tc) reads padded rows 2tr .. 2tr + 3 and columns 2tc .. 2tc + 3 (padded
    // coordinates: input row ih is at ih + p) and output rows 2tr, 2tr + 1; beyond the map
    // both are zeros, so an odd output size needs no special case.
    const int64_t hp = 2 * tiles_h + 2;
    plan.wp = 2 * plan.tiles_w + 2;
    plan.x_image = hp * plan.wp * C;
    plan.dy_image = 4 * plan.per_image * O;
    plan.chunk = std::min<int64_t>(256, plan.total);
    plan.mr = micro_rows(O);
    plan.a_stride = position_stride(packed_size(O, plan.chunk));
    plan.v_stride = position_stride(plan.chunk * C);
    plan.du_stride = position_stride(O * C);
    plan.padded_o = (O + plan.mr - 1) / plan.mr * plan.mr;
    plan.block = C >= 8 * kNR ? 2 * kNR : kNR;
    plan.blocks = (C + plan.block - 1) / plan.block;
    plan.offsets = row_offsets(plan.chunk, C);
    // Many tiles: fixed partitions of the tiles, each summed by one thread into its own dU
    // with no barrier per chunk (a chunk of 64 channels is too little work to split), then
    // added in partition order. Few tiles: chunks in sequence, each split across threads.
    // Partitions depend on the shape only (never the thread count); their partial dU are
    // capped at 8M floats.
    const int64_t per_partition = kPositions * plan.du_stride;
    const int64_t partitions = std::max<int64_t>(
        1, std::min({int64_t{8}, plan.total / 1024, (int64_t{1} << 23) / per_partition}));
    const int64_t chunk_scratch = kPositions * (plan.a_stride + plan.v_stride);
    float* work = t_products.get(s.batch * (plan.x_image + plan.dy_image) + per_partition +
                                 (partitions > 1 ? partitions * per_partition : chunk_scratch));
    float* x_t = work;
    float* dy_t = x_t + s.batch * plan.x_image;
    float* du = dy_t + s.batch * plan.dy_image;  // [16, O, C]
    float* after_du = du + per_partition;         // chunk scratch, or the partial dU
    plan.x_t = x_t;
    plan.dy_t = dy_t;
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t n = 0; n < s.batch; ++n) {
        float* image = x_t + n * plan.x_image;
        std::fill(image, image + plan.x_image, 0.0f);
        for (int64_t ih = 0; ih < s.in_h; ++ih)
            transpose(x + (n * C) * in_plane + ih * s.in_w, C, s.in_w, in_plane, C,
                      image + ((ih + p) * plan.wp + p) * C);
        float* grad = dy_t + n * plan.dy_image;
        std::fill(grad, grad + plan.dy_image, 0.0f);
        for (int64_t oh = 0; oh < s.out_h; ++oh)
            transpose(dy + (n * O) * out_plane + oh * s.out_w, O, s.out_w, out_plane, O,
                      grad + oh * 2 * plan.tiles_w * O);
    }
    if (partitions == 1) {
        float* a_ops = after_du;
        float* v = a_ops + kPositions * plan.a_stride;
        for (int64_t t0 = 0; t0 < plan.total; t0 += plan.chunk)
            accumulate_chunk(plan, t0, std::min(plan.chunk, plan.total - t0), a_ops, v, du,
                             t0 == 0, parallel);
    } else {
        float* partial = after_du;
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t part = 0; part < partitions; ++part) {
            const int64_t begin = plan.total * part / partitions;
            const int64_t end = plan.total * (part + 1) / partitions;
            float* a_ops = t_inputs.get(chunk_scratch);
            float* v = a_ops + kPositions * plan.a_stride;
            for (int64_t t0 = begin; t0 < end; t0 += plan.chunk)
                accumulate_chunk(plan, t0, std::min(plan.chunk, end - t0), a_ops, v,
                                 partial + part * per_partition, t0 == begin, false);
        }
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t row = 0; row < kPositions * O; ++row) {  // not the padding between positions
            const int64_t e = row / O * plan.du_stride + row % O * C;
            for (int64_t c = 0; c < C; ++c) {
                float total = partial[e + c];
                for (int64_t part = 1; part < partitions; ++part)
                    total += partial[part * per_partition + e + c];
                du[e + c] = total;
            }
        }
    }
    // dW = G^T dU G.
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t o = 0; o < O; ++o)
        for (int64_t c = 0; c < C; ++c) {
            float u[4][4], half[3][4];
            for (int xi = 0; xi < kPositions; ++xi)
                u[xi / 4][xi % 4] = du[xi * plan.du_stride + o * C + c];
            // G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]
            for (int b = 0; b < 4; ++b) {
                half[0][b] = u[0][b] + 0.5f * (u[1][b] + u[2][b]);
                half[1][b] = 0.5f * (u[1][b] - u[2][b]);
                half[2][b] = 0.5f * (u[1][b] + u[2][b]) + u[3][b];
            }
            float* out = dweight + (o * C + c) * 9;
            for (int i = 0; i < 3; ++i) {
                const float* r = half[i];
                out[i * 3 + 0] = r[0] + 0.5f * (r[1] + r[2]);
                out[i * 3 + 1] = 0.5f * (r[1] - r[2]);
                out[i * 3 + 2] = 0.5f * (r[1] + r[2]) + r[3];
            }
        }
}

// Enough channels to amortise the transforms (docs/KERNELS-conv.md has the per-layer
// measurements), and for the forward and backward-data passes also at least four 2x2 tiles per
// image: on 2x2 maps (one tile) the 16 transformed weight matrices (16 MiB at 512 channels)
// serve too few tiles, and the channel-vector direct kernel is twice as fast.
bool pays(const ConvShape& s, Pass pass) {
    static const std::string mode = [] {
        const char* value = std::getenv("KELVIN_CONV_WINOGRAD");
        return std::string(value ? value : "");
    }();
    if (mode == "0" || !supports(s) || s.in_channels < 16 || s.out_channels < 16)
        return false;
    const int64_t tiles_per_image = (s.out_h + 1) / 2 * ((s.out_w + 1) / 2);
    return mode == "all" || pass == Pass::kWeight || tiles_per_image >= 4;
}

}  // namespace kelvin::cpu::KELVIN_ISA::conv_winograd
