// The CPU convolution's weight gradient (kernels/cpu/conv_weight_gradient.h;
// docs/KERNELS-conv.md has the measurements).
#include "kernels/cpu/conv_weight_gradient.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/conv_columns.h"
#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/conv_tiles.h"
#include "kernels/cpu/conv_winograd.h"

namespace kelvin::cpu::KELVIN_ISA {

namespace {

using namespace conv_gemm;
using namespace conv_tiles;
using conv_columns::im2col;

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

// Its unreduced partials are 8 * kLanes times dW: bounded (8 MB on AVX-512) by leaving larger
// layers (16 channels in, 5x5 taps, 512 out: 105 MB) to the general path.
constexpr int64_t kFewChannelMaxWeights = int64_t{1} << 14;
bool few_channel_fits(const ConvShape& s) {
    return s.out_channels * s.in_channels * s.kernel_h * s.kernel_w <= kFewChannelMaxWeights;
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

// Splitting the K pixels rather than the channels among items, for layers with few weights:
// blocks of channels (two or four at 64 input channels) each re-read all of a packed dY from
// memory. Each item packs its own k-blocks of dY as it goes (in cache: a whole packed copy was
// 4 MB more written and read at the 64->128 1x1 stride 2) and sums the whole dW, laid out by
// kernel row as dw_rows, into its own partial; the partials are added in partition order, so
// the result does not depend on the thread count. B rows as in conv2d_backward_weight.
constexpr int64_t kPixelSplitParts = 4;
// Up to the 128->256 3x3 (295K weights: 4.7 MB of partials): 2 threads, its pass 4.5 -> 4.1 ms
// on AVX-512 and 6.7 -> 6.5 on AVX2 (one thread: even, and 3% slower on AVX2).
constexpr int64_t kPixelSplitMaxWeights = int64_t{1} << 19;
bool pixel_split_pays(const ConvShape& s) {
    return s.kernel_h * s.kernel_w * s.out_channels * s.in_channels <= kPixelSplitMaxWeights &&
           s.batch * s.out_h * s.out_w >= kPixelSplitParts * kKC;
}

struct ChannelLastInput {
    const float* x_t;        // x padded and channel-last
    const int64_t* offsets;  // B row of pixel k for tap (0, 0)
    int64_t padded_w;
    bool pack_b;  // copy a k-block's B rows together first
};

// C[O x C] (row stride ldc) += A * B_tap over a k-block: B rows of pixels k0.. for tap (i, j).
void accumulate_tap(const PackedA& a, int64_t kc, int64_t k0, int64_t i, int64_t j, int64_t c0,
                    int64_t width, const ChannelLastInput& in, const ConvShape& s, float* c,
                    int64_t ldc, bool accumulate) {
    const float* b = in.x_t + (i * in.padded_w + j) * s.in_channels + c0;
    const int64_t* b_offsets = in.offsets + k0;
    if (in.pack_b) {
        float* rows = t_columns.get(kKC * width);
        for (int64_t k = 0; k < kc; ++k)
            std::memcpy(rows + k * width, b + b_offsets[k], width * sizeof(float));
        b = rows;
        b_offsets = row_offsets(kc, width);
    }
    tile_gemm(s.out_channels, width, kc, a, b, b_offsets, c, ldc, nullptr, accumulate);
}

void pixel_split_gradient(const float* dy, const ChannelLastInput& in, const ConvShape& s,
                          float* dw_rows) {
    const int64_t O = s.out_channels, C = s.in_channels, pixels = s.out_h * s.out_w;
    const int64_t row_width = s.kernel_w * C, size = s.kernel_h * O * row_width;
    const int64_t K = s.batch * pixels, blocks = (K + kKC - 1) / kKC;
    const int64_t per_part = (blocks + kPixelSplitParts - 1) / kPixelSplitParts;
    const int mr = micro_rows(O);
    float* partials = t_outputs.get(kPixelSplitParts * size);
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t part = 0; part < kPixelSplitParts; ++part) {
        float* dw = partials + part * size;
        std::fill(dw, dw + size, 0.0f);
        static thread_local Scratch<float> t_block;
        float* a = t_block.get(packed_size(O, kKC));
        for (int64_t block = part * per_part; block < std::min(blocks, (part + 1) * per_part);
             ++block) {
            const int64_t k0 = block * kKC, kc = std::min(kKC, K - k0);
            for (int64_t k = k0; k < k0 + kc;) {  // the block's pixels, image by image
                const int64_t b = k / pixels, p = k % pixels;
                const int64_t count = std::min(pixels - p, k0 + kc - k);
                pack_rows(dy + (b * O) * pixels + p, O, count, pixels, k - k0, kc, mr, a);
                k += count;
            }
            for (int64_t i = 0; i < s.kernel_h; ++i)
                for (int64_t j = 0; j < s.kernel_w; ++j)
                    accumulate_tap(PackedA{a, kc}, kc, k0, i, j, 0, C, in, s,
                                   dw + i * O * row_width + j * C, row_width, true);
        }
    }
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t e = 0; e < size; ++e) {
        float total = 0.0f;
        for (int64_t part = 0; part < kPixelSplitParts; ++part) total += partials[part * size + e];
        dw_rows[e] = total;
    }
}

// Image b of x made channel-last for the B operand, [padded_h, padded_w, C] at `image` (x's
// pixels in the middle, zeros around them), or for a `sampled` strided 1x1 kernel just the
// pixels it reads, [out_h, out_w, C]; offsets[p] = base + the offset of output pixel p's B row
// for tap (0, 0).
void channel_last_image(const float* x, const ConvShape& s, bool sampled, int64_t padded_w,
                        float* image, int64_t base, int64_t* offsets) {
    const int64_t C = s.in_channels, in_plane = s.in_h * s.in_w;
    if (sampled) {
        sample_channel_last(x, s, image);
        for (int64_t p = 0; p < s.out_h * s.out_w; ++p) offsets[p] = base + p * C;
        return;
    }
    const int64_t padded_h = s.in_h + 2 * s.padding;
    std::fill(image, image + padded_h * padded_w * C, 0.0f);
    for (int64_t ih = 0; ih < s.in_h; ++ih)  // [C, in_w] -> [in_w, C] into padded row
        transpose(x + ih * s.in_w, C, s.in_w, in_plane, C,
                  image + ((ih + s.padding) * padded_w + s.padding) * C);
    for (int64_t oh = 0; oh < s.out_h; ++oh)
        for (int64_t ow = 0; ow < s.out_w; ++ow)
            offsets[oh * s.out_w + ow] = base + (oh * s.stride * padded_w + ow * s.stride) * C;
}

// Items: blocks of input channels, each owning dW[:, block] of dw_rows, over all the pixels of
// the packed dY. Blocks of 64 channels when there are enough for 4+ items: each A slice then
// serves two micro-tile columns.
void channel_split_gradient(const float* dy_packed, const ChannelLastInput& in, const ConvShape& s,
                            float* dw_rows) {
    const int64_t K = s.batch * s.out_h * s.out_w, row_width = s.kernel_w * s.in_channels;
    const int64_t block = s.in_channels >= 8 * kNR ? 2 * kNR : kNR;
    const int64_t items = (s.in_channels + block - 1) / block;
    const int mr = micro_rows(s.out_channels);
#pragma omp parallel for schedule(static) if (worth_threads(s))
    for (int64_t item = 0; item < items; ++item) {
        const int64_t c0 = item * block;
        const int64_t width = std::min(block, s.in_channels - c0);
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
            const int64_t kc = std::min(kKC, K - k0);
            const PackedA a{dy_packed + k0 * mr, K};  // columns k0..
            for (int64_t i = 0; i < s.kernel_h; ++i)
                for (int64_t j = 0; j < s.kernel_w; ++j)
                    accumulate_tap(a, kc, k0, i, j, c0, width, in, s,
                                   dw_rows + i * s.out_channels * row_width + j * s.in_channels +
                                       c0,
                                   row_width, k0 > 0);
        }
    }
}

}  // namespace

