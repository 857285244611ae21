// The transformer ops: patchify, prepend_token, add_broadcast, select_token and
// multi_head_attention. On the CPU: hand examples, a double-precision attention loop, finite-
// difference gradients and shape errors. With a GPU: CUDA against the CPU, forward and backward,
// at the kernel level (outputs poisoned with NaN so an unwritten element fails) and at the op
// level (dispatch and autograd included), and the CUDA backward's repeatability.
//
// Attention parity measure: max |cuda - cpu| / max |cpu| over a whole output (normalised by the
// reference's largest magnitude, like ggml's test-backend-ops) must stay below 1e-4. The copy
// ops must match exactly; the token gradient (a sum over the batch) to 1e-6.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/ops.h"
#include "kernels/attention.h"
#include "kernels/cuda_runtime.h"
#include "kernels/sequence.h"
#include "tests/gradcheck.h"

using namespace kelvin;
using kelvin::testing::gradcheck;
using kelvin::testing::random_tensor;
using kelvin::testing::random_param;

namespace {


std::vector<float> arange(int64_t n) {
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
    return v;
}

// softmax(q k^T / sqrt(Dh)) v per (n, h) in double, straight from the definition.
std::vector<double> naive_attention(const std::vector<float>& qkv, int64_t batch, int64_t seq,
                                    int64_t heads, int64_t head_dim) {
    const int64_t dim = heads * head_dim;
    std::vector<double> out(batch * seq * dim);
    auto at = [&](int64_t n, int64_t s, int64_t part, int64_t h, int64_t d) {
        return static_cast<double>(qkv[(n * seq + s) * 3 * dim + part * dim + h * head_dim + d]);
    };
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t i = 0; i < seq; ++i) {
                std::vector<double> scores(seq);
                double max_score = -INFINITY;
                for (int64_t j = 0; j < seq; ++j) {
                    double s = 0.0;
                    for (int64_t d = 0; d < head_dim; ++d) s += at(n, i, 0, h, d) * at(n, j, 1, h, d);
                    scores[j] = s / std::sqrt(static_cast<double>(head_dim));
                    max_score = std::max(max_score, scores[j]);
                }
                double total = 0.0;
                for (double& s : scores) total += (s = std::exp(s - max_score));
                for (int64_t d = 0; d < head_dim; ++d) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < seq; ++j) acc += scores[j] / total * at(n, j, 2, h, d);
                    out[(n * seq + i) * dim + h * head_dim + d] = acc;
                }
            }
    return out;
}

// max |got - want| / max |want|; NaN anywhere in `got` counts as infinite error.
[[maybe_unused]] double normalised_error(const std::vector<float>& got, const std::vector<float>& want) {
    REQUIRE(got.size() == want.size());
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
    }
    return scale > 0.0 ? worst / scale : worst;
}

}  // namespace

// ---- patchify ------------------------------------------------------------------------------

TEST_CASE("patchify: a hand example, patch vectors ordered (c, i, j) in grid row-major order") {
    // x[c, y, x] = c*16 + y*4 + x for one 2x4x4 image; 2x2 patches make a 2x2 grid.
    Tensor x = Tensor::from_vector(arange(32), {1, 2, 4, 4});
    Tensor y = ops::patchify(x, 2);
    CHECK(y.shape() == Shape({1, 4, 8}));
    const std::vector<float> expected = {
        0,  1,  4,  5,  16, 17, 20, 21,   // patch (0, 0): channel 0 rows 0-1, then channel 1
        2,  3,  6,  7,  18, 19, 22, 23,   // patch (0, 1)
        8,  9,  12, 13, 24, 25, 28, 29,   // patch (1, 0)
        10, 11, 14, 15, 26, 27, 30, 31};  // patch (1, 1)
    CHECK(y.to_vector() == expected);
}

