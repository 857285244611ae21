// kelvin_bench_conv_sgemm: the OpenBLAS route for the CPU convolutions, measured on the layers
// of kelvin_bench_conv (same shapes, protocol and output columns), so that "feed the conv paths
// to OpenBLAS's runtime-dispatched sgemm instead of kelvin's micro-kernels" is decided by
// measurement (docs/KERNELS-conv.md, "Why not OpenBLAS"). Each pass is the textbook lowering,
// image by image, each product one cblas_sgemm over all the threads OpenBLAS is given:
//     forward          col = im2col(x_b) [T, P];   y_b [O, P] = W [O, T] * col (+ bias)
//     backward data    dcol [T, P] = W^T * dy_b;   dx_b = col2im(dcol)
//     backward weight  col = im2col(x_b);          dW [O, T] += dy_b [O, P] * col^T
// Also printed: the time of the sgemm calls alone (im2col/col2im excluded), the bound for any
// sgemm-based lowering of these passes. A benchmark, not a test: it asserts nothing.
//   kelvin_bench_conv_sgemm [C H]      (KELVIN_BENCH_CLOCK=cpu: process CPU time; see
//                                      bench/conv_layers.cpp. OPENBLAS_CORETYPE=Haswell makes
//                                      OpenBLAS run its AVX2 kernels on an AVX-512 CPU.)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_clock.h"
#include "bench/conv_layer_shapes.h"
#include "kernels/conv.h"

using kelvin::ConvShape;

