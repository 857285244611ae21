// The token plumbing of a vision transformer: patchify, prepend_token, add_broadcast (position
// embeddings) and select_token. Each is a copy or an add; the gradients are the inverse copies
// and, for the shared token and embedding, a sum over the batch.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "kernels/sequence.h"

namespace kelvin::ops {

namespace {

void check_tokens(const Tensor& x, const char* op) {
    check_f32(x, op);
    KELVIN_CHECK(x.ndim() == 3, std::string(op) + ": expected tokens [N, S, D], got " +
                                    x.describe());
}

}  // namespace

Tensor patchify(const Tensor& x, int patch) {
    KELVIN_TRACE_OP("patchify", x.device());
    check_f32(x, "patchify");
    KELVIN_CHECK(x.ndim() == 4, "patchify: expected images [N, C, H, W], got " + x.describe());
    KELVIN_CHECK(patch >= 1, "patchify: patch size must be at least 1, got " +
                                 std::to_string(patch));
    const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
    KELVIN_CHECK(height % patch == 0 && width % patch == 0,
                 "patchify: height " + std::to_string(height) + " and width " +
                     std::to_string(width) + " of " + x.describe() +
                     " must be multiples of the patch size " + std::to_string(patch));
    const int64_t seq = (height / patch) * (width / patch);
    Tensor y = Tensor::empty({batch, seq, channels * patch * patch}, DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), patchify_forward, x.f32(), y.f32(), batch, channels, height,
                    width, patch);
    const Shape image_shape = x.shape();
    return record(y, "patchify", {x}, [=](const Tensor& dy) {
        Tensor dx = Tensor::empty(image_shape, DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), patchify_backward, dy.f32(), dx.f32(), batch, channels,
                        height, width, patch);
        return std::vector<Tensor>{dx};
    });
}

Tensor prepend_token(const Tensor& x, const Tensor& token) {
    KELVIN_TRACE_OP("prepend_token", x.device());
    check_tokens(x, "prepend_token");
    check_f32(token, "prepend_token");
    check_same_device(x, token, "prepend_token");
    const int64_t batch = x.size(0), seq = x.size(1), dim = x.size(2);
    KELVIN_CHECK(token.shape() == Shape({1, 1, dim}),
                 "prepend_token: expected token [1, 1, " + std::to_string(dim) + "] for x " +
                     x.describe() + ", got " + token.describe());
    Tensor y = Tensor::empty({batch, seq + 1, dim}, DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), prepend_token_forward, x.f32(), token.f32(), y.f32(), batch, seq,
                    dim);
    const bool need_x = x.requires_grad(), need_token = token.requires_grad();
    return record(y, "prepend_token", {x, token}, [=](const Tensor& dy) {
        Tensor dx, dtoken;
        if (need_x) dx = Tensor::empty({batch, seq, dim}, DType::F32, dy.device());
        if (need_token) dtoken = Tensor::empty({1, 1, dim}, DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), prepend_token_backward, dy.f32(),
                        need_x ? dx.f32() : nullptr, need_token ? dtoken.f32() : nullptr, batch,
                        seq, dim);
        return std::vector<Tensor>{dx, dtoken};
    });
}

Tensor add_broadcast(const Tensor& x, const Tensor& p) {
    KELVIN_TRACE_OP("add_broadcast", x.device());
    check_f32(x, "add_broadcast");
    check_f32(p, "add_broadcast");
    check_same_device(x, p, "add_broadcast");
    bool shapes_match = x.ndim() >= 1 && p.ndim() == x.ndim() && p.size(0) == 1;
    for (int axis = 1; shapes_match && axis < x.ndim(); ++axis)
        shapes_match = p.size(axis) == x.size(axis);
    KELVIN_CHECK(shapes_match, "add_broadcast: expected p [1, ...] matching x [N, ...] after the "
                               "first axis, got x " + x.describe() + " and p " + p.describe());
    // Row-broadcast over the batch: the bias add of a linear layer with rows = N.
    const int64_t rows = x.size(0), cols = p.numel();
    Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), bias_add, x.f32(), p.f32(), y.f32(), rows, cols);
    const Shape p_shape = p.shape();
    const bool need_p = p.requires_grad();
    return record(y, "add_broadcast", {x, p}, [=](const Tensor& dy) {
        Tensor dp;
        if (need_p) {
            dp = Tensor::empty(p_shape, DType::F32, dy.device());
            KELVIN_DISPATCH(dy.device(), sum_rows, dy.f32(), dp.f32(), rows, cols);
        }
        return std::vector<Tensor>{dy, dp};
    });
}

Tensor select_token(const Tensor& x, int64_t index) {
    KELVIN_TRACE_OP("select_token", x.device());
    check_tokens(x, "select_token");
    const int64_t batch = x.size(0), seq = x.size(1), dim = x.size(2);
    KELVIN_CHECK(index >= -seq && index < seq,
                 "select_token: index " + std::to_string(index) + " out of range for " +
                     x.describe() + " (negative indices count from the end)");
    if (index < 0) index += seq;
    Tensor y = Tensor::empty({batch, dim}, DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), select_token_forward, x.f32(), y.f32(), batch, seq, dim, index);
    return record(y, "select_token", {x}, [=](const Tensor& dy) {
        Tensor dx = Tensor::empty({batch, seq, dim}, DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), select_token_backward, dy.f32(), dx.f32(), batch, seq, dim,
                        index);
        return std::vector<Tensor>{dx};
    });
}

}  // namespace kelvin::ops