TEST_CASE("patchify: equals conv_proj(x).flatten(2).transpose(1, 2) with a [D, C*p*p] weight") {
    // A strided convolution written as loops, against patchify + matmul with the weight viewed
    // as [D, C*p*p]: the layout PyTorch's ViT uses.
    const int64_t n = 2, c = 3, h = 6, w = 4, p = 2, d = 5;
    Tensor x = random_tensor({n, c, h, w}, 1);
    Tensor weight = random_tensor({d, c, p, p}, 2);
    Tensor patches = ops::patchify(x, static_cast<int>(p));
    std::vector<float> xv = x.to_vector(), wv = weight.to_vector(), pv = patches.to_vector();
    const int64_t grid_w = w / p, seq = (h / p) * grid_w;
    REQUIRE(patches.shape() == Shape({n, seq, c * p * p}));
    for (int64_t b = 0; b < n; ++b)
        for (int64_t s = 0; s < seq; ++s)
            for (int64_t o = 0; o < d; ++o) {
                double conv = 0.0, linear = 0.0;
                const int64_t py = s / grid_w, px = s % grid_w;
                for (int64_t ci = 0; ci < c; ++ci)
                    for (int64_t i = 0; i < p; ++i)
                        for (int64_t j = 0; j < p; ++j)
                            conv += double(xv[((b * c + ci) * h + py * p + i) * w + px * p + j]) *
                                    wv[((o * c + ci) * p + i) * p + j];
                for (int64_t k = 0; k < c * p * p; ++k)
                    linear += double(pv[(b * seq + s) * c * p * p + k]) * wv[o * c * p * p + k];
                CHECK(linear == doctest::Approx(conv).epsilon(1e-6));
            }
}

TEST_CASE("patchify: sizes that the patch does not divide are rejected by name") {
    Tensor x = Tensor::zeros({1, 3, 30, 32});
    CHECK_THROWS_WITH_AS(ops::patchify(x, 4),
                         doctest::Contains("must be multiples of the patch size 4"), Error);
    CHECK_THROWS_AS(ops::patchify(Tensor::zeros({3, 32, 32}), 4), Error);
    CHECK_THROWS_AS(ops::patchify(Tensor::zeros({1, 3, 32, 32}), 0), Error);
}

// ---- prepend_token, add_broadcast, select_token ----------------------------------------------

TEST_CASE("prepend_token, add_broadcast and select_token: forward values") {
    Tensor x = Tensor::from_vector(arange(12), {2, 3, 2});
    Tensor token = Tensor::from_vector(std::vector<float>{-1.0f, -2.0f}, {1, 1, 2});
    Tensor with_token = ops::prepend_token(x, token);
    CHECK(with_token.shape() == Shape({2, 4, 2}));
    CHECK(with_token.to_vector() ==
          std::vector<float>{-1, -2, 0, 1, 2, 3, 4, 5, -1, -2, 6, 7, 8, 9, 10, 11});

    Tensor pos = Tensor::from_vector(std::vector<float>{100, 200, 300, 400, 500, 600}, {1, 3, 2});
    CHECK(ops::add_broadcast(x, pos).to_vector() ==
          std::vector<float>{100, 201, 302, 403, 504, 605, 106, 207, 308, 409, 510, 611});

    CHECK(ops::select_token(x, 0).to_vector() == std::vector<float>{0, 1, 6, 7});
    CHECK(ops::select_token(x, 2).to_vector() == std::vector<float>{4, 5, 10, 11});
    CHECK(ops::select_token(x, -1).to_vector() == std::vector<float>{4, 5, 10, 11});
}

TEST_CASE("prepend_token, add_broadcast and select_token: shape errors") {
    Tensor x = Tensor::zeros({2, 3, 4});
    CHECK_THROWS_WITH_AS(ops::prepend_token(x, Tensor::zeros({1, 1, 5})),
                         doctest::Contains("expected token [1, 1, 4]"), Error);
    CHECK_THROWS_AS(ops::prepend_token(Tensor::zeros({2, 4}), Tensor::zeros({1, 1, 4})), Error);
    CHECK_THROWS_AS(ops::add_broadcast(x, Tensor::zeros({2, 3, 4})), Error);
    CHECK_THROWS_AS(ops::add_broadcast(x, Tensor::zeros({1, 3})), Error);
    CHECK_THROWS_AS(ops::add_broadcast(x, Tensor::zeros({1, 4, 4})), Error);
    CHECK_THROWS_WITH_AS(ops::select_token(x, 3), doctest::Contains("out of range"), Error);
    CHECK_THROWS_AS(ops::select_token(x, -4), Error);
}

