// Convolution on the CPU: every pass is a GEMM run by one register-blocked micro-kernel whose
// B operand is read where it lies (docs/KERNELS-conv.md has the measurements). This file picks
// a path per pass and shape; the paths live beside it:
//   conv_gemm             the micro-kernel, operand packing, scratch
//   conv_columns          im2col and col2im (the column-matrix paths, here)
//   conv_direct           convolutions that read the input in place (pixel-vector, channel-vector,
//                         tiny maps)
//   conv_winograd         F(2x2, 3x3) for 3x3 stride-1 layers
//   conv_weight_gradient  the weight-gradient pass
//
// With W viewed as [O, T] (T = C*kh*kw taps) and col[t][pixel] the input value tap t of an
// output pixel reads (0 in the padding):
//     forward          Y [O, pixels]     = W   * col
//     backward data    dcol [T, pixels]  = W^T * dY, col2im adds dcol into dx; for stride 1 and
//                      enough input channels, a forward conv of dY with the flipped weights
//     backward weight  dW[:, :, i, j]   += dY * (x shifted by tap (i, j))^T, channel-last
// B ("col") is formed three ways, picked by shape: channel-vector direct conv (small maps,
// >= 128 output channels on AVX-512, strided 3x3 layers with >= 64 on AVX2: output channels
// are the vector lanes), pixel-vector direct conv (large stride-1 maps with more taps than
// output channels: B is a padded input band), or im2col tiles (everything else, the 3-channel
// first layer included: its tile is smaller than its output).
//
// Why not OpenBLAS: on these shapes its sgemm reached ~80% of this CPU's FMA peak and
// re-packed both operands on every call; the micro-kernel runs at the peak in cache and the
// weights are packed once per call.
//
// Each pass is one OpenMP loop over independent items (bands of output rows, groups of images,
// blocks of channels or of pixels), each thread with its own scratch. The decomposition depends
// only on the shapes and every output element is summed in a fixed order, so results do not
// depend on the number of threads.
#include "kernels/conv.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/conv_columns.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/conv_isa.h"
#include "kernels/cpu/conv_tiles.h"
#include "kernels/cpu/conv_weight_gradient.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/parallel.h"

namespace kelvin::cpu::KELVIN_ISA {

namespace conv_tiles {
thread_local Scratch<float> t_columns;
thread_local Scratch<float> t_outputs;
thread_local Scratch<float> t_transposed;
thread_local Scratch<int64_t> t_offsets;
}  // namespace conv_tiles

namespace {

using namespace conv_gemm;
using conv_columns::col2im;
using conv_columns::im2col;
using namespace conv_direct;
using namespace conv_tiles;

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


}  // namespace

// ---- the three passes --------------------------------------------------------------------------

void conv2d_forward(const float* x, const float* weight, const float* bias, float* y,
                    const ConvShape& shape) {
    const bool parallel = worth_threads(shape);
    if (empty_problem(shape)) return;
    if (conv_winograd::pays(shape, conv_winograd::Pass::kForward)) {
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
    if (conv_winograd::pays(shape, conv_winograd::Pass::kData)) {
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
    // rows (27) and reads dY in place (first layer, 2 threads: 2.0-2.8 -> 0.5-0.6 ms on AVX-512).
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
