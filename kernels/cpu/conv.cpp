// Convolution on the CPU: every pass is a GEMM run by one register-blocked micro-kernel whose
// B operand is read where it lies (docs/KERNELS-conv.md has the measurements).
//
// With W viewed as [O, T] (T = C*kh*kw taps) and col[t][pixel] the input value tap t of an
// output pixel reads (0 in the padding):
//     forward          Y [O, pixels]     = W   * col
//     backward data    dcol [T, pixels]  = W^T * dY, col2im adds dcol into dx; for stride 1,
//                      a forward conv of dY with the flipped weights instead
//     backward weight  dW[:, :, i, j]   += dY * (x shifted by tap (i, j))^T, channel-last
// B ("col") is formed three ways, picked by shape: channel-vector direct conv (small maps,
// >= 128 output channels on AVX-512, strided 3x3 layers with >= 64 on AVX2: output channels
// are the vector lanes), pixel-vector direct conv
// (large stride-1 maps: B is a padded input band), or im2col tiles (everything else).
//
// Why not OpenBLAS: on these shapes its sgemm reached ~80% of this CPU's FMA peak and
// re-packed both operands on every call; the micro-kernel runs at the peak in cache and the
// weights are packed once per call.
//
// Each pass is one OpenMP loop over independent items (bands of output rows, groups of images,
// blocks of input channels), each thread with its own scratch. The decomposition depends only
// on the shapes and every output element is summed in a fixed order, so results do not depend
// on the number of threads.
#include "kernels/conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/conv_columns.h"
#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/conv_isa.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/parallel.h"

namespace kelvin::cpu::KELVIN_ISA {

namespace {

using namespace conv_gemm;
using conv_columns::col2im;
using conv_columns::im2col;

// ---- scratch and geometry --------------------------------------------------------------------

// Target GEMM columns per tile: wide enough to reuse each A slice over 8 micro-tiles, small
// enough that a k-block of the tile (kKC x 256 floats, 256 KiB) stays in L2.
constexpr int64_t kTileColumns = 256;
// At least this many items when the batch allows it, so that both cores get work on small maps.
constexpr int64_t kMinItems = 4;

thread_local Scratch<float> t_columns;     // an im2col or dcol tile
thread_local Scratch<float> t_outputs;     // a tile of Y or dY spanning several images
thread_local Scratch<float> t_transposed;  // packed weights or dY, x channel-last (calling thread)
thread_local Scratch<int64_t> t_offsets;   // B row offsets of a tile

struct Geometry {
    ConvShape s;
    int64_t area;      // kh * kw
    int64_t taps;      // C * kh * kw: rows of the column matrix
    int64_t pixels;    // out_h * out_w per image
    int64_t in_plane;  // in_h * in_w
    bool pointwise;    // 1x1, stride 1, no padding: x's channel planes are the column matrix
    int64_t images;    // images per item (1 unless the map is smaller than a tile)
    int64_t band_rows;  // output rows per tile when images == 1
};

Geometry geometry_of(const ConvShape& s) {
    Geometry g;
    g.s = s;
    g.area = s.kernel_h * s.kernel_w;
    g.taps = s.in_channels * g.area;
    g.pixels = s.out_h * s.out_w;
    g.in_plane = s.in_h * s.in_w;
    g.pointwise = g.area == 1 && s.stride == 1 && s.padding == 0;
    g.images = 1;
    if (g.pixels < kTileColumns) {
        const int64_t wanted = (kTileColumns + g.pixels - 1) / g.pixels;
        const int64_t spread = (s.batch + kMinItems - 1) / kMinItems;
        g.images = std::max<int64_t>(1, std::min(wanted, spread));
    }
    // Equal bands of about kTileColumns columns (at least one row).
    const int64_t max_rows = std::max<int64_t>(1, kTileColumns / std::max<int64_t>(1, s.out_w));
    const int64_t bands = (s.out_h + max_rows - 1) / max_rows;
    g.band_rows = g.images > 1 ? s.out_h : (s.out_h + bands - 1) / bands;
    return g;
}

bool empty_problem(const ConvShape& s) {
    return s.batch == 0 || s.out_channels == 0 || s.in_channels == 0 || s.out_h <= 0 ||
           s.out_w <= 0;
}


// [images, rows, pixels] -> [rows, images * pixels]: a group of images as one GEMM operand.
void gather_images(const float* src, int64_t images, int64_t rows, int64_t pixels, float* dst) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t b = 0; b < images; ++b)
            std::memcpy(dst + (r * images + b) * pixels, src + (b * rows + r) * pixels,
                        pixels * sizeof(float));
}

// y[b, o, :] = tile[o, b*pixels:(b+1)*pixels] + bias[o] (bias may be null).
void scatter_images(const float* tile, const float* bias, int64_t images, int64_t rows,
                    int64_t pixels, float* y) {
    for (int64_t r = 0; r < rows; ++r) {
        const float add = bias ? bias[r] : 0.0f;
        for (int64_t b = 0; b < images; ++b) {
            const float* in = tile + (r * images + b) * pixels;
            float* out = y + (b * rows + r) * pixels;
#pragma omp simd
            for (int64_t p = 0; p < pixels; ++p) out[p] = in[p] + add;
        }
    }
}


// ---- direct stride-1 convolution ------------------------------------------------------------
//
// For stride 1 the im2col copy can be skipped. Pad a band of input rows into a buffer of row
// width Wp = in_w + 2p, and compute the output on that width too ("extended" columns
// e = oh*Wp + ow, of which ow < out_w are real): then the B row of tap (c, i, j) is the padded
// buffer itself shifted by c*rows*Wp + i*Wp + j, so the GEMM reads the input in place. The
// price is Wp - out_w wasted columns per row (6% at 32x32, 11% at 16x16), against an im2col
// copy that cost ~20% of the time at 64 channels; used where the waste is at most 1/8.

bool direct_pays(const ConvShape& s) {
    const int64_t padded_w = s.in_w + 2 * s.padding;
    const int64_t taps = s.in_channels * s.kernel_h * s.kernel_w;
    return s.stride == 1 && s.kernel_h * s.kernel_w > 1 && s.out_h * s.out_w >= kTileColumns &&
           (padded_w - s.out_w) * 8 <= padded_w && taps >= s.out_channels;
}