TEST_CASE("gradient: patchify, prepend_token, add_broadcast, select_token") {
    gradcheck([](const auto& in) { return ops::patchify(in[0], 2); }, {random_param({2, 2, 4, 6}, 3)},
              "patchify");
    gradcheck([](const auto& in) { return ops::prepend_token(in[0], in[1]); },
              {random_param({3, 4, 5}, 4), random_param({1, 1, 5}, 5)}, "prepend_token");
    gradcheck([](const auto& in) { return ops::prepend_token(in[0], in[1]); },
              {random_tensor({3, 4, 5}, 6), random_param({1, 1, 5}, 7)}, "prepend_token, token only");
    gradcheck([](const auto& in) { return ops::add_broadcast(in[0], in[1]); },
              {random_param({3, 4, 5}, 8), random_param({1, 4, 5}, 9)}, "add_broadcast");
    gradcheck([](const auto& in) { return ops::select_token(in[0], 0); }, {random_param({3, 4, 5}, 10)},
              "select_token 0");
    gradcheck([](const auto& in) { return ops::select_token(in[0], -1); },
              {random_param({3, 4, 5}, 11)}, "select_token -1");
}

// ---- multi_head_attention ----------------------------------------------------------------------

TEST_CASE("multi_head_attention: forward equals a double-precision loop") {
    struct Case {
        int64_t batch, seq, heads, head_dim;
    };
    for (Case c : {Case{2, 5, 2, 4}, Case{1, 1, 3, 8}, Case{2, 7, 3, 4}, Case{2, 65, 3, 64},
                   Case{1, 17, 1, 128}}) {
        const int64_t dim = c.heads * c.head_dim;
        Tensor qkv = random_tensor({c.batch, c.seq, 3 * dim}, 100 + c.seq, -2.0f, 2.0f);
        Tensor out = ops::multi_head_attention(qkv, static_cast<int>(c.heads));
        REQUIRE(out.shape() == Shape({c.batch, c.seq, dim}));
        std::vector<double> want = naive_attention(qkv.to_vector(), c.batch, c.seq, c.heads,
                                                   c.head_dim);
        std::vector<float> got = out.to_vector();
        double worst = 0.0;
        for (size_t i = 0; i < want.size(); ++i)
            worst = std::max(worst, std::fabs(got[i] - want[i]) / std::max(1.0, std::fabs(want[i])));
        CHECK_MESSAGE(worst < 1e-5, "N=" << c.batch << " S=" << c.seq << " heads=" << c.heads
                                         << " Dh=" << c.head_dim << ": error " << worst);
    }
}

TEST_CASE("multi_head_attention: a single key returns its value; equal keys average values") {
    // S = 1: softmax over one key is 1, so out = v.
    Tensor qkv = random_tensor({2, 1, 12}, 7);
    std::vector<float> v = qkv.to_vector(), out = ops::multi_head_attention(qkv, 2).to_vector();
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t d = 0; d < 4; ++d) CHECK(out[n * 4 + d] == doctest::Approx(v[n * 12 + 8 + d]));

    // Every key equal: uniform weights, so each output row is the mean of the value rows.
    const int64_t seq = 5, dim = 4;
    std::vector<float> packed = random_tensor({1, seq, 3 * dim}, 8).to_vector();
    for (int64_t s = 1; s < seq; ++s)
        for (int64_t d = 0; d < dim; ++d) packed[s * 3 * dim + dim + d] = packed[dim + d];
    std::vector<float> mixed =
        ops::multi_head_attention(Tensor::from_vector(packed, {1, seq, 3 * dim}), 2).to_vector();
    for (int64_t d = 0; d < dim; ++d) {
        double mean = 0.0;
        for (int64_t s = 0; s < seq; ++s) mean += packed[s * 3 * dim + 2 * dim + d] / double(seq);
        for (int64_t s = 0; s < seq; ++s) CHECK(mixed[s * dim + d] == doctest::Approx(mean));
    }
}

