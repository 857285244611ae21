// im2col and col2im by row segments (kernels/cpu/conv_columns.h says what they compute).
//
// For a tap (i, j) and an output row oh, the input pixels read are one row ih = oh*S - p + i,
// columns iw = ow*S - p + j: a contiguous run for stride 1, every S-th float otherwise. So each
// (tap, output row) is one bounds computation and one loop the compiler vectorises, where a
// per-pixel offset table (the previous version) cost a load and a branch per element: the
// 3-channel first layer's col2im then took as long as its GEMM.
#include "kernels/cpu/conv_columns.h"

#include <algorithm>
#include <cstring>

namespace kelvin::cpu::KELVIN_ISA::conv_columns {

namespace {

// The output columns [begin, end) of a row whose input column ow*stride + offset lies in
// [0, width).
struct Columns {
    int64_t begin, end;
};
Columns valid_columns(int64_t offset, int64_t stride, int64_t width, int64_t out_w) {
    const int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    const int64_t last = width - 1 - offset;  // ow * stride <= last
    const int64_t end = last < 0 ? 0 : std::min(out_w, last / stride + 1);
    return {std::min(begin, end), end};
}

}  // namespace

void im2col(const float* x, int64_t images, int64_t oh0, int64_t oh1, const ConvShape& s,
            float* col) {
    const int64_t band = (oh1 - oh0) * s.out_w, cols = images * band;
    const int64_t S = s.stride, in_plane = s.in_h * s.in_w;
    for (int64_t c = 0; c < s.in_channels; ++c)
        for (int64_t i = 0; i < s.kernel_h; ++i)
            for (int64_t j = 0; j < s.kernel_w; ++j) {
                const Columns valid = valid_columns(j - s.padding, S, s.in_w, s.out_w);
                float* row = col + ((c * s.kernel_h + i) * s.kernel_w + j) * cols;
                for (int64_t b = 0; b < images; ++b)
                    for (int64_t oh = oh0; oh < oh1; ++oh) {
                        float* out = row + b * band + (oh - oh0) * s.out_w;
                        const int64_t ih = oh * S - s.padding + i;
                        if (ih < 0 || ih >= s.in_h) {
                            std::fill(out, out + s.out_w, 0.0f);
                            continue;
                        }
                        // Input column of output column valid.begin.
                        const float* in = x + (b * s.in_channels + c) * in_plane + ih * s.in_w +
                                          valid.begin * S + j - s.padding;
                        const int64_t count = valid.end - valid.begin;
                        std::fill(out, out + valid.begin, 0.0f);
                        if (S == 1)
                            std::memcpy(out + valid.begin, in, count * sizeof(float));
                        else
                            for (int64_t k = 0; k < count; ++k) out[valid.begin + k] = in[k * S];
                        std::fill(out + valid.end, out + s.out_w, 0.0f);
                    }
            }
}

void col2im(const float* dcol, int64_t images, int64_t oh0, int64_t oh1, const ConvShape& s,
            float* dx) {
    const int64_t band = (oh1 - oh0) * s.out_w, cols = images * band;
    const int64_t S = s.stride, in_plane = s.in_h * s.in_w;
    for (int64_t b = 0; b < images; ++b)
        for (int64_t c = 0; c < s.in_channels; ++c) {
            float* plane = dx + (b * s.in_channels + c) * in_plane;
            for (int64_t i = 0; i < s.kernel_h; ++i)
                for (int64_t j = 0; j < s.kernel_w; ++j) {
                    const Columns valid = valid_columns(j - s.padding, S, s.in_w, s.out_w);
                    const float* row =
                        dcol + ((c * s.kernel_h + i) * s.kernel_w + j) * cols + b * band;
                    for (int64_t oh = oh0; oh < oh1; ++oh) {
                        const int64_t ih = oh * S - s.padding + i;
                        if (ih < 0 || ih >= s.in_h) continue;
                        const float* __restrict in = row + (oh - oh0) * s.out_w + valid.begin;
                        float* __restrict out =
                            plane + ih * s.in_w + valid.begin * S + j - s.padding;
                        const int64_t count = valid.end - valid.begin;
                        if (S == 1) {
#pragma omp simd
                            for (int64_t k = 0; k < count; ++k) out[k] += in[k];
                        } else {
#pragma GCC unroll 8
                            for (int64_t k = 0; k < count; ++k, out += S) *out += in[k];
                        }
                    }
                }
        }
}

}  // namespace kelvin::cpu::KELVIN_ISA::conv_columns
