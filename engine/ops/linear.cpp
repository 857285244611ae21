// matmul, linear (x W^T + b), the fused linear + ReLU of MLP hidden layers, and bias add.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/activation.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"

namespace kelvin::ops {

namespace {

// C[m, n] = op(A) op(B) on the tensors' device; row-major, contiguous.
void gemm_on(Device device, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
             const float* b, float beta, float* c) {
    const int64_t lda = ta ? m : k, ldb = tb ? k : n;
    KELVIN_DISPATCH(device, gemm, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, n);
}

void check_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const char* op) {
    check_f32(x, op);
    check_f32(weight, op);
    check_same_device(x, weight, op);
    KELVIN_CHECK(x.ndim() == 2 && weight.ndim() == 2 && x.size(1) == weight.size(1),
                 std::string(op) + ": expected x [N, in] and weight [out, in], got " +
                     x.describe() + " and " + weight.describe());
    if (bias.defined()) {
        check_same_device(x, bias, op);
        KELVIN_CHECK(bias.ndim() == 1 && bias.size(0) == weight.size(0),
                     std::string(op) + ": bias " + bias.describe() + " does not match weight " +
                         weight.describe());
    }
}

// Gradients of y = x W^T + b given dy (the pre-activation gradient).
std::vector<Tensor> linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                    const Tensor& bias) {
    const int64_t rows = x.size(0), in = x.size(1), out = weight.size(0);
    Tensor dx, dw, db;
    if (x.requires_grad()) {  // dx = dy W
        dx = Tensor::empty({rows, in}, DType::F32, x.device());
        gemm_on(x.device(), false, false, rows, in, out, dy.f32(), weight.f32(), 0.0f, dx.f32());
    }
    if (weight.requires_grad()) {  // dW = dy^T x
        dw = Tensor::empty({out, in}, DType::F32, x.device());
        gemm_on(x.device(), true, false, out, in, rows, dy.f32(), x.f32(), 0.0f, dw.f32());
    }
    if (bias.defined() && bias.requires_grad()) {
        db = Tensor::empty({out}, DType::F32, x.device());
        KELVIN_DISPATCH(x.device(), sum_rows, dy.f32(), db.f32(), rows, out);
    }
    return {dx, dw, db};
}

Tensor linear_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu) {
    const char* op = fuse_relu ? "linear_relu" : "linear";
    check_linear(x, weight, bias, op);
    const int64_t rows = x.size(0), in = x.size(1), out = weight.size(0);
    Tensor y = Tensor::empty({rows, out}, DType::F32, x.device());
    gemm_on(x.device(), false, true, rows, out, in, x.f32(), weight.f32(), 0.0f, y.f32());
    if (bias.defined() && fuse_relu)
        KELVIN_DISPATCH(x.device(), bias_relu, y.f32(), bias.f32(), y.f32(), rows, out);
    else if (bias.defined())
        KELVIN_DISPATCH(x.device(), bias_add, y.f32(), bias.f32(), y.f32(), rows, out);
    else if (fuse_relu)
        KELVIN_DISPATCH(x.device(), relu_forward, y.f32(), y.f32(), rows * out);

    if (!needs_grad({&x, &weight, &bias})) return y;
    Tensor x_saved = x.detach(), w_saved = weight.detach(), b_saved = bias;
    Tensor y_saved = fuse_relu ? y.detach() : Tensor();
    // Keep requires_grad flags (detach drops them) so the backward knows what to compute.
    x_saved.impl()->requires_grad = x.requires_grad();
    w_saved.impl()->requires_grad = weight.requires_grad();
    return record(y, op, {x, weight, bias},
                  [x_saved, w_saved, b_saved, y_saved, fuse_relu](const Tensor& dy) {
                      Tensor dpre = dy;
                      if (fuse_relu) {
                          dpre = Tensor::empty(dy.shape(), DType::F32, dy.device());
                          KELVIN_DISPATCH(dy.device(), relu_backward, y_saved.f32(), dy.f32(),
                                          dpre.f32(), dy.numel());
                      }
                      return linear_backward(dpre, x_saved, w_saved, b_saved);
                  });
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    KELVIN_TRACE_OP("linear", x.device());
    return linear_impl(x, weight, bias, false);
}

Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    KELVIN_TRACE_OP("linear_relu", x.device());
    return linear_impl(x, weight, bias, true);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
    KELVIN_TRACE_OP("matmul", a.device());
    check_f32(a, "matmul");
    check_f32(b, "matmul");
    check_same_device(a, b, "matmul");
    KELVIN_CHECK(a.ndim() == 2 && b.ndim() == 2 && a.size(1) == b.size(0),
                 "matmul: expected [M, K] x [K, N], got " + a.describe() + " x " + b.describe());
    const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
    Tensor c = Tensor::empty({m, n}, DType::F32, a.device());
    gemm_on(a.device(), false, false, m, n, k, a.f32(), b.f32(), 0.0f, c.f32());
    Tensor a_saved = a.detach(), b_saved = b.detach();
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    return record(c, "matmul", {a, b}, [=](const Tensor& dc) {
        Tensor da, db;
        if (need_a) {  // dA = dC B^T
            da = Tensor::empty({m, k}, DType::F32, dc.device());
            gemm_on(dc.device(), false, true, m, k, n, dc.f32(), b_saved.f32(), 0.0f, da.f32());
        }
        if (need_b) {  // dB = A^T dC
            db = Tensor::empty({k, n}, DType::F32, dc.device());
            gemm_on(dc.device(), true, false, k, n, m, a_saved.f32(), dc.f32(), 0.0f, db.f32());
        }
        return std::vector<Tensor>{da, db};
    });
}

Tensor gram(const Tensor& x) {
    KELVIN_TRACE_OP("gram", x.device());
    check_f32(x, "gram");
    KELVIN_CHECK(x.ndim() == 2, "gram: expected [N, D], got " + x.describe());
    const int64_t n = x.size(0), d = x.size(1);
    Tensor g = Tensor::empty({d, d}, DType::F32, x.device());
    gemm_on(x.device(), true, false, d, d, n, x.f32(), x.f32(), 0.0f, g.f32());
    return g;  // not recorded: a statistic, not part of a model
}

Tensor bias_add(const Tensor& x, const Tensor& bias) {
    KELVIN_TRACE_OP("bias_add", x.device());
    check_f32(x, "bias_add");
    check_f32(bias, "bias_add");
    check_same_device(x, bias, "bias_add");
    KELVIN_CHECK(x.ndim() == 2 && bias.ndim() == 1 && bias.size(0) == x.size(1),
                 "bias_add: expected x [N, C] and bias [C], got " + x.describe() + " and " +
                     bias.describe());
    const int64_t rows = x.size(0), cols = x.size(1);
    Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
    KELVIN_DISPATCH(x.device(), bias_add, x.f32(), bias.f32(), y.f32(), rows, cols);
    return record(y, "bias_add", {x, bias}, [rows, cols](const Tensor& dy) {
        Tensor db = Tensor::empty({cols}, DType::F32, dy.device());
        KELVIN_DISPATCH(dy.device(), sum_rows, dy.f32(), db.f32(), rows, cols);
        return std::vector<Tensor>{dy, db};
    });
}

}  // namespace kelvin::ops