void conv2d_backward_weight(const float* x, const float* dy, float* dweight,
                            const ConvShape& shape) {
    const bool parallel = worth_threads(shape);
    const ConvShape& s = shape;
    const int64_t area = s.kernel_h * s.kernel_w;
    if (empty_problem(shape)) {
        std::fill(dweight, dweight + s.out_channels * s.in_channels * area, 0.0f);
        return;
    }
    if (conv_winograd::pays(shape, conv_winograd::Pass::kWeight)) {
        conv_winograd::backward_weight(x, dy, dweight, shape);
        return;
    }
    // For each kernel tap (i, j), dW[:, :, i, j] [O, C] = sum over output pixels k of
    // dY[:, k] (O values) outer x[pixel k shifted by (i, j)] (C values). Both operands are
    // rearranged once per call: dY as a packed [O, N*pixels] A operand, and x padded and
    // channel-last [N, Hp, Wp, C] (B: the row of pixel k for tap (i, j) is C contiguous floats
    // at offset[k] + (i*Wp + j)*C). No im2col, any stride, and the taps of a k-block reuse the
    // same A block from L2.
    if (s.in_channels < kNR && few_channel_fits(s)) {  // the first layer
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
    const bool pixel_split = pixel_split_pays(s);
    const int mr = micro_rows(s.out_channels);
    const int64_t dy_size = pixel_split ? 0 : packed_size(s.out_channels, K);
    float* dy_packed = t_transposed.get(dy_size + s.batch * padded_image +
                                        area * s.out_channels * s.in_channels);
    float* x_t = dy_packed + dy_size;
    // dW by kernel row: [kh, O, kw * C], element (i, o, j*C + c); permuted into dW at the end
    // (for a 1x1 kernel that is dW's own layout: written in place).
    float* dw_rows = area == 1 ? dweight : x_t + s.batch * padded_image;
    const int64_t row_width = s.kernel_w * s.in_channels;
    int64_t* offsets = t_offsets.get(K);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t b = 0; b < s.batch; ++b) {
        if (!pixel_split)  // which packs dY itself, block by block
            pack_rows(dy + b * out_image, s.out_channels, pixels, pixels, b * pixels, K, mr,
                      dy_packed);
        channel_last_image(x + b * in_image, s, sampled, padded_w, x_t + b * padded_image,
                           b * padded_image, offsets + b * pixels);
    }
    // A B row is one or two cache lines, rows s.stride * C floats apart: at C >= 64 a power of
    // two of 256 B or more, so a k-block's rows (16-32 KiB) fall into a few L1 sets and miss on
    // every micro-tile. Copied together first, they stay in L1 (AVX2, 3x3 stride 2: 128 and 256
    // channels 20 -> 16-17 ms, one Zen 4 core). On AVX-512 (2-line rows, 12-row tiles) it pays
    // from 1 KiB apart (one Sapphire Rapids-class Xeon core: 128 and 256 channels 9.5-9.6 ->
    // 8.3-8.6 ms), not at 512 B (64 channels 8.7 -> 9.2; no gain on Zen 4 either).
#if defined(__AVX512F__)
    const bool pack_b = area > 1 && s.stride * s.in_channels * sizeof(float) >= 1024;
#else
    const bool pack_b = area > 1;
#endif
    const ChannelLastInput input{x_t, offsets, padded_w, pack_b};
    if (pixel_split)
        pixel_split_gradient(dy, input, s, dw_rows);
    else
        channel_split_gradient(dy_packed, input, s, dw_rows);
    if (area == 1) return;  // dw_rows is dW
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t o = 0; o < s.out_channels; ++o)
        for (int64_t c = 0; c < s.in_channels; ++c)
            for (int64_t i = 0; i < s.kernel_h; ++i)
                for (int64_t j = 0; j < s.kernel_w; ++j)
                    dweight[((o * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j] =
                        dw_rows[(i * s.out_channels + o) * row_width + j * s.in_channels + c];
}

}  // namespace kelvin::cpu::KELVIN_ISA
