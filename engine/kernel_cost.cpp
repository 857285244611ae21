#include "engine/kernel_cost.h"
#include <algorithm>

namespace kelvin::kernel_cost {

namespace {

constexpr double kWord = 4.0;  // every tensor element kelvin's kernels move is 32 bits

// `moved` bytes in all, each a distinct one.
KernelCost bytes(double flops, double moved, std::string shape) {
    return KernelCost{flops, moved, moved, std::move(shape)};
}
// `moved` 32-bit elements read or written over `distinct` distinct ones (buffers updated in place).
KernelCost in_place(double flops, double moved, double distinct, std::string shape) {
    return KernelCost{flops, moved * kWord, distinct * kWord, std::move(shape)};
}
// `moved` 32-bit elements in all, each a distinct one.
KernelCost words(double flops, double moved, std::string shape) {
    return in_place(flops, moved, moved, std::move(shape));
}

std::string n_of(int64_t n) { return "n=" + std::to_string(n); }
std::string by(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }
std::string by(int64_t a, int64_t b, int64_t c) { return by(a, b) + "x" + std::to_string(c); }
std::string by(int64_t a, int64_t b, int64_t c, int64_t d) {
    return by(a, b, c) + "x" + std::to_string(d);
}

// "32x64x32x32 k3x3 s1 p1 -> 64": input, kernel, stride, padding, output channels.
std::string conv_text(const ConvShape& s) {
    return by(s.batch, s.in_channels, s.in_h, s.in_w) + " k" + by(s.kernel_h, s.kernel_w) +
           " s" + std::to_string(s.stride) + " p" + std::to_string(s.padding) + " -> " +
           std::to_string(s.out_channels);
}
double conv_macs(const ConvShape& s) {
    return double(s.batch) * s.out_channels * s.out_h * s.out_w * s.in_channels * s.kernel_h *
           s.kernel_w;
}
double conv_x(const ConvShape& s) { return double(s.batch) * s.in_channels * s.in_h * s.in_w; }
double conv_w(const ConvShape& s) {
    return double(s.out_channels) * s.in_channels * s.kernel_h * s.kernel_w;
}
double conv_y(const ConvShape& s) { return double(s.batch) * s.out_channels * s.out_h * s.out_w; }

std::string pool_text(const PoolShape& s) {
    return by(s.planes, s.in_h, s.in_w) + " k" + std::to_string(s.kernel) + " s" +
           std::to_string(s.stride) + " p" + std::to_string(s.padding);
}
double pool_in(const PoolShape& s) { return double(s.planes) * s.in_h * s.in_w; }
double pool_out(const PoolShape& s) { return double(s.planes) * s.out_h * s.out_w; }

}  // namespace

// ---- elementwise: one pass over the data ----------------------------------------------------
KernelCost fill(float*, float, int64_t n) { return words(0, n, n_of(n)); }
KernelCost fill_i32(int32_t*, int32_t, int64_t n) { return words(0, n, n_of(n)); }
KernelCost add(const float*, const float*, float*, int64_t n) { return words(n, 3.0 * n, n_of(n)); }
KernelCost axpy(float, const float*, float*, int64_t n) {
    return in_place(2.0 * n, 3.0 * n, 2.0 * n, n_of(n));  // y += a x: y read and written
}
KernelCost mul(const float*, const float*, float*, int64_t n) { return words(n, 3.0 * n, n_of(n)); }
KernelCost scale(const float*, float, float*, int64_t n) { return words(n, 2.0 * n, n_of(n)); }
KernelCost bias_add(const float*, const float*, float*, int64_t rows, int64_t cols) {
    return words(double(rows) * cols, 2.0 * rows * cols + cols, by(rows, cols));
}
KernelCost bias_relu(const float*, const float*, float*, int64_t rows, int64_t cols) {
    return words(2.0 * rows * cols, 2.0 * rows * cols + cols, by(rows, cols));
}

// ---- activation -----------------------------------------------------------------------------
KernelCost relu_forward(const float*, float*, int64_t n) { return words(n, 2.0 * n, n_of(n)); }
KernelCost relu_backward(const float*, const float*, float*, int64_t n) {
    return words(n, 3.0 * n, n_of(n));
}
// Exact GELU x * Phi(x): erf counted as 1, with 4 multiplies and adds around it.
KernelCost gelu_forward(const float*, float*, int64_t n) { return words(5.0 * n, 2.0 * n, n_of(n)); }
KernelCost gelu_backward(const float*, const float*, float*, int64_t n) {
    return words(10.0 * n, 3.0 * n, n_of(n));
}

// ---- gemm: C = alpha op(A) op(B) + beta C ----------------------------------------------------
KernelCost gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float,
                const float*, int64_t, const float*, int64_t, float beta, float*, int64_t) {
    const double c_words = beta != 0.0f ? 2.0 * m * n : double(m) * n;  // read C only when used
    return words(2.0 * m * n * k, double(m) * k + double(k) * n + c_words,
                 "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" +
                     std::to_string(k) + (transpose_a ? " At" : "") + (transpose_b ? " Bt" : ""));
}