// out = conv(in, W) + bias for stride-1 shape s (W [out_channels, taps]; bias may be null).
// Items are bands of output rows; each pads its own input rows.
void direct_conv_stride1(const float* in, const PackedA& weights, const float* bias, float* out,
                         const ConvShape& s) {
    const bool parallel = worth_threads(s);
    const Geometry g = geometry_of(s);
    const int64_t padded_w = s.in_w + 2 * s.padding;
    const int64_t bands = (s.out_h + g.band_rows - 1) / g.band_rows;
    const int64_t in_image = s.in_channels * g.in_plane;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < s.batch * bands; ++item) {
        const int64_t b = item / bands, oh0 = item % bands * g.band_rows;
        const int64_t oh1 = std::min(s.out_h, oh0 + g.band_rows);
        const int64_t band_rows = oh1 - oh0, padded_rows = band_rows + s.kernel_h - 1;
        const int64_t channel_stride = padded_rows * padded_w;
        // Padded rows ih = oh0 - p + r, r < padded_rows, of every channel; kernel_w spare
        // zeros at the end cover the wasted columns of the last row.
        float* padded = t_columns.get(s.in_channels * channel_stride + s.kernel_w);
        std::fill(padded + s.in_channels * channel_stride,
                  padded + s.in_channels * channel_stride + s.kernel_w, 0.0f);
        for (int64_t c = 0; c < s.in_channels; ++c)
            for (int64_t r = 0; r < padded_rows; ++r) {
                float* row = padded + c * channel_stride + r * padded_w;
                const int64_t ih = oh0 - s.padding + r;
                if (ih < 0 || ih >= s.in_h) {
                    std::fill(row, row + padded_w, 0.0f);
                    continue;
                }
                const float* src = in + b * in_image + c * g.in_plane + ih * s.in_w;
                std::fill(row, row + s.padding, 0.0f);
                std::memcpy(row + s.padding, src, s.in_w * sizeof(float));
                std::fill(row + s.padding + s.in_w, row + padded_w, 0.0f);
            }
        int64_t* offsets = t_offsets.get(g.taps);
        for (int64_t c = 0; c < s.in_channels; ++c)
            for (int64_t i = 0; i < s.kernel_h; ++i)
                for (int64_t j = 0; j < s.kernel_w; ++j)
                    offsets[(c * s.kernel_h + i) * s.kernel_w + j] =
                        c * channel_stride + i * padded_w + j;
        const int64_t extended = band_rows * padded_w;
        float* tile = t_outputs.get(s.out_channels * extended);
        tile_gemm(s.out_channels, extended, g.taps, weights, padded, offsets, tile, extended,
                  bias, false);
        for (int64_t o = 0; o < s.out_channels; ++o)
            for (int64_t r = 0; r < band_rows; ++r)
                std::memcpy(out + (b * s.out_channels + o) * g.pixels + (oh0 + r) * s.out_w,
                            tile + o * extended + r * padded_w, s.out_w * sizeof(float));
    }
}

// ---- direct convolution with output channels as the vector dimension -------------------------
//
// On small maps the kernels above lose a lot: 8x8 and 4x4 outputs waste 20-33% of an extended
// row, and im2col/col2im cost more the smaller the rows. Here the roles turn. The micro-tile's
// 32 columns are output channels (the weights, packed once per call as [O/32][T][32]), its 8
// rows are 8 output pixels, and each pixel's input is broadcast straight from a padded copy of
// its image: pixel r of a panel reads tap (c, i, j) at
//     corner + koff[c, i, j] + (r / RW) * S * Wp + (r % RW) * S,   koff = (c*Hp + i)*Wp + j,
// with RW pixels per output row in the panel (8, or 4 for 4-wide maps) and stride S. Nothing is
// wasted as long as a panel's pixels are whole row segments; the [pixels, O] result is
// transposed into NCHW with the bias. Any stride (1 and 2 compiled), no im2col.

constexpr int kPanelPixels = 8;
constexpr int64_t kChannelItemPixels = 256;  // output pixels per work item (whole images)

// With 16 vector registers (AVX2, SSE2, and the generic path's NEON) 8 pixels x 2 vectors do
// not fit. There a panel is kMaxMR (6) pixels anywhere in the item, each read through its own
// offset (pixel r of tap k at a + koff[k] + poff[r]): 12 accumulators, the sgemm tile's shape,
// and any stride or width (panels may cross rows and images; unused rows of the last panel
// repeat a real pixel and are not stored).
constexpr int kGatherPixels = kMaxMR;

// KELVIN_CONV_GATHER=0 turns the gathered path off, =all uses it at any stride and kernel
// size (comparisons).
const std::string& gathered_mode() {
    static const std::string mode = [] {
        const char* value = std::getenv("KELVIN_CONV_GATHER");
        return std::string(value ? value : "");
    }();
    return mode;
}

[[maybe_unused]] bool gathered_direct_pays(const ConvShape& s) {
    const std::string& mode = gathered_mode();
    if (mode == "0" || s.out_channels < 4 * kNR) return false;
    // Measured on AVX2 (docs/KERNELS-conv.md): strided 3x3 forward 1.7x faster than im2col; a
    // strided 1x1 (64 taps of scattered reads per panel) and stride 1 were slower.
    return mode == "all" || (s.stride >= 2 && s.kernel_h * s.kernel_w > 1);
}

// Adds (or, with `overwrite`, stores) the first `rows` rows of a two-vector accumulator tile to
// C; a partial last tile (`cols` < kNR) goes through a stack row.
template <int N>
inline void add_tile_rows(const Vec (&acc)[N][2], int rows, float* c, int64_t ldc, int cols,
                          bool overwrite) {
    for (int r = 0; r < rows; ++r) {
        float* row = c + r * ldc;
        if (cols == kNR) {
            store_vec(row, (overwrite ? Vec{} : load_vec(row)) + acc[r][0]);
            store_vec(row + kLanes, (overwrite ? Vec{} : load_vec(row + kLanes)) + acc[r][1]);
        } else {
            float tile[kNR];
            store_vec(tile, acc[r][0]);
            store_vec(tile + kLanes, acc[r][1]);
            for (int n = 0; n < cols; ++n) row[n] = (overwrite ? 0.0f : row[n]) + tile[n];
        }
    }
}

[[maybe_unused]] void gathered_panel_kernel(int64_t kc, const float* a, const int64_t* koff, const int64_t* poff,
                           const float* b, float* c, int64_t ldc, int rows, int cols,
                           bool overwrite) {
    int64_t at[kGatherPixels];
    for (int r = 0; r < kGatherPixels; ++r) at[r] = poff[r];
    Vec acc[kGatherPixels][2];
    for (int r = 0; r < kGatherPixels; ++r) acc[r][0] = acc[r][1] = Vec{};
#pragma GCC unroll 4  // as conv_gemm's micro-kernel
    for (int64_t k = 0; k < kc; ++k) {
        const Vec b0 = load_vec(b + k * kNR), b1 = load_vec(b + k * kNR + kLanes);
        const float* ak = a + koff[k];
#pragma GCC unroll 8
        for (int r = 0; r < kGatherPixels; ++r) {
            const float value = ak[at[r]];
            acc[r][0] += value * b0;
            acc[r][1] += value * b1;
        }
    }
    add_tile_rows(acc, rows, c, ldc, cols, overwrite);
}

