// The differentiable operations. Each op lives in engine/ops/<name>.cpp with its shape checks,
// its forward, its backward and its device dispatch; the kernels it calls are in
// kernels/cpu/<family>.cpp and kernels/cuda/<family>.cu.
#pragma once

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace kelvin::ops {

// ---- linear algebra (engine/ops/linear.cpp) ---------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);                   // [M,K] x [K,N] -> [M,N]
// y = x W^T + b: x [N, in], weight [out, in] (PyTorch's layout), bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// y = relu(x W^T + b) in one pass over the output (the MLP's hidden layer).
Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor bias_add(const Tensor& x, const Tensor& bias);              // [N, C] + [C]

// ---- pointwise (engine/ops/elementwise.cpp) ----------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);                      // same shapes
Tensor mul(const Tensor& a, const Tensor& b);                      // same shapes
Tensor scale(const Tensor& a, float alpha);

// ---- activations (engine/ops/activation.cpp) ----------------------------------------------
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);

// ---- reductions (engine/ops/reduce.cpp) ------------------------------------------------------
Tensor sum(const Tensor& x);   // scalar, shape [1]
Tensor mean(const Tensor& x);  // scalar, shape [1]

// ---- shapes (engine/ops/shape.cpp) ------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed
Tensor flatten(const Tensor& x);                       // [N, ...] -> [N, prod(...)]

// ---- loss (engine/ops/softmax_cross_entropy.cpp) ---------------------------------------------
// Mean over rows of -log softmax(logits / T)[label]. logits [N, C] f32, labels [N] i32.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, float temperature);

// ---- not recorded by autograd: in-place updates and queries -----------------------------------
void fill_(Tensor& t, float value);
void add_inplace(Tensor& dst, const Tensor& src);     // dst += src
void axpy_(Tensor& y, float alpha, const Tensor& x);  // y += alpha * x
Tensor argmax_rows(const Tensor& x);                  // [N, C] -> i32 [N]
Tensor row_norms(const Tensor& x);                    // [N, C] -> f32 [N]
Tensor sum_rows(const Tensor& x);                     // [N, C] -> f32 [C]

// Shared checks with messages that say what was expected.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_f32(const Tensor& t, const char* op);

}  // namespace kelvin::ops
