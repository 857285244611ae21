// Host implementation of the emulator's cuDNN subset (include/cudnn.h): descriptors are plain
// structs, every call validates them as cuDNN would, and the convolutions run kelvin's CPU
// kernels (kernels/cpu), so a test through this path checks kelvin's cuDNN plumbing (shapes,
// layouts, which tensor goes where, workspaces) against the CPU reference.
#include <cudnn.h>

#include <atomic>

#include "kernels/conv.h"

struct cudnnContext {
    cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
    bool set = false;
    int n = 0, c = 0, h = 0, w = 0;
};
struct cudnnFilterStruct {
    bool set = false;
    int k = 0, c = 0, h = 0, w = 0;
};
struct cudnnConvolutionStruct {
    bool set = false;
    int pad = 0, stride = 1;
};

namespace {

std::atomic<long> g_calls{0};
// What the emulator asks for, so that kelvin's workspace plumbing is exercised.
constexpr size_t kWorkspaceBytes = 4096;

bool layout_ok(cudnnTensorFormat_t format, cudnnDataType_t type, int a, int b, int c, int d) {
    return format == CUDNN_TENSOR_NCHW && type == CUDNN_DATA_FLOAT && a > 0 && b > 0 && c > 0 &&
           d > 0;
}

// The kelvin shape of x (*) w, or false when the descriptors do not describe one convolution
// with output y.
bool shape_of(const cudnnTensorStruct* x, const cudnnFilterStruct* w,
              const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y,
              kelvin::ConvShape& s) {
    if (!x || !w || !conv || !y || !x->set || !w->set || !conv->set || !y->set) return false;
    if (x->c != w->c) return false;
    s.batch = x->n;
    s.in_channels = x->c;
    s.in_h = x->h;
    s.in_w = x->w;
    s.out_channels = w->k;
    s.kernel_h = w->h;
    s.kernel_w = w->w;
    s.stride = conv->stride;
    s.padding = conv->pad;
    if (s.in_h + 2 * s.padding < s.kernel_h || s.in_w + 2 * s.padding < s.kernel_w) return false;
    s = kelvin::with_output_size(s);
    return y->n == s.batch && y->c == s.out_channels && y->h == s.out_h && y->w == s.out_w;
}

bool is(const void* scalar, float value) {
    return scalar && *static_cast<const float*>(scalar) == value;
}

// kelvin passes alpha 1, beta 0 and a workspace of the size it was told.
cudnnStatus_t check_call(const void* alpha, const void* beta, const void* workspace,
                         size_t bytes) {
    if (!is(alpha, 1.0f) || !is(beta, 0.0f)) return CUDNN_STATUS_NOT_SUPPORTED;
    if (!workspace || bytes < kWorkspaceBytes) return CUDNN_STATUS_BAD_PARAM;
    ++g_calls;
    return CUDNN_STATUS_SUCCESS;
}

template <typename Perf>
cudnnStatus_t one_algorithm(int requested, int* returned, Perf* results) {
    if (requested < 1 || !returned || !results) return CUDNN_STATUS_BAD_PARAM;
    results[0] = Perf{};
    results[0].status = CUDNN_STATUS_SUCCESS;
    results[0].memory = kWorkspaceBytes;
    results[0].determinism = CUDNN_DETERMINISTIC;
    results[0].mathType = CUDNN_FMA_MATH;
    *returned = 1;
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace

long kelvin_emulated_cudnn_calls() { return g_calls; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
    switch (status) {
        case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
        case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
        case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
        case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    }
    return "unknown cuDNN status";
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
    *handle = new cudnnContext();
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUDNN_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* desc) {
    *desc = new cudnnTensorStruct();
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    if (!layout_ok(format, type, n, c, h, w)) return CUDNN_STATUS_NOT_SUPPORTED;
    *d = {true, n, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* desc) {
    *desc = new cudnnFilterStruct();
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    if (!layout_ok(format, type, k, c, h, w)) return CUDNN_STATUS_NOT_SUPPORTED;
    *d = {true, k, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* desc) {
    *desc = new cudnnConvolutionStruct();
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w,
                                              int u, int v, int dilation_h, int dilation_w,
                                              cudnnConvolutionMode_t mode,
                                              cudnnDataType_t compute_type) {
    if (!d || pad_h < 0 || u < 1) return CUDNN_STATUS_BAD_PARAM;
    // kelvin's convolutions: square padding and stride, no dilation, PyTorch's cross-correlation.
    if (pad_h != pad_w || u != v || dilation_h != 1 || dilation_w != 1 ||
        mode != CUDNN_CROSS_CORRELATION || compute_type != CUDNN_DATA_FLOAT)
        return CUDNN_STATUS_NOT_SUPPORTED;
    *d = {true, pad_h, u};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
    if (!d || !d->set) return CUDNN_STATUS_BAD_PARAM;
    return math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH ? CUDNN_STATUS_SUCCESS
                                                                : CUDNN_STATUS_NOT_SUPPORTED;
}
cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t conv,
                                                    const cudnnTensorDescriptor_t x,
                                                    const cudnnFilterDescriptor_t w, int* n,
                                                    int* c, int* h, int* wo) {
    if (!conv || !x || !w || !conv->set || !x->set || !w->set || x->c != w->c)
        return CUDNN_STATUS_BAD_PARAM;
    *n = x->n;
    *c = w->k;
    *h = (x->h + 2 * conv->pad - w->h) / conv->stride + 1;
    *wo = (x->w + 2 * conv->pad - w->w) / conv->stride + 1;
    return *h > 0 && *wo > 0 ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t w,
                                                     const cudnnConvolutionDescriptor_t conv,
                                                     const cudnnTensorDescriptor_t y, int requested,
                                                     int* returned,
                                                     cudnnConvolutionFwdAlgoPerf_t* results) {
    kelvin::ConvShape s;
    if (!shape_of(x, w, conv, y, s)) return CUDNN_STATUS_BAD_PARAM;
    return one_algorithm(requested, returned, results);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t, const cudnnFilterDescriptor_t w, const cudnnTensorDescriptor_t dy,
    const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t dx, int requested,
    int* returned, cudnnConvolutionBwdDataAlgoPerf_t* results) {
    kelvin::ConvShape s;
    if (!shape_of(dx, w, conv, dy, s)) return CUDNN_STATUS_BAD_PARAM;
    return one_algorithm(requested, returned, results);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t, const cudnnTensorDescriptor_t x, const cudnnTensorDescriptor_t dy,
    const cudnnConvolutionDescriptor_t conv, const cudnnFilterDescriptor_t dw, int requested,
    int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* results) {
    kelvin::ConvShape s;
    if (!shape_of(x, dw, conv, dy, s)) return CUDNN_STATUS_BAD_PARAM;
    return one_algorithm(requested, returned, results);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                      const cudnnFilterDescriptor_t w,
                                                      const cudnnConvolutionDescriptor_t conv,
                                                      const cudnnTensorDescriptor_t y,
                                                      cudnnConvolutionFwdAlgo_t, size_t* bytes) {
    kelvin::ConvShape s;
    if (!shape_of(x, w, conv, y, s)) return CUDNN_STATUS_BAD_PARAM;
    *bytes = kWorkspaceBytes;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t, const cudnnFilterDescriptor_t w, const cudnnTensorDescriptor_t dy,
    const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t dx,
    cudnnConvolutionBwdDataAlgo_t, size_t* bytes) {
    kelvin::ConvShape s;
    if (!shape_of(dx, w, conv, dy, s)) return CUDNN_STATUS_BAD_PARAM;
    *bytes = kWorkspaceBytes;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t, const cudnnTensorDescriptor_t x, const cudnnTensorDescriptor_t dy,
    const cudnnConvolutionDescriptor_t conv, const cudnnFilterDescriptor_t dw,
    cudnnConvolutionBwdFilterAlgo_t, size_t* bytes) {
    kelvin::ConvShape s;
    if (!shape_of(x, dw, conv, dy, s)) return CUDNN_STATUS_BAD_PARAM;
    *bytes = kWorkspaceBytes;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
                                      const cudnnTensorDescriptor_t x_desc, const void* x,
                                      const cudnnFilterDescriptor_t w_desc, const void* w,
                                      const cudnnConvolutionDescriptor_t conv,
                                      cudnnConvolutionFwdAlgo_t, void* workspace, size_t bytes,
                                      const void* beta, const cudnnTensorDescriptor_t y_desc,
                                      void* y) {
    kelvin::ConvShape s;
    if (!handle || !shape_of(x_desc, w_desc, conv, y_desc, s)) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t status = check_call(alpha, beta, workspace, bytes)) return status;
    kelvin::cpu::conv2d_forward(static_cast<const float*>(x), static_cast<const float*>(w),
                                nullptr, static_cast<float*>(y), s);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                           const cudnnFilterDescriptor_t w_desc, const void* w,
                                           const cudnnTensorDescriptor_t dy_desc, const void* dy,
                                           const cudnnConvolutionDescriptor_t conv,
                                           cudnnConvolutionBwdDataAlgo_t, void* workspace,
                                           size_t bytes, const void* beta,
                                           const cudnnTensorDescriptor_t dx_desc, void* dx) {
    kelvin::ConvShape s;
    if (!handle || !shape_of(dx_desc, w_desc, conv, dy_desc, s)) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t status = check_call(alpha, beta, workspace, bytes)) return status;
    kelvin::cpu::conv2d_backward_data(static_cast<const float*>(dy), static_cast<const float*>(w),
                                      static_cast<float*>(dx), s);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t x_desc, const void* x,
                                             const cudnnTensorDescriptor_t dy_desc, const void* dy,
                                             const cudnnConvolutionDescriptor_t conv,
                                             cudnnConvolutionBwdFilterAlgo_t, void* workspace,
                                             size_t bytes, const void* beta,
                                             const cudnnFilterDescriptor_t dw_desc, void* dw) {
    kelvin::ConvShape s;
    if (!handle || !shape_of(x_desc, dw_desc, conv, dy_desc, s)) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t status = check_call(alpha, beta, workspace, bytes)) return status;
    kelvin::cpu::conv2d_backward_weight(static_cast<const float*>(x), static_cast<const float*>(dy),
                                        static_cast<float*>(dw), s);
    return CUDNN_STATUS_SUCCESS;
}