// Where this path applies and beats the others: enough output channels to fill a few
// two-vector micro-tiles (below that, the pixel-vector kernels reuse A better). AVX-512 needs
// whole-row panels (its kernel's addresses are compile-time, stride 1 or 2); the gathered
// kernel below takes any stride and width.
bool channel_direct_fits(const ConvShape& s) {
#if defined(__AVX512F__)
    const bool rows_fit = s.out_w % kPanelPixels == 0 || (s.out_w == 4 && s.out_h % 2 == 0);
    return (s.stride == 1 || s.stride == 2) && rows_fit && s.out_channels >= 4 * kNR;
#else
    return gathered_direct_pays(s);
#endif
}

template <int RW, int S>
[[maybe_unused]] void pixel_panel_kernel(int64_t kc, const float* a, const int64_t* koff, int64_t row_stride,
                        const float* b, float* c, int64_t ldc, int cols, bool overwrite) {
    Vec acc[kPanelPixels][2];
    for (int r = 0; r < kPanelPixels; ++r) acc[r][0] = acc[r][1] = Vec{};
#pragma GCC unroll 4  // as conv_gemm's micro-kernel
    for (int64_t k = 0; k < kc; ++k) {
        const Vec b0 = load_vec(b + k * kNR), b1 = load_vec(b + k * kNR + kLanes);
        const float* ak = a + koff[k];
#pragma GCC unroll 8
        for (int r = 0; r < kPanelPixels; ++r) {
            const float value = ak[(r / RW) * row_stride + (r % RW) * S];
            acc[r][0] += value * b0;
            acc[r][1] += value * b1;
        }
    }
    add_tile_rows(acc, kPanelPixels, c, ldc, cols, overwrite);
}

// Tile [count * pixels, O] of images that start at `images` (padded, channel planes of
// padded_plane floats): the AVX-512 kernel, 8-pixel panels of whole row segments.
[[maybe_unused]] void row_panels(const float* images, const float* packed_weights, int64_t count,
                const int64_t* koff, const ConvShape& s, float* tile) {
    const int64_t taps = s.in_channels * s.kernel_h * s.kernel_w, pixels = s.out_h * s.out_w;
    const int64_t padded_w = s.in_w + 2 * s.padding;
    const int64_t padded_image = s.in_channels * (s.in_h + 2 * s.padding) * padded_w;
    const int64_t out_panels = (s.out_channels + kNR - 1) / kNR;
    auto kernel = s.out_w == 4 ? (s.stride == 1 ? pixel_panel_kernel<4, 1> : pixel_panel_kernel<4, 2>)
                               : (s.stride == 1 ? pixel_panel_kernel<8, 1> : pixel_panel_kernel<8, 2>);
    for (int64_t k0 = 0; k0 < taps; k0 += kKC) {
        const int64_t kc = std::min(kKC, taps - k0);
        for (int64_t q = 0; q < out_panels; ++q)  // a 32 KiB B panel stays in L1
            for (int64_t b = 0; b < count; ++b)
                for (int64_t p0 = 0; p0 < pixels; p0 += kPanelPixels) {
                    const int64_t oh = p0 / s.out_w, ow = p0 % s.out_w;
                    const float* corner =
                        images + b * padded_image + (oh * padded_w + ow) * s.stride;
                    kernel(kc, corner, koff + k0, s.stride * padded_w,
                           packed_weights + (q * taps + k0) * kNR,
                           tile + (b * pixels + p0) * s.out_channels + q * kNR, s.out_channels,
                           static_cast<int>(std::min<int64_t>(kNR, s.out_channels - q * kNR)),
                           k0 == 0);
                }
    }
}

// tile[total, M] = the product of the gathered A (pixel r of tap k at a + koff[k] + poff[r];
// poff padded to a multiple of kGatherPixels) and B panels [ceil(M/kNR)][K][kNR].
[[maybe_unused]] void gathered_gemm(const float* a, const int64_t* koff, int64_t K,
                                    const int64_t* poff, int64_t total, const float* panels,
                                    int64_t M, float* tile) {
    if (K == 0) std::fill(tile, tile + total * M, 0.0f);
    const int64_t out_panels = (M + kNR - 1) / kNR;
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
        const int64_t kc = std::min(kKC, K - k0);
        for (int64_t q = 0; q < out_panels; ++q)  // a 16 KiB B panel stays in L1
            for (int64_t p0 = 0; p0 < total; p0 += kGatherPixels)
                gathered_panel_kernel(
                    kc, a, koff + k0, poff + p0, panels + (q * K + k0) * kNR,
                    tile + p0 * M + q * kNR, M,
                    static_cast<int>(std::min<int64_t>(kGatherPixels, total - p0)),
                    static_cast<int>(std::min<int64_t>(kNR, M - q * kNR)), k0 == 0);
    }
}

// The forward pass with the gathered kernel: panels of kGatherPixels pixels over the item.
[[maybe_unused]] void gathered_panels(const float* images, const float* packed_weights,
                                      int64_t count, const int64_t* koff, const ConvShape& s,
                                      float* tile) {
    static thread_local Scratch<int64_t> t_pixel_offsets;
    const int64_t taps = s.in_channels * s.kernel_h * s.kernel_w, pixels = s.out_h * s.out_w;
    const int64_t padded_w = s.in_w + 2 * s.padding;
    const int64_t padded_image = s.in_channels * (s.in_h + 2 * s.padding) * padded_w;
    const int64_t total = count * pixels;
    const int64_t rounded = (total + kGatherPixels - 1) / kGatherPixels * kGatherPixels;
    int64_t* poff = t_pixel_offsets.get(rounded);
    for (int64_t p = 0; p < rounded; ++p) {
        const int64_t q = p < total ? p : 0, b = q / pixels, oh = q % pixels / s.out_w;
        poff[p] = b * padded_image + (oh * padded_w + q % s.out_w) * s.stride;
    }
    gathered_gemm(images, koff, taps, poff, total, packed_weights, s.out_channels, tile);
}