namespace {

using kelvin::bench::best_ms;
using kelvin::random_floats;

// col [C*kh*kw, P] of one image, and its transpose-add back (col2im).
void im2col(const float* x, const ConvShape& s, float* col) {
    const int64_t pixels = s.out_h * s.out_w;
    for (int64_t c = 0; c < s.in_channels; ++c)
        for (int64_t i = 0; i < s.kernel_h; ++i)
            for (int64_t j = 0; j < s.kernel_w; ++j) {
                float* row = col + ((c * s.kernel_h + i) * s.kernel_w + j) * pixels;
                for (int64_t oh = 0; oh < s.out_h; ++oh) {
                    const int64_t ih = oh * s.stride - s.padding + i;
                    for (int64_t ow = 0; ow < s.out_w; ++ow) {
                        const int64_t iw = ow * s.stride - s.padding + j;
                        row[oh * s.out_w + ow] = ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w
                                                     ? x[(c * s.in_h + ih) * s.in_w + iw]
                                                     : 0.0f;
                    }
                }
            }
}

void col2im(const float* col, const ConvShape& s, float* dx) {
    const int64_t pixels = s.out_h * s.out_w;
    std::fill(dx, dx + s.in_channels * s.in_h * s.in_w, 0.0f);
    for (int64_t c = 0; c < s.in_channels; ++c)
        for (int64_t i = 0; i < s.kernel_h; ++i)
            for (int64_t j = 0; j < s.kernel_w; ++j) {
                const float* row = col + ((c * s.kernel_h + i) * s.kernel_w + j) * pixels;
                for (int64_t oh = 0; oh < s.out_h; ++oh) {
                    const int64_t ih = oh * s.stride - s.padding + i;
                    if (ih < 0 || ih >= s.in_h) continue;
                    for (int64_t ow = 0; ow < s.out_w; ++ow) {
                        const int64_t iw = ow * s.stride - s.padding + j;
                        if (iw >= 0 && iw < s.in_w)
                            dx[(c * s.in_h + ih) * s.in_w + iw] += row[oh * s.out_w + ow];
                    }
                }
            }
}

struct Passes {
    double forward, data, weight;          // im2col + sgemm (+ col2im), ms
    double forward_gemm, data_gemm, weight_gemm;  // the sgemm calls alone, ms
};

Passes time_layer(const ConvShape& s) {
    const int64_t taps = s.in_channels * s.kernel_h * s.kernel_w, pixels = s.out_h * s.out_w;
    const int64_t in_image = s.in_channels * s.in_h * s.in_w, out_image = s.out_channels * pixels;
    const kelvin::BenchFloats x = random_floats(s.batch * in_image, 1);
    const kelvin::BenchFloats w = random_floats(s.out_channels * taps, 2);
    const kelvin::BenchFloats dy = random_floats(s.batch * out_image, 3);
    kelvin::BenchFloats y(dy.size()), dx(x.size()), dw(w.size()), col(taps * pixels);
    const int O = int(s.out_channels), T = int(taps), P = int(pixels);
    Passes t{};
    t.forward = best_ms([&] {
        for (int64_t b = 0; b < s.batch; ++b) {
            im2col(x.data() + b * in_image, s, col.data());
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, P, T, 1.0f, w.data(), T,
                        col.data(), P, 0.0f, y.data() + b * out_image, P);
        }
    });
    t.forward_gemm = best_ms([&] {
        for (int64_t b = 0; b < s.batch; ++b)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, P, T, 1.0f, w.data(), T,
                        col.data(), P, 0.0f, y.data() + b * out_image, P);
    });
    t.data = best_ms([&] {
        for (int64_t b = 0; b < s.batch; ++b) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, P, O, 1.0f, w.data(), T,
                        dy.data() + b * out_image, P, 0.0f, col.data(), P);
            col2im(col.data(), s, dx.data() + b * in_image);
        }
    });
    t.data_gemm = best_ms([&] {
        for (int64_t b = 0; b < s.batch; ++b)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, P, O, 1.0f, w.data(), T,
                        dy.data() + b * out_image, P, 0.0f, col.data(), P);
    });
    t.weight = best_ms([&] {
        for (int64_t b = 0; b < s.batch; ++b) {
            im2col(x.data() + b * in_image, s, col.data());
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, T, P, 1.0f,
                        dy.data() + b * out_image, P, col.data(), P, b == 0 ? 0.0f : 1.0f,
                        dw.data(), T);
        }
    });
    t.weight_gemm = best_ms([&] {
        for (int64_t b = 0; b < s.batch; ++b)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, T, P, 1.0f,
                        dy.data() + b * out_image, P, col.data(), P, b == 0 ? 0.0f : 1.0f,
                        dw.data(), T);
    });
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    const long long only_c = argc == 3 ? std::atoll(argv[1]) : 0;
    const long long only_h = argc == 3 ? std::atoll(argv[2]) : 0;
    std::printf("# N C H W O k s p  fwd_ms  fwd+bwd_ms  fwd+bwd_GFLOP/s  data_ms  weight_ms"
                "  |  sgemm alone: fwd  data  weight  fwd+bwd_GFLOP/s\n");
    for (const ConvShape& s : kelvin::benchmark_conv_layers()) {
        if (only_c && (s.in_channels != only_c || s.in_h != only_h)) continue;
        const Passes t = time_layer(s);
        const double flops = 3.0 * 2.0 * s.batch * s.out_channels * s.out_h * s.out_w *
                             s.in_channels * s.kernel_h * s.kernel_w;
        const double total = t.forward + t.data + t.weight;
        const double gemm = t.forward_gemm + t.data_gemm + t.weight_gemm;
        std::printf("%lld %lld %lld %lld %lld %lld %lld %lld  %.3f  %.3f  %.1f  %.3f  %.3f"
                    "  |  %.3f  %.3f  %.3f  %.1f\n",
                    (long long)s.batch, (long long)s.in_channels, (long long)s.in_h,
                    (long long)s.in_w, (long long)s.out_channels, (long long)s.kernel_h,
                    (long long)s.stride, (long long)s.padding, t.forward, total,
                    flops / total / 1e6, t.data, t.weight, t.forward_gemm, t.data_gemm,
                    t.weight_gemm, flops / gemm / 1e6);
    }
    return 0;
}
