// The differentiable operations. Each op lives in engine/ops/<name>.cpp with its shape checks,
// its forward, its backward and its device dispatch; the kernels it calls are in
// kernels/cpu/<family>.cpp and kernels/cuda/<family>.cu.
#pragma once

#include <vector>

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

// Row-wise x / max(||x||_2, eps) (engine/ops/normalize.cpp): the normalised-logits head.
Tensor l2_normalize_rows(const Tensor& x, float eps = 1e-12f);

// ---- shapes (engine/ops/shape.cpp) ------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed
Tensor flatten(const Tensor& x);                       // [N, ...] -> [N, prod(...)]

// ---- loss (engine/ops/softmax_cross_entropy.cpp) ---------------------------------------------
// Mean over rows of -log softmax(logits / T)[label]. logits [N, C] f32, labels [N] i32.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, float temperature);

// ---- convolution and pooling (engine/ops/conv.cpp, engine/ops/pool.cpp) ----------------------
// x [N, C, H, W], weight [O, C, kh, kw] (PyTorch's layout), bias [O] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding);
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);
Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);  // count_include_pad
Tensor global_avg_pool(const Tensor& x);  // [N, C, H, W] -> [N, C]

// ---- normalisation and dropout (engine/ops/batch_norm.cpp, layer_norm.cpp, dropout.cpp) --------
// Training: normalises with batch statistics (biased variance) and updates the running ones
// in place with PyTorch's momentum and unbiased variance; eval: uses the running statistics.
Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                    float eps);
// Over the last axis of x (any rank); weight and bias [D] or undefined.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);
// Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p). The mask is a
// deterministic function of (seed, element index) so CPU and CUDA agree.
Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed);

// ---- transformer pieces (engine/ops/sequence.cpp, engine/ops/attention.cpp) --------------------
// [N, C, H, W] -> [N, (H/p)*(W/p), C*p*p], each patch vector ordered (c, i, j) so that a conv
// weight [D, C, p, p] viewed as [D, C*p*p] is the matching linear map.
Tensor patchify(const Tensor& x, int patch);
Tensor prepend_token(const Tensor& x, const Tensor& token);   // [N,S,D], [1,1,D] -> [N,S+1,D]
Tensor add_broadcast(const Tensor& x, const Tensor& p);       // [N, ...] + [1, ...]
Tensor select_token(const Tensor& x, int64_t index);          // [N, S, D] -> [N, D]
// Multi-head self-attention on packed projections: qkv [N, S, 3*D] holds q, k, v side by side
// along the last axis, each split into `heads` heads of D/heads; softmax(q k^T / sqrt(d_head)) v.
// Returns [N, S, D] with heads concatenated along the last axis.
Tensor multi_head_attention(const Tensor& qkv, int heads);

// ---- not recorded by autograd: in-place updates and queries -----------------------------------
void fill_(Tensor& t, float value);
void add_inplace(Tensor& dst, const Tensor& src);     // dst += src
void axpy_(Tensor& y, float alpha, const Tensor& x);  // y += alpha * x
Tensor argmax_rows(const Tensor& x);                  // [N, C] -> i32 [N]
Tensor row_norms(const Tensor& x);                    // [N, C] -> f32 [N]
Tensor sum_rows(const Tensor& x);                     // [N, C] -> f32 [C]
Tensor gram(const Tensor& x);                         // x^T x for x [N, D] -> [D, D]
Tensor gather_rows(const Tensor& x, const Tensor& index);  // x[index[i]] along axis 0; index i32
Tensor gather_columns(const Tensor& x, const Tensor& index);  // x[:, index[j]] of [N, D]
// out[..., c] = x[..., c] * scale[c] + shift[c] over the last axis (feature standardisation).
Tensor column_affine(const Tensor& x, const Tensor& scale, const Tensor& shift);
// Images [N, C, H, W]: each sample cropped from its zero-padded self and, with `flip`, mirrored,
// as drawn from (seed, sample index) (engine/ops/augment.cpp, kernels/augment.h).
Tensor random_crop_flip(const Tensor& images, int64_t padding, bool flip, uint64_t seed);

// ---- spectra in float64, results on the host (engine/ops/spectrum.cpp) ------------------------
// Singular values of the f32 matrix [rows, cols], min(rows, cols) of them, descending, computed
// on the matrix's device. subtract_mean_row: centre every column first.
std::vector<double> singular_values(const Tensor& matrix, bool subtract_mean_row = false);
struct SymmetricEigen {
    std::vector<double> eigenvalues;   // descending
    std::vector<double> eigenvectors;  // d x d row-major, row k for eigenvalue k (sign fixed as
                                       // in kernels/spectrum.h); empty unless asked for
};
// Of the host d x d symmetric float64 matrix (both triangles filled), computed on `device`.
SymmetricEigen symmetric_eigen(const std::vector<double>& symmetric, int64_t d, Device device,
                               bool with_vectors = true);

// Shared checks with messages that say what was expected.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_f32(const Tensor& t, const char* op);

}  // namespace kelvin::ops