// out = conv(in, W) + bias (bias may be null) for a shape where channel_direct_fits;
// packed_weights holds B(k = tap, n = output channel) as [ceil(O/kNR)][T][kNR], zero-padded.
void channel_direct_conv(const float* in, const float* packed_weights, const float* bias,
                         float* out, const ConvShape& s) {
    const bool parallel = worth_threads(s);
    const int64_t area = s.kernel_h * s.kernel_w, taps = s.in_channels * area;
    const int64_t padded_h = s.in_h + 2 * s.padding, padded_w = s.in_w + 2 * s.padding;
    const int64_t padded_plane = padded_h * padded_w, in_plane = s.in_h * s.in_w;
    const int64_t pixels = s.out_h * s.out_w;
    int64_t* koff = t_offsets.get(taps);
    for (int64_t c = 0; c < s.in_channels; ++c)
        for (int64_t i = 0; i < s.kernel_h; ++i)
            for (int64_t j = 0; j < s.kernel_w; ++j)
                koff[(c * s.kernel_h + i) * s.kernel_w + j] =
                    c * padded_plane + i * padded_w + j;
    const int64_t images = std::max<int64_t>(
        1, std::min(kChannelItemPixels / pixels, (s.batch + kMinItems - 1) / kMinItems));
    const int64_t items = (s.batch + images - 1) / images;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < items; ++item) {
        const int64_t n0 = item * images, count = std::min(images, s.batch - n0);
        const float* padded = in + n0 * s.in_channels * in_plane;  // unpadded: read in place
        if (s.padding > 0) {
            float* copy = t_columns.get(count * s.in_channels * padded_plane);
            std::fill(copy, copy + count * s.in_channels * padded_plane, 0.0f);
            for (int64_t plane = 0; plane < count * s.in_channels; ++plane)
                for (int64_t ih = 0; ih < s.in_h; ++ih)
                    std::memcpy(
                        copy + plane * padded_plane + (ih + s.padding) * padded_w + s.padding,
                        in + (n0 * s.in_channels + plane) * in_plane + ih * s.in_w,
                        s.in_w * sizeof(float));
            padded = copy;
        }
        float* tile = t_outputs.get(count * pixels * s.out_channels);  // [pixels, O]
#if defined(__AVX512F__)
        row_panels(padded, packed_weights, count, koff, s, tile);
#else
        gathered_panels(padded, packed_weights, count, koff, s, tile);
#endif
        for (int64_t b = 0; b < count; ++b) {
            float* image = out + (n0 + b) * s.out_channels * pixels;
            transpose(tile + b * pixels * s.out_channels, pixels, s.out_channels, s.out_channels,
                      pixels, image);
            if (bias)
                for (int64_t o = 0; o < s.out_channels; ++o)
                    for (int64_t p = 0; p < pixels; ++p) image[o * pixels + p] += bias[o];
        }
    }
}

// The weights as the channel-vector kernel reads them: B panels [ceil(M/32)][K][32],
// B(k, n) = W(n, k), zero past M. The innermost loop runs over the panel's 32 lanes so that
// writes are contiguous and reads stay within a few cache lines.
//   forward          M = O, K = T:            W(o, t) = weight[o*T + t]
//   flipped          M = C, K = O*area:       W(c, (o, t)) = weight[(o*C + c)*area + area-1-t]
void pack_forward_panels(const float* weight, int64_t O, int64_t T, float* out, bool parallel) {
    const int64_t panels = (O + kNR - 1) / kNR;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t q = 0; q < panels; ++q) {
        const int64_t rows = std::min<int64_t>(kNR, O - q * kNR);
        float* panel = out + q * T * kNR;
        if (rows < kNR) std::fill(panel, panel + T * kNR, 0.0f);
        transpose(weight + q * kNR * T, rows, T, T, kNR, panel);  // panel[t][n] = W[o][t]
    }
}

void pack_flipped_panels(const float* weight, int64_t O, int64_t C, int64_t area, float* out,
                         bool parallel) {
    const int64_t panels = (C + kNR - 1) / kNR, K = O * area;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t q = 0; q < panels; ++q)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t t = 0; t < area; ++t) {
                float* lanes = out + (q * K + o * area + t) * kNR;
                for (int64_t n = 0; n < kNR; ++n) {
                    const int64_t c = q * kNR + n;
                    lanes[n] = c < C ? weight[(o * C + c) * area + (area - 1 - t)] : 0.0f;
                }
            }
}

}  // namespace

// Winograd F(2x2, 3x3) for 3x3 stride-1 layers with enough channels to amortise its
// transforms (docs/KERNELS-conv.md has the per-layer measurements). For the forward and
// backward-data passes also at least four 2x2 tiles per image: on 2x2 maps (one tile) the 16
// transformed weight matrices (16 MiB at 512 channels) serve too few tiles, and the
// channel-vector direct kernel is twice as fast. KELVIN_CONV_WINOGRAD=0 turns it off, for
// comparisons; KELVIN_CONV_WINOGRAD=all uses it wherever it applies.
enum class Pass { kForward, kData, kWeight };
bool use_winograd(const ConvShape& s, Pass pass) {
    static const std::string mode = [] {
        const char* value = std::getenv("KELVIN_CONV_WINOGRAD");
        return std::string(value ? value : "");
    }();
    if (mode == "0" || !conv_winograd::supports(s) || s.in_channels < 16 || s.out_channels < 16)
        return false;
    const int64_t tiles_per_image = (s.out_h + 1) / 2 * ((s.out_w + 1) / 2);
    return mode == "all" || pass == Pass::kWeight || tiles_per_image >= 4;
}

// ---- tiny maps: only the taps that land inside the image -------------------------------------
//
// On a 2x2 map with a 3x3 kernel and padding 1, 5 of an output pixel's 9 taps read padding: the
// other paths multiply those zeros (VGG's 512-channel 2x2 layers ran at half PyTorch's speed).
// Here each output pixel sums one GEMM per tap that lands inside the map, with the batch as the
// columns: Y_p [O, N] += W_tap [O, C] * X [C, N], X's rows read in place from x transposed to
// [C*H*W, N] and each tap's filter matrix packed once per call. On a 2x2 map: 4 taps per pixel
// instead of 9.

bool tiny_map_fits(const ConvShape& s) {
    return s.stride == 1 && s.out_h * s.out_w <= 4 && s.in_h * s.in_w <= 4 && s.batch >= 16 &&
           s.in_channels >= 16 && s.out_channels >= 16;
}