// ---- reduce ---------------------------------------------------------------------------------
KernelCost sum_all(const float*, float*, int64_t n, float) { return words(n, n + 1.0, n_of(n)); }
KernelCost sum_rows(const float*, float*, int64_t rows, int64_t cols) {
    return words(double(rows) * cols, double(rows) * cols + cols, by(rows, cols));
}
KernelCost argmax_rows(const float*, int32_t*, int64_t rows, int64_t cols) {
    return words(double(rows) * cols, double(rows) * cols + rows, by(rows, cols));
}
KernelCost row_norms(const float*, float*, int64_t rows, int64_t cols) {
    return words(2.0 * rows * cols, double(rows) * cols + rows, by(rows, cols));
}

// ---- softmax cross-entropy: scale, max, exp, sum per logit ----------------------------------
KernelCost softmax_cross_entropy_forward(const float*, const int32_t*, float*, float*,
                                         int64_t rows, int64_t classes, float) {
    return words(4.0 * rows * classes, double(rows) * classes + 3.0 * rows, by(rows, classes));
}
KernelCost softmax_cross_entropy_backward(const float*, const int32_t*, const float*,
                                          const float*, float*, int64_t rows, int64_t classes,
                                          float) {
    return words(4.0 * rows * classes, 2.0 * rows * classes + 2.0 * rows, by(rows, classes));
}

// ---- optimizer: read parameter, gradient and state, write parameter and state ---------------
KernelCost sgd_step(float*, const float*, float*, int64_t n, float, float momentum,
                    float weight_decay, bool, bool first_step) {
    const bool has_buffer = momentum != 0.0f;
    const double state = has_buffer ? (first_step ? 1.0 : 2.0) : 0.0;  // a first step only writes
    const double flops = 2.0 + (weight_decay != 0.0f ? 2.0 : 0.0) + (has_buffer ? 2.0 : 0.0);
    // Parameter, gradient and (with momentum) the buffer; the parameter and buffer in place.
    return in_place(flops * n, (3.0 + state) * n, (has_buffer ? 3.0 : 2.0) * n, n_of(n));
}
KernelCost adamw_step(float*, const float*, float*, float*, int64_t n, float, float, float,
                      float, float, int64_t) {
    // Two moment updates, sqrt, divide, decay; parameter and both moments updated in place.
    return in_place(16.0 * n, 7.0 * n, 4.0 * n, n_of(n));
}

// ---- rows -----------------------------------------------------------------------------------
KernelCost gather_rows(const uint32_t*, const int32_t*, uint32_t*, int64_t rows, int64_t cols) {
    return words(0, 2.0 * rows * cols + rows, by(rows, cols));
}
KernelCost gather_columns(const uint32_t*, const int32_t*, uint32_t*, int64_t rows,
                          int64_t src_cols, int64_t dst_cols) {
    return words(0, 2.0 * rows * dst_cols + dst_cols,
                 by(rows, src_cols) + " -> " + std::to_string(dst_cols));
}
KernelCost column_affine(const float*, const float*, const float*, float*, int64_t rows,
                         int64_t cols) {
    return words(2.0 * rows * cols, 2.0 * rows * cols + 2.0 * cols, by(rows, cols));
}

// ---- normalize ------------------------------------------------------------------------------
KernelCost l2_normalize_rows_forward(const float*, float*, float*, int64_t rows, int64_t cols,
                                     float) {
    return words(3.0 * rows * cols, 2.0 * rows * cols + rows, by(rows, cols));
}
KernelCost l2_normalize_rows_backward(const float*, const float*, const float*, float*,
                                      int64_t rows, int64_t cols, float) {
    return words(4.0 * rows * cols, 3.0 * rows * cols + rows, by(rows, cols));
}