TEST_CASE("gradient: multi_head_attention") {
    gradcheck([](const auto& in) { return ops::multi_head_attention(in[0], 2); },
              {random_param({2, 5, 24}, 20)}, "attention N=2 S=5 D=8 heads=2");
    gradcheck([](const auto& in) { return ops::multi_head_attention(in[0], 2); },
              {random_param({2, 1, 24}, 21)}, "attention S=1");
    gradcheck([](const auto& in) { return ops::multi_head_attention(in[0], 1); },
              {random_param({1, 6, 9}, 22, -2.0f, 2.0f)}, "attention heads=1 D=3");
    // Inside a small ViT-like graph: tokens with a class token are the packed qkv (D = 2).
    gradcheck(
        [](const auto& in) {
            Tensor tokens = ops::prepend_token(in[0], in[1]);               // [2, 5, 6]
            Tensor mixed = ops::multi_head_attention(tokens, 1);            // [2, 5, 2]
            return ops::select_token(ops::add_broadcast(mixed, in[2]), 0);  // [2, 2]
        },
        {random_param({2, 4, 6}, 23), random_param({1, 1, 6}, 24), random_param({1, 5, 2}, 25)},
        "attention in a graph");
}

TEST_CASE("multi_head_attention: shape errors name the expectation") {
    CHECK_THROWS_WITH_AS(ops::multi_head_attention(Tensor::zeros({2, 5, 25}), 2),
                         doctest::Contains("must be 3 * heads * head_dim"), Error);
    CHECK_THROWS_WITH_AS(ops::multi_head_attention(Tensor::zeros({1, 3, 3 * 258}), 2),
                         doctest::Contains("head dimension 129"), Error);
    CHECK_THROWS_AS(ops::multi_head_attention(Tensor::zeros({2, 24}), 2), Error);
    CHECK_THROWS_AS(ops::multi_head_attention(Tensor::zeros({2, 5, 24}), 0), Error);
}

// ---- CUDA against the CPU --------------------------------------------------------------------

#if KELVIN_CUDA
namespace {

// A device copy of host floats; released to the caching allocator on destruction.
class DeviceFloats {
public:
    explicit DeviceFloats(const std::vector<float>& host)
        : size_(host.size()), data_(static_cast<float*>(cuda::allocate(bytes()))) {
        cuda::memcpy_host_to_device(data_, host.data(), bytes());
    }
    static DeviceFloats poisoned(size_t size) {  // every element NaN
        return DeviceFloats(std::vector<float>(size, std::nanf("")));
    }
    DeviceFloats(const DeviceFloats&) = delete;
    DeviceFloats& operator=(const DeviceFloats&) = delete;
    ~DeviceFloats() { cuda::release(data_, bytes()); }
    float* get() const { return data_; }
    std::vector<float> to_host() const {
        std::vector<float> host(size_);
        cuda::memcpy_device_to_host(host.data(), data_, bytes());
        return host;
    }

private:
    size_t bytes() const { return size_ * sizeof(float); }
    size_t size_;
    float* data_;
};

std::vector<float> random_floats(size_t n, uint64_t seed, float low = -2.0f, float high = 2.0f) {
    return random_tensor({static_cast<int64_t>(n)}, seed, low, high).to_vector();
}

struct AttentionShape {
    int64_t batch, seq, heads, head_dim;
    std::string label() const {
        return "N=" + std::to_string(batch) + " S=" + std::to_string(seq) + " heads=" +
               std::to_string(heads) + " Dh=" + std::to_string(head_dim);
    }
};

// The brief's grid (S = 1, 7, 65, 130; Dh = 32, 64; heads 1 and 3; N = 2), plus head dims that
// are not a bucket size (8, 48) and the largest (128).
std::vector<AttentionShape> parity_shapes() {
    std::vector<AttentionShape> shapes;
    for (int64_t seq : {1, 7, 65, 130})
        for (int64_t head_dim : {32, 64})
            for (int64_t heads : {1, 3}) shapes.push_back({2, seq, heads, head_dim});
    shapes.push_back({2, 65, 2, 8});
    shapes.push_back({1, 33, 2, 48});
    shapes.push_back({2, 70, 1, 128});
    return shapes;
}

}  // namespace
#endif  // KELVIN_CUDA