// y = conv(x, filters) + bias for shape s.
void tiny_map_conv(const float* x, const FilterView& filter, const float* bias, float* y,
                   const ConvShape& s) {
    const int64_t N = s.batch, C = s.in_channels, O = s.out_channels;
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
    const int64_t area = s.kernel_h * s.kernel_w;
    const int mr = micro_rows(O);
    const bool parallel = worth_threads(s);
    float* x_t = t_columns.get(C * in_plane * N + O * N);  // [C*H*W, N], then Y_p [O, N]
    transpose(x, N, C * in_plane, C * in_plane, N, x_t);
    float* y_p = x_t + C * in_plane * N;
    // Each tap's [O, C] filter matrix packed once; pixel p sums the GEMMs of its valid taps.
    const int64_t tap_size = packed_size(O, C), panels = (O + mr - 1) / mr;
    float* packed = t_transposed.get(area * tap_size);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t m = 0; m < panels * mr; ++m)
        for (int64_t t = 0; t < area; ++t)
            for (int64_t k = 0; k < C; ++k)
                packed[t * tap_size + packed_index(m, k, C, mr)] =
                    m < O ? filter.at(m, k, t / s.kernel_w, t % s.kernel_w) : 0.0f;
    int64_t* offsets = t_offsets.get(C);
    for (int64_t oh = 0; oh < s.out_h; ++oh)
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
            bool first = true;
            for (int64_t t = 0; t < area; ++t) {
                const int64_t ih = oh - s.padding + t / s.kernel_w;
                const int64_t iw = ow - s.padding + t % s.kernel_w;
                if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                for (int64_t k = 0; k < C; ++k) offsets[k] = (k * in_plane + ih * s.in_w + iw) * N;
                // Items: panels of output channels (each reads all of X's columns: the batch).
#pragma omp parallel for schedule(static) if (parallel)
                for (int64_t panel = 0; panel < panels; ++panel) {
                    const int64_t rows = std::min<int64_t>(mr, O - panel * mr);
                    tile_gemm_with_panels(mr, rows, N, C,
                                          PackedA{packed + t * tap_size + panel * mr * C, C}, x_t,
                                          offsets, y_p + panel * mr * N, N,
                                          bias ? bias + panel * mr : nullptr, !first);
                }
                first = false;
            }
            if (first)  // no tap inside the map: the output is the bias
                for (int64_t o = 0; o < O; ++o)
                    std::fill(y_p + o * N, y_p + (o + 1) * N, bias ? bias[o] : 0.0f);
            for (int64_t n = 0; n < N; ++n)
                for (int64_t o = 0; o < O; ++o)
                    y[(n * O + o) * out_plane + oh * s.out_w + ow] = y_p[o * N + n];
        }
}

// x[c, oh*S, ow*S] of one image as [out_h, out_w, C] (channel-last, only the pixels a strided
// 1x1 kernel reads): each sampled input row transposed whole (8x8 vector blocks), then every
// S-th pixel's C floats copied out. (Gathering [C, out_w] with scalar strided reads first, then
// transposing, made that pass 10-15% slower: 64->128 stride 2, AVX2 5.8 -> 5.4 ms.)
void sample_channel_last(const float* x, const ConvShape& s, float* out) {
    static thread_local Scratch<float> t_row;
    const int64_t in_plane = s.in_h * s.in_w, C = s.in_channels;
    float* row = t_row.get(C * s.in_w);
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
        transpose(x + oh * s.stride * s.in_w, C, s.in_w, in_plane, C, row);
        for (int64_t ow = 0; ow < s.out_w; ++ow)
            std::memcpy(out + (oh * s.out_w + ow) * C, row + ow * s.stride * C,
                        C * sizeof(float));
    }
}

// The weight gradient with fewer input channels than a micro-tile is wide (the 3-channel first
// layer, the 1-channel Fashion-MNIST one): dW[o][t] = sum over pixels k of dY[o][k] * col[t][k],
// T = C*kh*kw taps (27) in the weight's own order, as dot products with pixels as the vector
// lanes. Both operands are then read where they lie, contiguous over pixels: dY's rows in place
// and the rows of an im2col tile, no packing. (As a GEMM with pixels as the reduction, dY had
// to be packed k-major: 8 MB rearranged for 113 MFLOP, a third of that pass.)
//
// A register block is RO output channels x RT taps of vector accumulators (AVX-512 8 x 3 = 24 of
// 32 registers; 16-register paths 4 x 3): per kLanes pixels RO + RT loads and RO*RT FMAs. The
// lanes stay unreduced in a per-item [O, T] array of vectors until the end. Items are fixed
// partitions of the blocks of output rows, summed in partition order, then lane order: the
// result does not depend on the thread count.
#if defined(__AVX512F__)
constexpr int kDotChannels = 8;
#else
constexpr int kDotChannels = 4;
#endif
constexpr int kDotTaps = 3;

// partial[r * T + t] += kLanes partial sums of dy row r . col row t over kc pixels, for r < ro,
// t < rt (rows past those repeat a real row and are not stored).
void accumulate_dots(const float* dy, int64_t dy_ld, int ro, const float* col, int64_t col_ld,
                     int rt, int64_t kc, int64_t T, float* partial) {
    const float* dy_rows[kDotChannels];
    const float* col_rows[kDotTaps];
    for (int r = 0; r < kDotChannels; ++r) dy_rows[r] = dy + std::min(r, ro - 1) * dy_ld;
    for (int t = 0; t < kDotTaps; ++t) col_rows[t] = col + std::min(t, rt - 1) * col_ld;
    Vec acc[kDotChannels][kDotTaps] = {};
    int64_t k = 0;
    for (; k + kLanes <= kc; k += kLanes) {
        Vec c[kDotTaps];
        for (int t = 0; t < kDotTaps; ++t) c[t] = load_vec(col_rows[t] + k);
#pragma GCC unroll 8
        for (int r = 0; r < kDotChannels; ++r) {
            const Vec d = load_vec(dy_rows[r] + k);
            for (int t = 0; t < kDotTaps; ++t) acc[r][t] += d * c[t];
        }
    }
    for (; k < kc; ++k)  // the pixels past the last whole vector, in lane 0
        for (int r = 0; r < kDotChannels; ++r)
            for (int t = 0; t < kDotTaps; ++t) acc[r][t][0] += dy_rows[r][k] * col_rows[t][k];
    for (int r = 0; r < ro; ++r)
        for (int t = 0; t < rt; ++t) {
            float* sums = partial + (r * T + t) * kLanes;
            store_vec(sums, load_vec(sums) + acc[r][t]);
        }
}

void few_channel_weight_gradient(const float* x, const float* dy, const ConvShape& s,
                                 float* dweight) {
    constexpr int64_t kParts = 8;
    constexpr int64_t kBlockPixels = 1024;  // 512: 3% slower, 256: 12% (AVX-512, one thread)
    const int64_t O = s.out_channels, T = s.in_channels * s.kernel_h * s.kernel_w;
    const int64_t band_rows = std::max<int64_t>(1, kBlockPixels / s.out_w);
    const int64_t bands = (s.out_h + band_rows - 1) / band_rows, blocks = s.batch * bands;
    const int64_t per_part = (blocks + kParts - 1) / kParts;
    const int64_t pixels = s.out_h * s.out_w, in_image = s.in_channels * s.in_h * s.in_w;
    const int64_t part_size = O * T * kLanes;
    float* partials = t_outputs.get(kParts * part_size);
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t part = 0; part < kParts; ++part) {
        float* partial = partials + part * part_size;
        std::fill(partial, partial + part_size, 0.0f);
        float* tile = t_columns.get(T * band_rows * s.out_w);
        for (int64_t block = part * per_part; block < std::min(blocks, (part + 1) * per_part);
             ++block) {
            const int64_t b = block / bands, oh0 = block % bands * band_rows;
            const int64_t oh1 = std::min(s.out_h, oh0 + band_rows), kc = (oh1 - oh0) * s.out_w;
            im2col(x + b * in_image, 1, oh0, oh1, s, tile);
            const float* dy_block = dy + b * O * pixels + oh0 * s.out_w;
            for (int64_t o0 = 0; o0 < O; o0 += kDotChannels)
                for (int64_t t0 = 0; t0 < T; t0 += kDotTaps)
                    accumulate_dots(dy_block + o0 * pixels, pixels,
                                    static_cast<int>(std::min<int64_t>(kDotChannels, O - o0)),
                                    tile + t0 * kc, kc,
                                    static_cast<int>(std::min<int64_t>(kDotTaps, T - t0)), kc, T,
                                    partial + (o0 * T + t0) * kLanes);
        }
    }
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t o = 0; o < O; ++o)
        for (int64_t t = 0; t < T; ++t) {
            float total = 0.0f;
            for (int64_t part = 0; part < kParts; ++part)
                for (int lane = 0; lane < kLanes; ++lane)
                    total += partials[part * part_size + (o * T + t) * kLanes + lane];
            dweight[o * T + t] = total;
        }
}

