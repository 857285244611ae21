// The roofline cost model of every kernel that KELVIN_DISPATCH reaches: for one call's shapes,
// the floating-point operations it performs and the bytes it must move between memory and the
// processor at the least (each input read once, each output written once). Derived from the
// shapes, never measured, so the same figures serve the CPU and the CUDA kernel of a family;
// engine/roofline.cpp divides them by measured times.
//
// Each function has the parameter list of the kernel of the same name (kernels/<family>.h), so
// KELVIN_DISPATCH can call it with the kernel's own arguments. Conventions: a multiply-add is
// 2 FLOPs; a comparison, max or transcendental is 1; integer index work is not counted.
// Scalars the kernels keep in registers (a learning rate, a per-channel mean) are not bytes.
// The footprint (which cache level can hold the call's data, engine/roofline.h) equals the bytes
// moved except where a kernel reads and writes the same buffer (the optimizers' parameter and
// state, axpy's y): SGD with momentum moves 5 words per parameter but touches 3.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/conv.h"
#include "kernels/pool.h"

namespace kelvin {

struct KernelCost {
    double flops = 0.0;
    double bytes = 0.0;      // moved: every read and every write counted
    double footprint = 0.0;  // distinct bytes touched: less than `bytes` for in-place updates
    std::string shape;       // the call's sizes, as printed in the roofline table's rows
};

namespace kernel_cost {

// elementwise
KernelCost fill(float*, float, int64_t n);
KernelCost fill_i32(int32_t*, int32_t, int64_t n);
KernelCost add(const float*, const float*, float*, int64_t n);
KernelCost axpy(float, const float*, float*, int64_t n);
KernelCost mul(const float*, const float*, float*, int64_t n);
KernelCost scale(const float*, float, float*, int64_t n);
KernelCost bias_add(const float*, const float*, float*, int64_t rows, int64_t cols);
KernelCost bias_relu(const float*, const float*, float*, int64_t rows, int64_t cols);
// activation
KernelCost relu_forward(const float*, float*, int64_t n);
KernelCost relu_backward(const float*, const float*, float*, int64_t n);
KernelCost gelu_forward(const float*, float*, int64_t n);
KernelCost gelu_backward(const float*, const float*, float*, int64_t n);
// gemm
KernelCost gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float*, int64_t lda, const float*, int64_t ldb, float beta, float*,
                int64_t ldc);
// reduce
KernelCost sum_all(const float*, float*, int64_t n, float);
KernelCost sum_rows(const float*, float*, int64_t rows, int64_t cols);
KernelCost argmax_rows(const float*, int32_t*, int64_t rows, int64_t cols);
KernelCost row_norms(const float*, float*, int64_t rows, int64_t cols);
// softmax cross-entropy
KernelCost softmax_cross_entropy_forward(const float*, const int32_t*, float*, float*,
                                         int64_t rows, int64_t classes, float);
KernelCost softmax_cross_entropy_backward(const float*, const int32_t*, const float*,
                                          const float*, float*, int64_t rows, int64_t classes,
                                          float);
// optimizer
KernelCost sgd_step(float*, const float*, float*, int64_t n, float, float momentum,
                    float weight_decay, bool, bool first_step);
KernelCost adamw_step(float*, const float*, float*, float*, int64_t n, float, float, float,
                      float, float, int64_t);
// rows
KernelCost gather_rows(const uint32_t*, const int32_t*, uint32_t*, int64_t rows, int64_t cols);
KernelCost gather_columns(const uint32_t*, const int32_t*, uint32_t*, int64_t rows,
                          int64_t src_cols, int64_t dst_cols);
KernelCost column_affine(const float*, const float*, const float*, float*, int64_t rows,
                         int64_t cols);
// normalize
KernelCost l2_normalize_rows_forward(const float*, float*, float*, int64_t rows, int64_t cols,
                                     float);
KernelCost l2_normalize_rows_backward(const float*, const float*, const float*, float*,
                                      int64_t rows, int64_t cols, float);
// conv
KernelCost conv2d_forward(const float*, const float*, const float* bias, float*,
                          const ConvShape& s);
KernelCost conv2d_backward_data(const float*, const float*, float*, const ConvShape& s);
KernelCost conv2d_backward_weight(const float*, const float*, float*, const ConvShape& s);
KernelCost conv2d_backward_bias(const float*, float*, const ConvShape& s);
// pool
KernelCost max_pool2d_forward(const float*, float*, int32_t*, const PoolShape& s);
KernelCost max_pool2d_backward(const float*, const int32_t*, float*, const PoolShape& s);
KernelCost avg_pool2d_forward(const float*, float*, const PoolShape& s);
KernelCost avg_pool2d_backward(const float*, float*, const PoolShape& s);
KernelCost global_avg_pool_forward(const float*, float*, int64_t planes, int64_t plane_size);
KernelCost global_avg_pool_backward(const float*, float*, int64_t planes, int64_t plane_size);
// norm
KernelCost batch_norm_statistics(const float*, float*, float*, float* running_mean, float*,
                                 int64_t n, int64_t c, int64_t hw, float, float);
KernelCost batch_norm_inverse_std(const float*, float*, int64_t c, float);
KernelCost batch_norm_apply(const float*, const float*, const float*, const float*,
                            const float*, float*, int64_t n, int64_t c, int64_t hw);
KernelCost batch_norm_backward_reduce(const float*, const float*, const float*, const float*,
                                      float*, float*, int64_t n, int64_t c, int64_t hw);
KernelCost batch_norm_backward_input(const float*, const float*, const float*, const float*,
                                     const float*, const float*, const float*, float*,
                                     int64_t n, int64_t c, int64_t hw, bool batch_statistics);
KernelCost layer_norm_forward(const float*, const float*, const float*, float*, float*, float*,
                              int64_t rows, int64_t d, float);
KernelCost layer_norm_backward(const float*, const float*, const float*, const float*,
                               const float*, float* dx, float* dweight, float* dbias,
                               int64_t rows, int64_t d);
// dropout
KernelCost dropout_apply(const float*, float*, int64_t n, uint64_t, uint64_t, float);
// sequence
KernelCost patchify_forward(const float*, float*, int64_t batch, int64_t channels,
                            int64_t height, int64_t width, int64_t patch);
KernelCost patchify_backward(const float*, float*, int64_t batch, int64_t channels,
                             int64_t height, int64_t width, int64_t patch);
KernelCost prepend_token_forward(const float*, const float*, float*, int64_t batch, int64_t seq,
                                 int64_t dim);
KernelCost prepend_token_backward(const float*, float* grad_x, float* grad_token, int64_t batch,
                                  int64_t seq, int64_t dim);
KernelCost select_token_forward(const float*, float*, int64_t batch, int64_t seq, int64_t dim,
                                int64_t);
KernelCost select_token_backward(const float*, float*, int64_t batch, int64_t seq, int64_t dim,
                                 int64_t);
// attention
KernelCost attention_forward(const float*, float*, float*, int64_t batch, int64_t seq,
                             int64_t heads, int64_t head_dim);
KernelCost attention_backward(const float*, const float*, const float*, const float*, float*,
                              int64_t batch, int64_t seq, int64_t heads, int64_t head_dim);
// augment
KernelCost random_crop_flip(const float*, float*, int64_t n, int64_t c, int64_t h, int64_t w,
                            int64_t padding, bool flip, uint64_t);
// spectrum (LAPACK / cuSOLVER): the textbook operation counts of the dense factorisations
KernelCost singular_values(const float*, int64_t rows, int64_t cols, bool subtract_mean_row,
                           double*);
KernelCost symmetric_eigen(const double*, int64_t d, double*, double* eigenvectors);

}  // namespace kernel_cost
}  // namespace kelvin