TEST_CASE("cuda attention kernels: forward and backward match the CPU, NaN-poisoned outputs" *
          doctest::skip(!kelvin::cuda_available())) {
#if KELVIN_CUDA
    for (const AttentionShape& s : parity_shapes()) {
        CAPTURE(s.label());
        const int64_t dim = s.heads * s.head_dim;
        const size_t qkv_size = s.batch * s.seq * 3 * dim, out_size = s.batch * s.seq * dim;
        const size_t lse_size = s.batch * s.heads * s.seq;
        std::vector<float> qkv = random_floats(qkv_size, 1 + s.seq * 7 + s.head_dim);
        std::vector<float> grad_out = random_floats(out_size, 2 + s.seq);

        std::vector<float> out(out_size), lse(lse_size), grad_qkv(qkv_size);
        cpu::attention_forward(qkv.data(), out.data(), lse.data(), s.batch, s.seq, s.heads,
                               s.head_dim);
        cpu::attention_backward(qkv.data(), out.data(), lse.data(), grad_out.data(),
                                grad_qkv.data(), s.batch, s.seq, s.heads, s.head_dim);

        DeviceFloats qkv_d(qkv), grad_out_d(grad_out);
        auto out_d = DeviceFloats::poisoned(out_size), lse_d = DeviceFloats::poisoned(lse_size);
        cuda::attention_forward(qkv_d.get(), out_d.get(), lse_d.get(), s.batch, s.seq, s.heads,
                                s.head_dim);
        CHECK(normalised_error(out_d.to_host(), out) < 1e-4);
        CHECK(normalised_error(lse_d.to_host(), lse) < 1e-5);

        // The backward reads the CPU's forward results, so its error is its own.
        DeviceFloats out_cpu_d(out), lse_cpu_d(lse);
        auto grad_qkv_d = DeviceFloats::poisoned(qkv_size);
        cuda::attention_backward(qkv_d.get(), out_cpu_d.get(), lse_cpu_d.get(), grad_out_d.get(),
                                 grad_qkv_d.get(), s.batch, s.seq, s.heads, s.head_dim);
        CHECK(normalised_error(grad_qkv_d.to_host(), grad_qkv) < 1e-4);
    }
#endif
}

TEST_CASE("cuda attention: op-level forward and backward match the CPU; backward repeats bitwise" *
          doctest::skip(!kelvin::cuda_available())) {
#if KELVIN_CUDA
    for (const AttentionShape& s : parity_shapes()) {
        CAPTURE(s.label());
        const int64_t dim = s.heads * s.head_dim;
        Tensor qkv_cpu = random_param({s.batch, s.seq, 3 * dim}, 40 + s.seq, -2.0f, 2.0f);
        Tensor seed_cpu = random_tensor({s.batch, s.seq, dim}, 41 + s.seq);
        Tensor out_cpu = ops::multi_head_attention(qkv_cpu, static_cast<int>(s.heads));
        out_cpu.backward(seed_cpu);

        Tensor qkv_cuda = qkv_cpu.detach().to(Device::CUDA);
        qkv_cuda.set_requires_grad(true);
        Tensor out_cuda = ops::multi_head_attention(qkv_cuda, static_cast<int>(s.heads));
        out_cuda.backward(seed_cpu.to(Device::CUDA));
        CHECK(normalised_error(out_cuda.to_vector(), out_cpu.to_vector()) < 1e-4);
        CHECK(normalised_error(qkv_cuda.grad().to_vector(), qkv_cpu.grad().to_vector()) < 1e-4);

        std::vector<float> first = qkv_cuda.grad().to_vector();
        qkv_cuda.zero_grad();
        ops::multi_head_attention(qkv_cuda, static_cast<int>(s.heads))
            .backward(seed_cpu.to(Device::CUDA));
        std::vector<float> second = qkv_cuda.grad().to_vector();
        CHECK(std::memcmp(first.data(), second.data(), first.size() * sizeof(float)) == 0);
    }
#endif
}