// The weight gradient of a 1x1 layer, dW [O, C] = dY [O, K] * x^T [K, C] (x channel-last: B
// row k at offsets[k]), with items that split the K pixels rather than the channels: blocks of
// channels (4 at 64 input channels) each re-read all of a packed dY from memory. Each item packs
// its own k-blocks of dY as it goes (in cache: a whole packed copy was 4 MB more written and
// read at 64->128 stride 2) and sums the whole dW into its own partial; the partials are added
// in partition order, so the result does not depend on the thread count.
constexpr int64_t kPixelSplitParts = 4;
constexpr int64_t kPixelSplitMaxWeights = int64_t{1} << 17;  // partials stay in L2
void pixel_split_pointwise_gradient(const float* dy, const float* x_t, const int64_t* offsets,
                                    const ConvShape& s, float* dweight) {
    const int64_t O = s.out_channels, C = s.in_channels, pixels = s.out_h * s.out_w;
    const int64_t K = s.batch * pixels, blocks = (K + kKC - 1) / kKC;
    const int64_t per_part = (blocks + kPixelSplitParts - 1) / kPixelSplitParts;
    const int mr = micro_rows(O);
    float* partials = t_outputs.get(kPixelSplitParts * O * C);
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t part = 0; part < kPixelSplitParts; ++part) {
        float* dw = partials + part * O * C;
        std::fill(dw, dw + O * C, 0.0f);
        float* a = t_columns.get(packed_size(O, kKC));
        for (int64_t block = part * per_part; block < std::min(blocks, (part + 1) * per_part);
             ++block) {
            const int64_t k0 = block * kKC, kc = std::min(kKC, K - k0);
            for (int64_t k = k0; k < k0 + kc;) {  // the block's pixels, image by image
                const int64_t b = k / pixels, p = k % pixels;
                const int64_t count = std::min(pixels - p, k0 + kc - k);
                pack_rows(dy + (b * O) * pixels + p, O, count, pixels, k - k0, kc, mr, a);
                k += count;
            }
            tile_gemm(O, C, kc, PackedA{a, kc}, x_t, offsets + k0, dw, C, nullptr, true);
        }
    }
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t i = 0; i < O * C; ++i) {
        float total = 0.0f;
        for (int64_t part = 0; part < kPixelSplitParts; ++part) total += partials[part * O * C + i];
        dweight[i] = total;
    }
}

// ---- the three passes --------------------------------------------------------------------------

void conv2d_forward(const float* x, const float* weight, const float* bias, float* y,
                    const ConvShape& shape) {
    const bool parallel = worth_threads(shape);
    if (empty_problem(shape)) return;
    if (use_winograd(shape, Pass::kForward)) {
        conv_winograd::forward(x, weight, bias, y, shape);
        return;
    }
    if (tiny_map_fits(shape)) {
        const FilterView filters{weight, shape.out_channels, shape.in_channels, shape.kernel_h,
                                 shape.kernel_w, false};
        tiny_map_conv(x, filters, bias, y, shape);
        return;
    }
    const Geometry g = geometry_of(shape);
    const ConvShape& s = g.s;
    if (channel_direct_fits(s)) {
        float* panels = t_transposed.get((s.out_channels + kNR - 1) / kNR * kNR * g.taps);
        pack_forward_panels(weight, s.out_channels, g.taps, panels, parallel);
        channel_direct_conv(x, panels, bias, y, s);
        return;
    }
    // W packed once per call (a few % of the time; read in place it ran ~15% slower).
    float* packed = t_transposed.get(packed_size(s.out_channels, g.taps));
    const int mr = micro_rows(s.out_channels);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t m0 = 0; m0 < s.out_channels; m0 += mr)
        pack_rows(weight + m0 * g.taps, std::min<int64_t>(mr, s.out_channels - m0), g.taps,
                  g.taps, 0, g.taps, mr, packed + m0 * g.taps);
    const PackedA w{packed, g.taps};
    if (direct_pays(shape)) {
        direct_conv_stride1(x, w, bias, y, shape);
        return;
    }
    const int64_t out_image = s.out_channels * g.pixels, in_image = s.in_channels * g.in_plane;
    const int64_t bands = (s.out_h + g.band_rows - 1) / g.band_rows;
    const int64_t groups = (s.batch + g.images - 1) / g.images;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < groups * bands; ++item) {
        const int64_t n0 = item / bands * g.images, oh0 = item % bands * g.band_rows;
        const int64_t count = std::min(g.images, s.batch - n0);
        const int64_t oh1 = std::min(s.out_h, oh0 + g.band_rows);
        const int64_t cols = count * (oh1 - oh0) * s.out_w;
        const float* x_item = x + n0 * in_image;
        const float* col;
        const int64_t* offsets;
        if (g.pointwise && count == 1) {  // B rows are x's channel planes, from column oh0*W
            col = x_item + oh0 * s.out_w;
            offsets = row_offsets(g.taps, g.in_plane);
        } else {
            float* tile = t_columns.get(g.taps * cols);
            im2col(x_item, count, oh0, oh1, s, tile);
            col = tile;
            offsets = row_offsets(g.taps, cols);
        }
        if (count == 1) {  // straight into y's band, rows of stride `pixels`
            tile_gemm(s.out_channels, cols, g.taps, w, col, offsets,
                      y + n0 * out_image + oh0 * s.out_w, g.pixels, bias, false);
        } else {
            float* tile = t_outputs.get(s.out_channels * cols);
            tile_gemm(s.out_channels, cols, g.taps, w, col, offsets, tile, cols, nullptr, false);
            scatter_images(tile, bias, count, s.out_channels, g.pixels, y + n0 * out_image);
        }
    }
}