// ---- conv: the three products share M*N*K multiply-adds; each moves its two operands and
// its result once ------------------------------------------------------------------------------
KernelCost conv2d_forward(const float*, const float*, const float* bias, float*,
                          const ConvShape& s) {
    return words(2.0 * conv_macs(s), conv_x(s) + conv_w(s) + conv_y(s) + (bias ? s.out_channels : 0),
                 conv_text(s));
}
KernelCost conv2d_backward_data(const float*, const float*, float*, const ConvShape& s) {
    return words(2.0 * conv_macs(s), conv_y(s) + conv_w(s) + conv_x(s), conv_text(s));
}
KernelCost conv2d_backward_weight(const float*, const float*, float*, const ConvShape& s) {
    return words(2.0 * conv_macs(s), conv_x(s) + conv_y(s) + conv_w(s), conv_text(s));
}
KernelCost conv2d_backward_bias(const float*, float*, const ConvShape& s) {
    return words(conv_y(s), conv_y(s) + s.out_channels, conv_text(s));
}

// ---- pool -----------------------------------------------------------------------------------
KernelCost max_pool2d_forward(const float*, float*, int32_t*, const PoolShape& s) {
    return words(pool_out(s) * s.kernel * s.kernel, pool_in(s) + 2.0 * pool_out(s), pool_text(s));
}
KernelCost max_pool2d_backward(const float*, const int32_t*, float*, const PoolShape& s) {
    return words(pool_out(s), 2.0 * pool_out(s) + pool_in(s), pool_text(s));
}
KernelCost avg_pool2d_forward(const float*, float*, const PoolShape& s) {
    return words(pool_out(s) * s.kernel * s.kernel, pool_in(s) + pool_out(s), pool_text(s));
}
KernelCost avg_pool2d_backward(const float*, float*, const PoolShape& s) {
    return words(pool_out(s) * s.kernel * s.kernel, pool_out(s) + pool_in(s), pool_text(s));
}
KernelCost global_avg_pool_forward(const float*, float*, int64_t planes, int64_t plane_size) {
    return words(double(planes) * plane_size, double(planes) * plane_size + planes,
                 by(planes, plane_size));
}
KernelCost global_avg_pool_backward(const float*, float*, int64_t planes, int64_t plane_size) {
    return words(double(planes) * plane_size, double(planes) * plane_size + planes,
                 by(planes, plane_size));
}

// ---- norm -----------------------------------------------------------------------------------
KernelCost batch_norm_statistics(const float*, float*, float*, float* running_mean, float*,
                                 int64_t n, int64_t c, int64_t hw, float, float) {
    const double elems = double(n) * c * hw;
    return words(3.0 * elems, elems + 2.0 * c + (running_mean ? 4.0 * c : 0.0), by(n, c, hw));
}
KernelCost batch_norm_inverse_std(const float*, float*, int64_t c, float) {
    return words(3.0 * c, 2.0 * c, n_of(c));
}
KernelCost batch_norm_apply(const float*, const float*, const float*, const float*,
                            const float*, float*, int64_t n, int64_t c, int64_t hw) {
    const double elems = double(n) * c * hw;
    return words(4.0 * elems, 2.0 * elems + 4.0 * c, by(n, c, hw));
}
KernelCost batch_norm_backward_reduce(const float*, const float*, const float*, const float*,
                                      float*, float*, int64_t n, int64_t c, int64_t hw) {
    const double elems = double(n) * c * hw;
    return words(5.0 * elems, 2.0 * elems + 4.0 * c, by(n, c, hw));
}
KernelCost batch_norm_backward_input(const float*, const float*, const float*, const float*,
                                     const float*, const float*, const float*, float*,
                                     int64_t n, int64_t c, int64_t hw, bool batch_statistics) {
    const double elems = double(n) * c * hw;
    if (!batch_statistics) return words(2.0 * elems, 2.0 * elems + 2.0 * c, by(n, c, hw));
    return words(7.0 * elems, 3.0 * elems + 5.0 * c, by(n, c, hw));
}
KernelCost layer_norm_forward(const float*, const float*, const float*, float*, float*, float*,
                              int64_t rows, int64_t d, float) {
    const double elems = double(rows) * d;
    return words(7.0 * elems, 2.0 * elems + 2.0 * d + 2.0 * rows, by(rows, d));
}
KernelCost layer_norm_backward(const float*, const float*, const float*, const float*,
                               const float*, float* dx, float* dweight, float* dbias,
                               int64_t rows, int64_t d) {
    const double elems = double(rows) * d;
    const double outputs = (dx ? elems : 0.0) + (dweight ? d : 0.0) + (dbias ? d : 0.0);
    return words(10.0 * elems, 2.0 * elems + d + 2.0 * rows + outputs, by(rows, d));
}

// ---- dropout --------------------------------------------------------------------------------
KernelCost dropout_apply(const float*, float*, int64_t n, uint64_t, uint64_t, float) {
    return words(n, 2.0 * n, n_of(n));
}

