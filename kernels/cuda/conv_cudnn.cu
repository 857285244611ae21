// kernels/conv_cudnn.h: convolution through cuDNN's legacy API, for builds where cuDNN was found.
#if KELVIN_CUDNN
#include "kernels/conv_cudnn.h"

#include <cudnn.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "kernels/cuda/context.cuh"

#define CUDNN_CHECK(call)                                                                     \
    KELVIN_LIBRARY_CHECK("cuDNN", #call, call, CUDNN_STATUS_SUCCESS, cudnnGetErrorString)

namespace kelvin::cudnn {

namespace {

// One handle per host thread, bound to kelvin's stream; never destroyed (see cublas_handle).
cudnnHandle_t handle() {
    thread_local cudnnHandle_t h = [] {
        cudnnHandle_t created = nullptr;
        CUDNN_CHECK(cudnnCreate(&created));
        CUDNN_CHECK(cudnnSetStream(created, cuda::current_stream()));
        return created;
    }();
    return h;
}

int to_int(int64_t v, const char* what) {
    KELVIN_CHECK(v >= 0 && v <= INT32_MAX, std::string("cudnn conv2d: ") + what +
                                               " does not fit in 32 bits: " + std::to_string(v));
    return int(v);
}

// The descriptors of one convolution shape: x, filter, y (NCHW float) and the convolution.
struct Descriptors {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;

    explicit Descriptors(const ConvShape& s) {
        CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
        CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
        CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
        CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
        CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
        const int n = to_int(s.batch, "batch"), c = to_int(s.in_channels, "channels"),
                  o = to_int(s.out_channels, "out channels");
        CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c,
                                               to_int(s.in_h, "in_h"), to_int(s.in_w, "in_w")));
        CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, o, c,
                                               to_int(s.kernel_h, "kernel_h"),
                                               to_int(s.kernel_w, "kernel_w")));
        const int pad = to_int(s.padding, "padding"), stride = to_int(s.stride, "stride");
        CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, pad, pad, stride, stride, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        CUDNN_CHECK(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH));  // no TF32
        int dims[4];
        CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv, x, w, &dims[0], &dims[1],
                                                          &dims[2], &dims[3]));
        KELVIN_CHECK(dims[0] == n && dims[1] == o && dims[2] == s.out_h && dims[3] == s.out_w,
                     "cudnn conv2d: cuDNN's output " + std::to_string(dims[2]) + "x" +
                         std::to_string(dims[3]) + " differs from kelvin's " +
                         std::to_string(s.out_h) + "x" + std::to_string(s.out_w));
        CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, o,
                                               dims[2], dims[3]));
        CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, o, 1, 1));
    }
};

enum class Product { Forward, BackwardData, BackwardFilter };

// An algorithm and its workspace, chosen once per (product, shape).
struct Plan {
    Descriptors* d;  // owned by the cache, never freed (like the handles)
    int algo;
    size_t workspace;
};

template <typename Perf, typename Query>
Perf first_success(Query query, const char* product) {
    Perf results[16];
    int returned = 0;
    CUDNN_CHECK(query(16, &returned, results));
    for (int i = 0; i < returned; ++i)
        if (results[i].status == CUDNN_STATUS_SUCCESS) return results[i];
    throw Error(std::string("cudnn conv2d: cuDNN offers no algorithm for this ") + product);
}

Plan choose(Product product, const ConvShape& s) {
    Plan plan{new Descriptors(s), 0, 0};
    Descriptors& d = *plan.d;
    cudnnHandle_t h = handle();
    if (product == Product::Forward) {
        auto perf = first_success<cudnnConvolutionFwdAlgoPerf_t>(
            [&](int n, int* got, cudnnConvolutionFwdAlgoPerf_t* r) {
                return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, n, got, r);
            }, "forward");
        plan.algo = perf.algo;
        CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, perf.algo,
                                                            &plan.workspace));
    } else if (product == Product::BackwardData) {
        auto perf = first_success<cudnnConvolutionBwdDataAlgoPerf_t>(
            [&](int n, int* got, cudnnConvolutionBwdDataAlgoPerf_t* r) {
                return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, n,
                                                                   got, r);
            }, "backward data");
        plan.algo = perf.algo;
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x,
                                                                 perf.algo, &plan.workspace));
    } else {
        auto perf = first_success<cudnnConvolutionBwdFilterAlgoPerf_t>(
            [&](int n, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* r) {
                return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, n,
                                                                     got, r);
            }, "backward filter");
        plan.algo = perf.algo;
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w,
                                                                   perf.algo, &plan.workspace));
    }
    return plan;
}

using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t>;
std::mutex g_mutex;
std::map<Key, Plan>& plans() {
    static auto* p = new std::map<Key, Plan>();
    return *p;
}

const Plan& plan_for(Product product, const ConvShape& s) {
    const Key key{int(product), s.batch, s.in_channels, s.in_h, s.in_w, s.out_channels,
                  s.kernel_h, s.kernel_w, s.stride, s.padding};
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = plans().find(key);
    if (it == plans().end()) it = plans().emplace(key, choose(product, s)).first;
    return it->second;
}

// A workspace from kelvin's caching allocator for the duration of one call.
struct Workspace {
    void* ptr = nullptr;
    size_t bytes;
    explicit Workspace(size_t n) : bytes(n) {
        if (bytes) ptr = cuda::allocate(bytes);
    }
    ~Workspace() {
        if (ptr) cuda::release(ptr, bytes);
    }
};

const float kOne = 1.0f, kZero = 0.0f;

}  // namespace

void conv2d_forward(const float* x, const float* weight, const float* bias, float* y,
                    const ConvShape& s) {
    const Plan& p = plan_for(Product::Forward, s);
    Workspace ws(p.workspace);
    CUDNN_CHECK(cudnnConvolutionForward(handle(), &kOne, p.d->x, x, p.d->w, weight, p.d->conv,
                                        cudnnConvolutionFwdAlgo_t(p.algo), ws.ptr, ws.bytes,
                                        &kZero, p.d->y, y));
    if (bias) CUDNN_CHECK(cudnnAddTensor(handle(), &kOne, p.d->bias, bias, &kOne, p.d->y, y));
}

void conv2d_backward_data(const float* dy, const float* weight, float* dx, const ConvShape& s) {
    const Plan& p = plan_for(Product::BackwardData, s);
    Workspace ws(p.workspace);
    CUDNN_CHECK(cudnnConvolutionBackwardData(handle(), &kOne, p.d->w, weight, p.d->y, dy,
                                             p.d->conv, cudnnConvolutionBwdDataAlgo_t(p.algo),
                                             ws.ptr, ws.bytes, &kZero, p.d->x, dx));
}

void conv2d_backward_weight(const float* x, const float* dy, float* dweight, const ConvShape& s) {
    const Plan& p = plan_for(Product::BackwardFilter, s);
    Workspace ws(p.workspace);
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle(), &kOne, p.d->x, x, p.d->y, dy, p.d->conv,
                                               cudnnConvolutionBwdFilterAlgo_t(p.algo), ws.ptr,
                                               ws.bytes, &kZero, p.d->w, dweight));
}

int cached_plans() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return int(plans().size());
}

}  // namespace kelvin::cudnn
#endif