void conv2d_backward_data(const float* dy, const float* weight, float* dx,
                          const ConvShape& shape) {
    const bool parallel = worth_threads(shape);
    const ConvShape& s = shape;
    if (s.batch == 0 || s.in_channels == 0) return;
    if (empty_problem(shape)) {  // no output pixel reads x: its gradient is zero
        std::fill(dx, dx + s.batch * s.in_channels * s.in_h * s.in_w, 0.0f);
        return;
    }
    if (use_winograd(shape, Pass::kData)) {
        conv_winograd::backward_data(dy, weight, dx, shape);
        return;
    }
    // Stride 1: dx is the stride-1 convolution of dY, padded by k-1-p, with the weights
    // flipped in space and transposed in channels: no dcol, no col2im.
    const ConvShape flipped = flipped_stride1_shape(s);
    const bool flippable = s.stride == 1 && s.kernel_h == s.kernel_w && flipped.padding >= 0 &&
                           flipped.out_h == s.in_h && flipped.out_w == s.in_w;
    if (flippable && tiny_map_fits(flipped)) {
        const FilterView filters{weight, s.in_channels, s.out_channels, s.kernel_h, s.kernel_w,
                                 true};
        tiny_map_conv(dy, filters, nullptr, dx, flipped);
        return;
    }
    if (flippable && channel_direct_fits(flipped)) {
        // B(k = (o, t), n = c) = weight[o, c, area-1-t].
        const int64_t area = s.kernel_h * s.kernel_w, taps = s.out_channels * area;
        float* panels = t_transposed.get((s.in_channels + kNR - 1) / kNR * kNR * taps);
        pack_flipped_panels(weight, s.out_channels, s.in_channels, area, panels, parallel);
        channel_direct_conv(dy, panels, nullptr, dx, flipped);
        return;
    }
    // With fewer input channels than a micro-tile has rows (the 3-channel first layer: 3 of 6
    // or 8), the flipped GEMM would compute mostly empty rows; the dcol GEMM below has C*kh*kw
    // rows (27) and reads dY in place (first layer, 2 threads: 2.0-2.8 -> ms on AVX-512).
    const bool few_channels = s.in_channels < micro_rows(s.in_channels);
    if (flippable && !few_channels && direct_pays(flipped)) {
        // A[c][(o, t)] = weight[o, c, area-1-t], packed.
        const int64_t area = s.kernel_h * s.kernel_w, taps = s.out_channels * area;
        const int mr = micro_rows(s.in_channels);
        float* w_flipped = t_transposed.get(packed_size(s.in_channels, taps));
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t c = 0; c < (s.in_channels + mr - 1) / mr * mr; ++c)
            for (int64_t o = 0; o < s.out_channels; ++o)
                for (int64_t t = 0; t < area; ++t)
                    w_flipped[packed_index(c, o * area + t, taps, mr)] =
                        c < s.in_channels
                            ? weight[(o * s.in_channels + c) * area + (area - 1 - t)]
                            : 0.0f;
        direct_conv_stride1(dy, PackedA{w_flipped, taps}, nullptr, dx,
                            flipped);
        return;
    }
    const Geometry g = geometry_of(shape);
    const int64_t out_image = s.out_channels * g.pixels, in_image = s.in_channels * g.in_plane;
    const int64_t groups = (s.batch + g.images - 1) / g.images;
    // W^T [T, O] (column-major in weight: W^T[t][o] = weight[o*T + t]), packed.
    float* packed = t_transposed.get(packed_size(g.taps, s.out_channels));
    pack_columns(weight, g.taps, s.out_channels, g.taps, packed);
    const PackedA w_transposed{packed, s.out_channels};
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < groups; ++item) {
        const int64_t n0 = item * g.images, count = std::min(g.images, s.batch - n0);
        float* dx_item = dx + n0 * in_image;
        if (count > 1) {  // one tile: all output pixels of the group
            const int64_t cols = count * g.pixels;
            float* dy_tile = t_outputs.get(s.out_channels * cols);
            gather_images(dy + n0 * out_image, count, s.out_channels, g.pixels, dy_tile);
            const int64_t* offsets = row_offsets(s.out_channels, cols);
            float* dcol = t_columns.get(g.taps * cols);
            tile_gemm(g.taps, cols, s.out_channels, w_transposed, dy_tile, offsets, dcol, cols,
                      nullptr, false);
            std::fill(dx_item, dx_item + count * in_image, 0.0f);
            col2im(dcol, count, 0, s.out_h, s, dx_item);
            continue;
        }
        const float* dy_image = dy + n0 * out_image;
        const int64_t* offsets = row_offsets(s.out_channels, g.pixels);
        if (g.pointwise) {  // dcol is dx itself
            tile_gemm(g.taps, g.pixels, s.out_channels, w_transposed, dy_image, offsets, dx_item,
                      g.pixels, nullptr, false);
            continue;
        }
        std::fill(dx_item, dx_item + in_image, 0.0f);
        for (int64_t oh0 = 0; oh0 < s.out_h; oh0 += g.band_rows) {
            const int64_t oh1 = std::min(s.out_h, oh0 + g.band_rows);
            const int64_t cols = (oh1 - oh0) * s.out_w;
            float* dcol = t_columns.get(g.taps * cols);
            tile_gemm(g.taps, cols, s.out_channels, w_transposed, dy_image + oh0 * s.out_w,
                      offsets, dcol, cols, nullptr, false);
            col2im(dcol, 1, oh0, oh1, s, dx_item);
        }
    }
}

