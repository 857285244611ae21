// The CPU convolutions that read their input in place, without a column matrix
// (kernels/cpu/conv_direct.h; docs/KERNELS-conv.md has the measurements).
#include "kernels/cpu/conv_direct.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/cpu/conv_tiles.h"

namespace kelvin::cpu::KELVIN_ISA::conv_direct {

using namespace conv_gemm;
using namespace conv_tiles;

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

namespace {

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

}  // namespace

// Where this path applies and beats the others: enough output channels to fill a few
// two-vector micro-tiles (below that, the pixel-vector kernels reuse A better). AVX-512 needs
// whole-row panels (its kernel's addresses are compile-time, stride 1 or 2); the gathered
// kernel (gathered_panels) takes any stride and width.
bool channel_direct_fits(const ConvShape& s) {
#if defined(__AVX512F__)
    const bool rows_fit = s.out_w % kPanelPixels == 0 || (s.out_w == 4 && s.out_h % 2 == 0);
    return (s.stride == 1 || s.stride == 2) && rows_fit && s.out_channels >= 4 * kNR;
#else
    return gathered_direct_pays(s);
#endif
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

}  // namespace kelvin::cpu::KELVIN_ISA::conv_direct
