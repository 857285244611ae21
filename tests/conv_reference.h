// The CPU convolution kernels' reference: layer shapes that reach every path, direct loops in
// double, and a relative-error check. Kernel-level only (kernels/conv.h and the per-ISA tables of
// kernels/cpu/conv_isa.h, no engine), so tests/test_conv_isa.cpp also builds for other
// architectures (scripts/check-aarch64.sh) and tests/test_conv_pool.cpp shares the cases.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cpu/conv_isa.h"

namespace kelvin::testing::conv_cases {

struct ConvCase {
    int64_t n, c, h, w, o, kh, kw, stride, padding;
    bool bias;
};

inline std::string label(const ConvCase& k) {
    char text[160];
    std::snprintf(text, sizeof text, "x[%lld,%lld,%lld,%lld] w[%lld,%lld,%lld,%lld] s%lld p%lld%s",
                  (long long)k.n, (long long)k.c, (long long)k.h, (long long)k.w, (long long)k.o,
                  (long long)k.c, (long long)k.kh, (long long)k.kw, (long long)k.stride,
                  (long long)k.padding, k.bias ? " bias" : "");
    return text;
}

inline ConvShape shape_of(const ConvCase& k) {
    return conv_shape(k.n, k.c, k.h, k.w, k.o, k.kh, k.kw, k.stride, k.padding);
}

// Shapes that reach every path of the CPU kernel: one image per chunk (large maps, with and
// without the 1x1 shortcut), several per chunk (small maps), a partial last chunk (batch 70
// of 4x4 outputs: chunks of 64 and 6), stride 2, padding 0/1/3, kernels 1/3/7 and 1x3, odd
// channel counts, non-square inputs, a kernel wider than the unpadded input, and the direct
// stride-1 path.
inline const std::vector<ConvCase> kConvCases = {
    {2, 3, 5, 5, 4, 3, 3, 1, 1, true},     {2, 5, 7, 7, 3, 3, 3, 2, 1, false},
    {1, 4, 6, 8, 2, 1, 1, 2, 0, true},     {3, 2, 9, 9, 3, 7, 7, 1, 3, true},
    {2, 3, 7, 7, 4, 1, 1, 1, 0, true},     {1, 3, 40, 33, 4, 3, 3, 1, 1, false},
    {1, 6, 34, 34, 5, 1, 1, 1, 0, true},   {5, 8, 4, 4, 6, 3, 3, 1, 1, true},
    {70, 2, 6, 6, 3, 3, 3, 1, 0, true},    {1, 2, 2, 2, 3, 3, 3, 1, 1, true},
    {2, 3, 8, 8, 4, 3, 3, 2, 0, false},    {2, 3, 5, 6, 2, 1, 3, 1, 1, true},
    {2, 3, 32, 32, 8, 3, 3, 2, 1, true},   {3, 16, 7, 7, 9, 7, 7, 2, 3, false},
    // Direct stride-1 path (large maps): partial bands, 20 output channels (a partial
    // micro-tile), 40 input channels (a partial channel block), 5x5 kernels, padding 0.
    {2, 40, 33, 35, 20, 3, 3, 1, 1, true}, {1, 6, 36, 36, 7, 5, 5, 1, 2, true},
    {1, 4, 30, 30, 5, 3, 3, 1, 0, false},  {2, 13, 17, 16, 100, 3, 3, 1, 1, true},
    // Channel-vector path (>= 128 output channels on 8- and 4-wide maps), forward and, with
    // >= 128 input channels, backward data: partial 32-channel panels, stride 2, 1x1, and a
    // batch of 10 4x4 images (items of 3 images, the last one partial).
    {2, 129, 8, 8, 128, 3, 3, 1, 1, true}, {2, 128, 8, 8, 130, 3, 3, 2, 1, true},
    {10, 128, 4, 4, 136, 3, 3, 1, 1, false}, {2, 64, 16, 16, 128, 1, 1, 2, 0, true},
    // Gathered channel-vector path (AVX2 / generic, strided, >= 4 micro-tiles of channels):
    // 5x5 outputs (6-pixel panels across rows, and across images in items of 3), a partial
    // channel panel (70), stride 3 without padding (read in place).
    {9, 24, 9, 9, 70, 3, 3, 2, 1, true},   {2, 8, 11, 11, 64, 3, 3, 3, 0, false},
    // Strided backward data with many input channels: odd maps, stride 3 with 5x5 taps,
    // 70 channels, and a 2x2 kernel at stride 3 (a third of the rows and columns of dx
    // receive nothing).
    {2, 64, 9, 11, 20, 3, 3, 2, 1, false}, {1, 70, 10, 9, 8, 5, 5, 3, 2, true},
    {2, 64, 7, 7, 5, 2, 2, 3, 0, false},
    // Strided 1x1 weight gradient (only the sampled pixels made channel-last): odd row width,
    // stride 3.
    {3, 5, 9, 7, 4, 1, 1, 3, 0, false},
    // Weight gradient split by pixels (>= 4 blocks of 256): blocks crossing images, a partial
    // last block; 1x1, 3x3 stride 2 on an odd output width, and one large enough to run
    // threaded, with AVX-512's B rows copied together (stride * C >= 256).
    {5, 32, 30, 30, 24, 1, 1, 2, 0, true}, {8, 40, 24, 22, 6, 3, 3, 2, 1, false},
    {16, 128, 16, 16, 4, 3, 3, 2, 1, false},
    // One input channel (the weight gradient's pixel-lane dot products, 25 taps: a partial block
    // of 3), 5x5 taps, padding 2, odd width; and few taps for many output channels on a large
    // stride-1 map (im2col rather than the pixel-vector path).
    {2, 1, 21, 23, 6, 5, 5, 1, 2, true},   {1, 2, 20, 20, 32, 3, 3, 1, 1, false},
    // Tiny maps (<= 4 pixels, batch >= 16): one GEMM per output pixel over its valid taps,
    // forward and backward data; 2x2, 1x1 and 2x1 maps, partial micro-tile panels.
    {16, 20, 2, 2, 18, 3, 3, 1, 1, true},  {17, 16, 1, 1, 24, 3, 3, 1, 1, false},
    {16, 16, 2, 1, 30, 3, 3, 1, 1, true},
};

// Direct loops in double: y, and the gradients of sum(y * dy).
struct ConvReference {
    std::vector<float> y, dx, dweight, dbias;
};

inline ConvReference conv_reference(const ConvShape& s, const std::vector<float>& x,
                             const std::vector<float>& weight, const std::vector<float>& bias,
                             const std::vector<float>& dy) {
    ConvReference r;
    const int64_t y_size = s.batch * s.out_channels * s.out_h * s.out_w;
    std::vector<double> y(y_size, 0.0), dx(x.size(), 0.0), dw(weight.size(), 0.0),
        db(s.out_channels, 0.0);
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t o = 0; o < s.out_channels; ++o)
            for (int64_t oh = 0; oh < s.out_h; ++oh)
                for (int64_t ow = 0; ow < s.out_w; ++ow) {
                    const int64_t yi = ((b * s.out_channels + o) * s.out_h + oh) * s.out_w + ow;
                    double total = bias.empty() ? 0.0 : bias[o];
                    db[o] += dy[yi];
                    for (int64_t c = 0; c < s.in_channels; ++c)
                        for (int64_t i = 0; i < s.kernel_h; ++i)
                            for (int64_t j = 0; j < s.kernel_w; ++j) {
                                const int64_t ih = oh * s.stride - s.padding + i;
                                const int64_t iw = ow * s.stride - s.padding + j;
                                if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                                const int64_t xi = ((b * s.in_channels + c) * s.in_h + ih) * s.in_w + iw;
                                const int64_t wi = ((o * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j;
                                total += double(x[xi]) * weight[wi];
                                dx[xi] += double(dy[yi]) * weight[wi];
                                dw[wi] += double(dy[yi]) * x[xi];
                            }
                    y[yi] = total;
                }
    r.y.assign(y.begin(), y.end());
    r.dx.assign(dx.begin(), dx.end());
    r.dweight.assign(dw.begin(), dw.end());
    r.dbias.assign(db.begin(), db.end());
    return r;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float low = -1.0f, float high = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> v(n);
    for (float& value : v) value = dist(rng);
    return v;
}

// |got - want| <= tolerance * max(1, |want|) everywhere; names the worst element otherwise.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what, double tolerance = 1e-4) {
    REQUIRE_MESSAGE(got.size() == want.size(), what << ": " << got.size() << " elements, expected "
                                                    << want.size());
    double worst = 0.0;
    size_t worst_index = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double error = std::isnan(got[i]) != std::isnan(want[i])
                                 ? INFINITY
                                 : std::isnan(want[i])
                                       ? 0.0
                                       : std::fabs(double(got[i]) - want[i]) /
                                             std::fmax(1.0, std::fabs(double(want[i])));
        if (!(error <= worst)) {
            worst = error;
            worst_index = i;
        }
    }
    if (worst > tolerance)
        FAIL_CHECK(what << ": element " << worst_index << " is " << got[worst_index]
                        << ", expected " << want[worst_index] << " (relative error " << worst
                        << " > " << tolerance << ")");
}

// Every instruction-set variant this CPU can run (kernels/cpu/cpu_isa.h), called directly:
// a wrong AVX2 kernel fails here on an AVX-512 machine too, whatever KELVIN_CPU_ISA selects.
inline std::vector<const cpu::ConvKernels*> runnable_conv_kernels() {
    std::vector<const cpu::ConvKernels*> all;
    for (cpu::Isa isa : cpu::runnable_isas()) {
        const cpu::ConvKernels* kernels = cpu::conv_kernels(isa);
        REQUIRE_MESSAGE(kernels != nullptr, "no " << cpu::isa_name(isa) << " conv kernels");
        all.push_back(kernels);
    }
    return all;
}

}  // namespace kelvin::testing::conv_cases