void conv2d_backward_weight(const float* x, const float* dy, float* dweight,
                            const ConvShape& shape) {
    const bool parallel = worth_threads(shape);
    const ConvShape& s = shape;
    const int64_t area = s.kernel_h * s.kernel_w;
    if (empty_problem(shape)) {
        std::fill(dweight, dweight + s.out_channels * s.in_channels * area, 0.0f);
        return;
    }
    if (use_winograd(shape, Pass::kWeight)) {
        conv_winograd::backward_weight(x, dy, dweight, shape);
        return;
    }
    // For each kernel tap (i, j), dW[:, :, i, j] [O, C] = sum over output pixels k of
    // dY[:, k] (O values) outer x[pixel k shifted by (i, j)] (C values). Both operands are
    // rearranged once per call: dY as a packed [O, N*pixels] A operand, and x padded and
    // channel-last [N, Hp, Wp, C] (B: the row of pixel k for tap (i, j) is C contiguous floats
    // at offset[k] + (i*Wp + j)*C). No im2col, any stride, and the taps of a k-block reuse the
    // same A block from L2.
    if (s.in_channels < kNR) {  // the first layer
        few_channel_weight_gradient(x, dy, s, dweight);
        return;
    }
    const int64_t pixels = s.out_h * s.out_w, in_plane = s.in_h * s.in_w;
    // A strided 1x1 kernel without padding reads only the pixels (oh*S, ow*S): x^T then holds
    // just those, [N, out_h, out_w, C] (for the ResNet shortcuts a quarter of x: the full
    // transpose was most of that pass).
    const bool sampled = area == 1 && s.padding == 0 && s.stride > 1;
    const int64_t padded_h = sampled ? s.out_h : s.in_h + 2 * s.padding;
    const int64_t padded_w = sampled ? s.out_w : s.in_w + 2 * s.padding;
    const int64_t padded_image = padded_h * padded_w * s.in_channels;
    const int64_t out_image = s.out_channels * pixels, in_image = s.in_channels * in_plane;
    const int64_t K = s.batch * pixels;
    const bool pixel_split = area == 1 && s.out_channels * s.in_channels <= kPixelSplitMaxWeights &&
                             K >= kPixelSplitParts * kKC;
    const int mr = micro_rows(s.out_channels);
    const int64_t dy_size = pixel_split ? 0 : packed_size(s.out_channels, K);
    float* dy_packed = t_transposed.get(dy_size + s.batch * padded_image +
                                        area * s.out_channels * s.in_channels);
    float* x_t = dy_packed + dy_size;
    // dW by kernel row: [kh, O, kw * C], element (i, o, j*C + c); permuted into dW at the end.
    float* dw_rows = x_t + s.batch * padded_image;
    const int64_t row_width = s.kernel_w * s.in_channels;
    int64_t* offsets = t_offsets.get(K);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t b = 0; b < s.batch; ++b) {
        if (!pixel_split)  // which packs dY itself, block by block
            pack_rows(dy + b * out_image, s.out_channels, pixels, pixels, b * pixels, K, mr,
                      dy_packed);
        float* image = x_t + b * padded_image;
        if (sampled) {
            sample_channel_last(x + b * in_image, s, image);
            for (int64_t p = 0; p < pixels; ++p)
                offsets[b * pixels + p] = b * padded_image + p * s.in_channels;
            continue;
        }
        std::fill(image, image + padded_image, 0.0f);
        for (int64_t ih = 0; ih < s.in_h; ++ih)  // [C, in_w] -> [in_w, C] into padded row
            transpose(x + b * in_image + ih * s.in_w, s.in_channels, s.in_w, in_plane,
                      s.in_channels,
                      image + ((ih + s.padding) * padded_w + s.padding) * s.in_channels);
        for (int64_t oh = 0; oh < s.out_h; ++oh)
            for (int64_t ow = 0; ow < s.out_w; ++ow)
                offsets[b * pixels + oh * s.out_w + ow] =
                    b * padded_image +
                    (oh * s.stride * padded_w + ow * s.stride) * s.in_channels;
    }
    if (pixel_split) {
        pixel_split_pointwise_gradient(dy, x_t, offsets, s, dweight);
        return;
    }
    // Items: blocks of input channels, each owning dW[:, block].
    // Blocks of 64 channels when there are enough for 4+ items: each A slice then serves two
    // micro-tile columns.
    const int64_t block = s.in_channels >= 8 * kNR ? 2 * kNR : kNR;
    const int64_t items = (s.in_channels + block - 1) / block;
    // On the 16-register ISAs a B row is one or two cache lines, rows s.stride * C floats apart:
    // at C >= 64 that is a power of two of 256 B or more, so a k-block's rows (16-32 KiB) fall
    // into a few L1 sets and miss on every micro-tile. Copied together first, they stay in L1
    // (AVX2, 3x3 stride 2: 128 and 256 channels 20 -> 16-17 ms; AVX-512's 2-line rows: no gain).
#if defined(__AVX512F__)
    const bool pack_b = false;
#else
    const bool pack_b = area > 1;
#endif
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < items; ++item) {
        const int64_t c0 = item * block;
        const int64_t width = std::min(block, s.in_channels - c0);
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
            const int64_t kc = std::min(kKC, K - k0);
            const PackedA a{dy_packed + k0 * mr, K};  // columns k0..
            for (int64_t i = 0; i < s.kernel_h; ++i)
                for (int64_t j = 0; j < s.kernel_w; ++j) {
                    const float* b = x_t + (i * padded_w + j) * s.in_channels + c0;
                    const int64_t* b_offsets = offsets + k0;
                    if (pack_b) {
                        float* rows = t_columns.get(kKC * block);
                        for (int64_t k = 0; k < kc; ++k)
                            std::memcpy(rows + k * width, b + b_offsets[k], width * sizeof(float));
                        b = rows;
                        b_offsets = row_offsets(kc, width);
                    }
                    tile_gemm(s.out_channels, width, kc, a, b, b_offsets,
                              dw_rows + i * s.out_channels * row_width + j * s.in_channels + c0,
                              row_width, nullptr, k0 > 0);
                }
        }
    }
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t o = 0; o < s.out_channels; ++o)
        for (int64_t c = 0; c < s.in_channels; ++c)
            for (int64_t i = 0; i < s.kernel_h; ++i)
                for (int64_t j = 0; j < s.kernel_w; ++j)
                    dweight[((o * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j] =
                        dw_rows[(i * s.out_channels + o) * row_width + j * s.in_channels + c];
}

void conv2d_backward_bias(const float* dy, float* dbias, const ConvShape& shape) {
    const ConvShape& s = shape;
    const int64_t pixels = std::max<int64_t>(0, s.out_h) * std::max<int64_t>(0, s.out_w);
#pragma omp parallel for schedule(static) if (s.batch * s.out_channels * pixels > kParallelThreshold)
    for (int64_t o = 0; o < s.out_channels; ++o) {
        double total = 0.0;  // up to batch * pixels terms: keep the reference accurate
        for (int64_t b = 0; b < s.batch; ++b) {
            const float* row = dy + (b * s.out_channels + o) * pixels;
            float partial = 0.0f;
#pragma omp simd reduction(+ : partial)
            for (int64_t p = 0; p < pixels; ++p) partial += row[p];
            total += partial;
        }
        dbias[o] = static_cast<float>(total);
    }
}

// The entry point kernels/cpu/conv_isa.cpp reaches this variant by: the one symbol of its
// object that stays global (CMakeLists.txt localizes every other one).
const ConvKernels kKernels = {KELVIN_STRINGIFY(KELVIN_ISA),  conv2d_forward,
                              conv2d_backward_data,          conv2d_backward_weight,
                              conv2d_backward_bias,          conv_winograd::forward,
                              conv_winograd::backward_data,  conv_winograd::backward_weight};

}  // namespace kelvin::cpu::KELVIN_ISA

extern "C" __attribute__((visibility("default"))) const kelvin::cpu::ConvKernels*
KELVIN_CONV_KERNELS_ENTRY(KELVIN_ISA)() {
    return &kelvin::cpu::KELVIN_ISA::kKernels;
}
