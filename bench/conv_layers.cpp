// kelvin_bench_conv: the CPU convolution kernels on every ResNet-18 / VGG-11 layer shape at
// batch 32 (forward alone; forward + backward data + weight + bias; each backward pass alone),
// best of 5 after 2 warm-ups, with achieved GFLOP/s. The same shapes and protocol as
// bench/peers/pytorch_conv.py, so the two can be compared layer by layer; `--no-bias` first
// leaves the bias out, as ResNet-18's layers do (scripts/check-roofline.sh). A benchmark, not a
// test: it asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <ctime>
#include <vector>

#include "bench/bench_clock.h"
#include "bench/conv_layer_shapes.h"
#include "engine/runtime_settings.h"
#include "kernels/conv.h"

using kelvin::ConvShape;
using kelvin::random_floats;
using kelvin::bench::best_ms;

int main(int argc, char** argv) {
    kelvin::prefer_passive_openmp_waits(argv);
    kelvin::flush_subnormals_to_zero();
    // --no-bias: the layers without a bias, as ResNet-18's and VGG-11-BN's are (a BatchNorm
    // follows), so that scripts/check-roofline.sh times the calls a training step makes.
    const bool with_bias = !(argc > 1 && std::string(argv[1]) == "--no-bias");
    if (!with_bias) {
        --argc;
        ++argv;
    }
    const std::vector<ConvShape> shapes = kelvin::benchmark_conv_layers();
    std::printf("# N C H W O k s p  fwd_ms  fwd+bwd_ms  fwd+bwd_GFLOP/s  data_ms  weight_ms\n");
    // Optional filter: `kelvin_bench_conv C H` runs only layers with C input channels on HxH;
    // `kelvin_bench_conv N C H O k s p` runs that one square layer instead of the table.
    const long long only_c = argc == 3 ? std::atoll(argv[1]) : 0, only_h = argc == 3 ? std::atoll(argv[2]) : 0;
    std::vector<ConvShape> run = shapes;
    if (argc == 8)
        run = {kelvin::square_conv_shape(std::atoll(argv[1]), std::atoll(argv[2]), std::atoll(argv[3]),
                     std::atoll(argv[4]), std::atoll(argv[5]), std::atoll(argv[6]),
                     std::atoll(argv[7]))};
    for (const ConvShape& s : run) {
        if (only_c && (s.in_channels != only_c || s.in_h != only_h)) continue;
        const kelvin::BenchFloats x = random_floats(s.batch * s.in_channels * s.in_h * s.in_w, 1);
        const kelvin::BenchFloats w =
            random_floats(s.out_channels * s.in_channels * s.kernel_h * s.kernel_w, 2);
        const kelvin::BenchFloats b = random_floats(s.out_channels, 3);
        const float* bias = with_bias ? b.data() : nullptr;
        kelvin::BenchFloats y(s.batch * s.out_channels * s.out_h * s.out_w), dx(x.size()),
            dw(w.size()), db(s.out_channels);
        const double forward =
            best_ms([&] { kelvin::cpu::conv2d_forward(x.data(), w.data(), bias, y.data(), s); });
        const double step = best_ms([&] {
            kelvin::cpu::conv2d_forward(x.data(), w.data(), bias, y.data(), s);
            kelvin::cpu::conv2d_backward_data(y.data(), w.data(), dx.data(), s);
            kelvin::cpu::conv2d_backward_weight(x.data(), y.data(), dw.data(), s);
            if (with_bias) kelvin::cpu::conv2d_backward_bias(y.data(), db.data(), s);
        });
        const double data = best_ms(
            [&] { kelvin::cpu::conv2d_backward_data(y.data(), w.data(), dx.data(), s); });
        const double weight = best_ms(
            [&] { kelvin::cpu::conv2d_backward_weight(x.data(), y.data(), dw.data(), s); });
        const double flops = 3.0 * 2.0 * s.batch * s.out_channels * s.out_h * s.out_w *
                             s.in_channels * s.kernel_h * s.kernel_w;
        std::printf("%lld %lld %lld %lld %lld %lld %lld %lld  %.3f  %.3f  %.1f  %.3f  %.3f\n",
                    (long long)s.batch, (long long)s.in_channels, (long long)s.in_h,
                    (long long)s.in_w, (long long)s.out_channels, (long long)s.kernel_h,
                    (long long)s.stride, (long long)s.padding, forward, step, flops / step / 1e6, data,
                    weight);
    }
    return 0;
}
