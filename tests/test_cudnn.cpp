// cuDNN as the reference convolution backend (kernels/conv_cudnn.h, engine/conv_backend.h):
// parity with kelvin's CPU kernels on a GPU, and on the host CUDA emulator, which serves the
// cuDNN calls with the CPU convolution after checking descriptors and layouts. Names start with
// "cuda" so that the emulator's run (-tc='*cuda*,*gpu*') includes them.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/conv_backend.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "kernels/conv.h"
#include "tests/cli_runner.h"
#include "tests/conv_reference.h"
#include "tests/device_array.h"

#if KELVIN_CUDA_EMULATED
#include <cudnn.h>
#endif

using kelvin::ConvShape;
using kelvin::Device;
using kelvin::Tensor;
using kelvin::testing::DeviceArray;

namespace {

// U(-1, 1) floats, the CPU conv tests' operands.
const auto randoms = [](size_t n, uint32_t seed) {
    return kelvin::testing::conv_cases::random_floats(n, seed);
};
const auto shape = kelvin::square_conv_shape;  // (n, c, hw, o, k, stride, padding)

void check_close(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
    REQUIRE(got.size() == want.size());
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(double(got[i]) - want[i]) / (1.0 + std::abs(want[i])));
    CHECK_MESSAGE(worst < 1e-4, what << ": worst relative error " << worst);
}

// Restores kelvin's backend when a test ends, however it ends.
struct BackendScope {
    explicit BackendScope(const char* name) { kelvin::set_conv_backend(name, Device::CUDA); }
    ~BackendScope() { kelvin::set_conv_backend("kelvin", Device::CUDA); }
};

}  // namespace

TEST_CASE("cuda: cudnn conv2d forward, backward data and backward filter match the CPU kernels" *
          doctest::skip(!kelvin::cuda_available() || !kelvin::cudnn_built())) {
#if KELVIN_CUDNN
    uint32_t seed = 0;
    for (const ConvShape& s : {shape(2, 3, 9, 5, 3, 1, 1), shape(2, 8, 8, 16, 3, 2, 1),
                               shape(3, 8, 8, 4, 1, 2, 0), shape(1, 4, 5, 6, 5, 1, 2)}) {
        const auto x = randoms(s.batch * s.in_channels * s.in_h * s.in_w, ++seed);
        const auto w = randoms(s.out_channels * s.in_channels * s.kernel_h * s.kernel_w, ++seed);
        const auto b = randoms(s.out_channels, ++seed);
        const auto dy = randoms(s.batch * s.out_channels * s.out_h * s.out_w, ++seed);
        std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
        kelvin::cpu::conv2d_forward(x.data(), w.data(), b.data(), y.data(), s);
        kelvin::cpu::conv2d_backward_data(dy.data(), w.data(), dx.data(), s);
        kelvin::cpu::conv2d_backward_weight(x.data(), dy.data(), dw.data(), s);

        DeviceArray<float> gx(x), gw(w), gb(b), gdy(dy);
        auto gy = DeviceArray<float>::poisoned(y.size());
        auto gdx = DeviceArray<float>::poisoned(dx.size());
        auto gdw = DeviceArray<float>::poisoned(dw.size());
        kelvin::cudnn::conv2d_forward(gx.get(), gw.get(), gb.get(), gy.get(), s);
        kelvin::cudnn::conv2d_backward_data(gdy.get(), gw.get(), gdx.get(), s);
        kelvin::cudnn::conv2d_backward_weight(gx.get(), gdy.get(), gdw.get(), s);
        check_close(gy.to_host(), y, "forward");
        check_close(gdx.to_host(), dx, "backward data");
        check_close(gdw.to_host(), dw, "backward filter");
    }
    CHECK(kelvin::cudnn::cached_plans() >= 12);  // 3 products x 4 shapes, each chosen once
#endif
}

TEST_CASE("cuda: conv2d through --conv-backend cudnn gives the CPU's output and gradients" *
          doctest::skip(!kelvin::cuda_available() || !kelvin::cudnn_built())) {
    const auto xv = randoms(2 * 4 * 8 * 8, 11), wv = randoms(6 * 4 * 9, 12), bv = randoms(6, 13);
    auto run = [&](Device device) {
        Tensor x = Tensor::from_vector(xv, {2, 4, 8, 8}, device).set_requires_grad(true);
        Tensor w = Tensor::from_vector(wv, {6, 4, 3, 3}, device).set_requires_grad(true);
        Tensor b = Tensor::from_vector(bv, {6}, device).set_requires_grad(true);
        Tensor y = kelvin::ops::conv2d(x, w, b, 2, 1);
        kelvin::ops::sum(kelvin::ops::mul(y, y)).backward();
        return std::vector<std::vector<float>>{y.to_vector(), x.grad().to_vector(),
                                               w.grad().to_vector(), b.grad().to_vector()};
    };
    const auto cpu = run(Device::CPU);
#if KELVIN_CUDA_EMULATED
    const long calls_before = kelvin_emulated_cudnn_calls();
#endif
    BackendScope cudnn("cudnn");
    const auto gpu = run(Device::CUDA);
#if KELVIN_CUDA_EMULATED
    CHECK(kelvin_emulated_cudnn_calls() - calls_before == 3);  // forward, data, filter
#endif
    const char* names[] = {"output", "input gradient", "weight gradient", "bias gradient"};
    for (int i = 0; i < 4; ++i) check_close(gpu[i], cpu[i], names[i]);
}