// c += a for a bias a [1, C, 1, 1] broadcast over c [N, C, H, W]: the one use kelvin makes.
cudnnStatus_t cudnnAddTensor(cudnnHandle_t handle, const void* alpha,
                             const cudnnTensorDescriptor_t a_desc, const void* a, const void* beta,
                             const cudnnTensorDescriptor_t c_desc, void* c) {
    if (!handle || !a_desc || !c_desc || !a_desc->set || !c_desc->set) return CUDNN_STATUS_BAD_PARAM;
    if (a_desc->n != 1 || a_desc->c != c_desc->c || a_desc->h != 1 || a_desc->w != 1)
        return CUDNN_STATUS_BAD_PARAM;
    if (!is(alpha, 1.0f) || !is(beta, 1.0f)) return CUDNN_STATUS_NOT_SUPPORTED;
    const float* bias = static_cast<const float*>(a);
    float* out = static_cast<float*>(c);
    const long plane = long(c_desc->h) * c_desc->w;
    for (long b = 0; b < c_desc->n; ++b)
        for (long ch = 0; ch < c_desc->c; ++ch)
            for (long i = 0; i < plane; ++i) out[(b * c_desc->c + ch) * plane + i] += bias[ch];
    return CUDNN_STATUS_SUCCESS;
}
