// CPU-vs-CUDA parity at op level for the small op families written beside the engine
// (row gathers, column affine maps, row normalisation). Skipped without a CUDA device.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops.h"
#include "tests/gradcheck.h"

using namespace kelvin;
using kelvin::testing::random_tensor;

namespace {
void check_close(const Tensor& cpu, const Tensor& gpu, const char* what) {
    std::vector<float> a = cpu.to_vector(), b = gpu.to_vector();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        INFO(what << " element " << i);
        REQUIRE(std::isfinite(b[i]));
        CHECK(std::fabs(a[i] - b[i]) <= 1e-4f * std::max(1.0f, std::fabs(a[i])));
    }
}
}  // namespace

TEST_CASE("cuda parity: gather_rows, column_affine, l2_normalize_rows forward and backward" *
          doctest::skip(!cuda_available())) {
    for (int64_t rows : {1, 7, 65, 1000}) {
        for (int64_t cols : {1, 5, 33, 130}) {
            Tensor x = random_tensor({rows, cols}, uint64_t(rows * 131 + cols));
            std::vector<int32_t> idx(rows);
            for (int64_t i = 0; i < rows; ++i) idx[i] = int32_t((i * 7 + 3) % rows);
            Tensor index = Tensor::from_vector(idx, {rows});
            check_close(ops::gather_rows(x, index),
                        ops::gather_rows(x.to(Device::CUDA), index.to(Device::CUDA)), "gather");
            Tensor scale = random_tensor({cols}, 5), shift = random_tensor({cols}, 6);
            check_close(ops::column_affine(x, scale, shift),
                        ops::column_affine(x.to(Device::CUDA), scale.to(Device::CUDA),
                                           shift.to(Device::CUDA)),
                        "column_affine");

            Tensor xc = x.clone(), xg = x.to(Device::CUDA);
            xc.set_requires_grad(true);
            xg.set_requires_grad(true);
            Tensor weights = random_tensor({rows, cols}, 9);
            Tensor yc = ops::l2_normalize_rows(xc), yg = ops::l2_normalize_rows(xg);
            check_close(yc, yg, "l2_normalize forward");
            ops::sum(ops::mul(yc, weights)).backward();
            ops::sum(ops::mul(yg, weights.to(Device::CUDA))).backward();
            check_close(xc.grad(), xg.grad(), "l2_normalize backward");
        }
    }
}

TEST_CASE("gather_columns equals the host column gather of the rank protocol") {
    Tensor x = random_tensor({9, 20}, 77);
    const std::vector<int32_t> index = {0, 3, 4, 19, 7};
    Tensor got = ops::gather_columns(x, Tensor::from_vector(index, {5}));
    std::vector<float> host = x.to_vector(), expected;
    for (int64_t r = 0; r < 9; ++r)
        for (int32_t j : index) expected.push_back(host[r * 20 + j]);
    CHECK(got.shape() == Shape{9, 5});
    CHECK(got.to_vector() == expected);
}

TEST_CASE("cuda parity: gather_columns" * doctest::skip(!cuda_available())) {
    Tensor x = random_tensor({65, 130}, 78);
    std::vector<int32_t> idx;
    for (int32_t j = 0; j < 130; j += 3) idx.push_back(j);
    Tensor index = Tensor::from_vector(idx, {static_cast<int64_t>(idx.size())});
    check_close(ops::gather_columns(x, index),
                ops::gather_columns(x.to(Device::CUDA), index.to(Device::CUDA)), "gather_columns");
}