TEST_CASE("cuda: --conv-backend cudnn is refused on the CPU, by name, and without cuDNN") {
    CHECK_THROWS_WITH(kelvin::set_conv_backend("cudnn", Device::CPU),
                      doctest::Contains("add --device cuda"));
    CHECK_THROWS_WITH(kelvin::set_conv_backend("cudnm", Device::CUDA),
                      doctest::Contains("unknown backend 'cudnm': expected kelvin or cudnn"));
    if (!kelvin::cudnn_built())
        CHECK_THROWS_WITH(kelvin::set_conv_backend("cudnn", Device::CUDA),
                          doctest::Contains("this build of kelvin has no cuDNN"));
    const auto r = kelvin::testing::run_kelvin("bench --steps 1 --conv-backend cudnn");
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.output.find("--conv-backend cudnn runs convolutions on a CUDA device") !=
                      std::string::npos,
                  r.output);
}

#if KELVIN_CUDA_EMULATED
TEST_CASE("cuda emulator: cuDNN calls with a wrong layout, type or dimensions are errors") {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    REQUIRE(cudnnCreateTensorDescriptor(&x) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnCreateTensorDescriptor(&y) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnCreateFilterDescriptor(&w) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnCreateConvolutionDescriptor(&conv) == CUDNN_STATUS_SUCCESS);
    CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 3, 8, 8) != 0);
    CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_HALF, 2, 3, 8, 8) != 0);
    CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 0, 8, 8) != 0);
    CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 4, 3, 3, 3) != 0);
    REQUIRE(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 3, 8, 8) == 0);
    REQUIRE(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 4, 3, 3, 3) == 0);
    CHECK(cudnnSetConvolution2dDescriptor(conv, 1, 1, 1, 1, 1, 1, CUDNN_CONVOLUTION,
                                          CUDNN_DATA_FLOAT) != 0);  // kelvin cross-correlates
    REQUIRE(cudnnSetConvolution2dDescriptor(conv, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT) == 0);
    cudnnConvolutionFwdAlgoPerf_t perf[4];
    int got = 0;
    // y with the wrong size (8x8 with padding 1 and a 3x3 kernel is 8x8; 7x7 is not) ...
    REQUIRE(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 4, 7, 7) == 0);
    CHECK(cudnnGetConvolutionForwardAlgorithm_v7(nullptr, x, w, conv, y, 4, &got, perf) ==
          CUDNN_STATUS_BAD_PARAM);
    // ... or the wrong channels; then the right one.
    REQUIRE(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 5, 8, 8) == 0);
    CHECK(cudnnGetConvolutionForwardAlgorithm_v7(nullptr, x, w, conv, y, 4, &got, perf) ==
          CUDNN_STATUS_BAD_PARAM);
    REQUIRE(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 4, 8, 8) == 0);
    CHECK(cudnnGetConvolutionForwardAlgorithm_v7(nullptr, x, w, conv, y, 4, &got, perf) ==
          CUDNN_STATUS_SUCCESS);
    // Swapped roles (x where dy belongs) are caught by the backward calls too.
    cudnnConvolutionBwdDataAlgoPerf_t data_perf[1];
    CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(nullptr, w, x, conv, y, 1, &got, data_perf) ==
          CUDNN_STATUS_BAD_PARAM);
    // A missing workspace.
    cudnnHandle_t handle;
    REQUIRE(cudnnCreate(&handle) == CUDNN_STATUS_SUCCESS);
    std::vector<float> xs(2 * 3 * 64), ws(4 * 27), ys(2 * 4 * 64);
    const float one = 1.0f, zero = 0.0f;
    CHECK(cudnnConvolutionForward(handle, &one, x, xs.data(), w, ws.data(), conv,
                                  CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, y,
                                  ys.data()) == CUDNN_STATUS_BAD_PARAM);
}

TEST_CASE("cuda emulator: bench --conv-backend both runs a VGG step through kelvin's kernels and "
          "through cuDNN") {
    const auto r = kelvin::testing::run_kelvin(
        "bench --workload vgg11bn_b32_32px --device cuda --conv-backend both --steps 1 --warmup 0");
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    CHECK_MESSAGE(r.output.find("vgg11bn_b32_32px kelvin ") != std::string::npos, r.output);
    CHECK(r.output.find(" ms/step, cudnn ") != std::string::npos);
}
#endif