TEST_CASE("cuda patchify and token kernels: match the CPU exactly, NaN-poisoned outputs" *
          doctest::skip(!kelvin::cuda_available())) {
#if KELVIN_CUDA
    {  // patchify, non-square, 3 channels
        const int64_t n = 2, c = 3, h = 12, w = 8, p = 4, total = n * c * h * w;
        std::vector<float> x = random_floats(total, 50), patches(total), back(total);
        cpu::patchify_forward(x.data(), patches.data(), n, c, h, w, p);
        cpu::patchify_backward(patches.data(), back.data(), n, c, h, w, p);
        CHECK(back == x);  // the backward is the inverse permutation
        DeviceFloats x_d(x), patches_in_d(patches);
        auto patches_d = DeviceFloats::poisoned(total), back_d = DeviceFloats::poisoned(total);
        cuda::patchify_forward(x_d.get(), patches_d.get(), n, c, h, w, p);
        cuda::patchify_backward(patches_in_d.get(), back_d.get(), n, c, h, w, p);
        CHECK(patches_d.to_host() == patches);
        CHECK(back_d.to_host() == x);
    }
    {  // prepend_token and select_token
        const int64_t n = 3, s = 65, d = 192;
        std::vector<float> x = random_floats(n * s * d, 51), token = random_floats(d, 52);
        std::vector<float> out(n * (s + 1) * d), grad_x(n * s * d), grad_token(d);
        std::vector<float> grad_out = random_floats(n * (s + 1) * d, 53);
        cpu::prepend_token_forward(x.data(), token.data(), out.data(), n, s, d);
        cpu::prepend_token_backward(grad_out.data(), grad_x.data(), grad_token.data(), n, s, d);
        DeviceFloats x_d(x), token_d(token), grad_out_d(grad_out);
        auto out_d = DeviceFloats::poisoned(out.size());
        auto grad_x_d = DeviceFloats::poisoned(grad_x.size());
        auto grad_token_d = DeviceFloats::poisoned(d);
        cuda::prepend_token_forward(x_d.get(), token_d.get(), out_d.get(), n, s, d);
        cuda::prepend_token_backward(grad_out_d.get(), grad_x_d.get(), grad_token_d.get(), n, s,
                                     d);
        CHECK(out_d.to_host() == out);
        CHECK(grad_x_d.to_host() == grad_x);
        CHECK(normalised_error(grad_token_d.to_host(), grad_token) < 1e-6);

        for (int64_t index : {int64_t{0}, s - 1, int64_t{17}}) {
            std::vector<float> picked(n * d), grad_picked = random_floats(n * d, 54);
            std::vector<float> scattered(n * s * d);
            cpu::select_token_forward(x.data(), picked.data(), n, s, d, index);
            cpu::select_token_backward(grad_picked.data(), scattered.data(), n, s, d, index);
            DeviceFloats grad_picked_d(grad_picked);
            auto picked_d = DeviceFloats::poisoned(picked.size());
            auto scattered_d = DeviceFloats::poisoned(scattered.size());
            cuda::select_token_forward(x_d.get(), picked_d.get(), n, s, d, index);
            cuda::select_token_backward(grad_picked_d.get(), scattered_d.get(), n, s, d, index);
            CHECK(picked_d.to_host() == picked);
            CHECK(scattered_d.to_host() == scattered);
        }
    }
#endif
}

TEST_CASE("cuda patchify, token and broadcast ops: op-level forward and gradients match the CPU" *
          doctest::skip(!kelvin::cuda_available())) {
#if KELVIN_CUDA
    // A ViT stem: patchify -> prepend class token -> add position embeddings -> select token 0,
    // plus a second head reading the last token, so every op's backward runs on both devices.
    auto stem = [](const std::vector<Tensor>& in) {
        Tensor tokens = ops::prepend_token(ops::patchify(in[0], 4), in[1]);
        Tensor embedded = ops::add_broadcast(tokens, in[2]);
        return ops::add(ops::select_token(embedded, 0), ops::select_token(embedded, -1));
    };
    std::vector<Tensor> cpu_in = {random_param({3, 2, 8, 12}, 60), random_param({1, 1, 32}, 61),
                                  random_param({1, 7, 32}, 62)};
    std::vector<Tensor> cuda_in;
    for (const Tensor& t : cpu_in) {
        Tensor copy = t.detach().to(Device::CUDA);
        copy.set_requires_grad(true);
        cuda_in.push_back(copy);
    }
    Tensor seed = random_tensor({3, 32}, 63);
    Tensor out_cpu = stem(cpu_in), out_cuda = stem(cuda_in);
    out_cpu.backward(seed);
    out_cuda.backward(seed.to(Device::CUDA));
    CHECK(out_cuda.to_vector() == out_cpu.to_vector());
    for (size_t i = 0; i < cpu_in.size(); ++i) {
        CAPTURE(i);
        CHECK(normalised_error(cuda_in[i].grad().to_vector(), cpu_in[i].grad().to_vector()) <
              1e-6);
    }
#endif
}