// ---- sequence: permutations and copies --------------------------------------------------------
KernelCost patchify_forward(const float*, float*, int64_t batch, int64_t channels,
                            int64_t height, int64_t width, int64_t patch) {
    return words(0, 2.0 * batch * channels * height * width,
                 by(batch, channels, height, width) + " p" + std::to_string(patch));
}
KernelCost patchify_backward(const float*, float*, int64_t batch, int64_t channels,
                             int64_t height, int64_t width, int64_t patch) {
    return patchify_forward(nullptr, nullptr, batch, channels, height, width, patch);
}
KernelCost prepend_token_forward(const float*, const float*, float*, int64_t batch, int64_t seq,
                                 int64_t dim) {
    return words(0, double(batch) * seq * dim + dim + double(batch) * (seq + 1) * dim,
                 by(batch, seq, dim));
}
KernelCost prepend_token_backward(const float*, float* grad_x, float* grad_token, int64_t batch,
                                  int64_t seq, int64_t dim) {
    const double rows_read = (grad_x ? seq : 0) + (grad_token ? 1 : 0);
    const double written = (grad_x ? double(seq) * dim * batch : 0.0) + (grad_token ? dim : 0);
    return words(grad_token ? double(batch) * dim : 0.0, batch * rows_read * dim + written,
                 by(batch, seq, dim));
}
KernelCost select_token_forward(const float*, float*, int64_t batch, int64_t seq, int64_t dim,
                                int64_t) {
    return words(0, 2.0 * batch * dim, by(batch, seq, dim));
}
KernelCost select_token_backward(const float*, float*, int64_t batch, int64_t seq, int64_t dim,
                                 int64_t) {
    return words(0, double(batch) * dim + double(batch) * seq * dim, by(batch, seq, dim));
}

// ---- attention: per (batch, head), S x S scores from S x d operands -------------------------
// Forward: Q K^T and P V (2 S^2 d each) plus ~5 S^2 for the softmax. Backward recomputes the
// scores and forms dV, dP, dQ, dK: 5 products of 2 S^2 d, plus ~5 S^2.
KernelCost attention_forward(const float*, float*, float*, int64_t batch, int64_t seq,
                             int64_t heads, int64_t head_dim) {
    const double pairs = double(batch) * heads * seq * seq, d = heads * head_dim;
    return words(pairs * (4.0 * head_dim + 5.0),
                 double(batch) * seq * (3.0 * d + d) + double(batch) * heads * seq,
                 by(batch, seq, heads, head_dim));
}
KernelCost attention_backward(const float*, const float*, const float*, const float*, float*,
                              int64_t batch, int64_t seq, int64_t heads, int64_t head_dim) {
    const double pairs = double(batch) * heads * seq * seq, d = heads * head_dim;
    return words(pairs * (10.0 * head_dim + 5.0),
                 double(batch) * seq * (3.0 * d + d + d + 3.0 * d) + double(batch) * heads * seq,
                 by(batch, seq, heads, head_dim));
}

// ---- augment --------------------------------------------------------------------------------
KernelCost random_crop_flip(const float*, float*, int64_t n, int64_t c, int64_t h, int64_t w,
                            int64_t padding, bool flip, uint64_t) {
    return words(0, 2.0 * n * c * h * w,
                 by(n, c, h, w) + " pad" + std::to_string(padding) + (flip ? " flip" : ""));
}

// ---- spectrum -------------------------------------------------------------------------------
// Singular values of a rows x cols matrix: bidiagonalisation, 4*m*n^2 - 4/3*n^3 for m >= n
// (Golub & Van Loan); the read of the matrix and the write of min(rows, cols) doubles.
KernelCost singular_values(const float*, int64_t rows, int64_t cols, bool, double*) {
    const double m = double(std::max(rows, cols)), n = double(std::min(rows, cols));
    return bytes(4.0 * m * n * n - 4.0 / 3.0 * n * n * n, 4.0 * rows * cols + 8.0 * n,
                 by(rows, cols));
}

// Symmetric eigenvalues: tridiagonalisation 4/3*d^3, about 9*d^3 in all with eigenvectors.
KernelCost symmetric_eigen(const double*, int64_t d, double*, double* eigenvectors) {
    const double n = double(d);
    return bytes((eigenvectors ? 9.0 : 4.0 / 3.0) * n * n * n,
                 8.0 * n * n + 8.0 * n + (eigenvectors ? 8.0 * n * n : 0.0), by(d, d));
}

}  // namespace kelvin::kernel_cost
