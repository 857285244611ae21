// Shared plumbing for kelvin's .cu files: error-checking macros, the stream every kernel runs
// on, the cuBLAS/cuSOLVER handles, and launch-geometry helpers. Internal: only .cu files
// include it (it needs the CUDA headers); everything else sees kernels/*.h.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <cstdint>

#include "kernels/error.h"
#include "kernels/cuda_runtime.h"

namespace kelvin::cuda {

// ---- errors -------------------------------------------------------------------------------
namespace detail {
// Throws kelvin::Error("<library> error at <file>:<line>: <call>: <reason>").
[[noreturn]] void throw_error(const char* library, const char* call, const char* reason,
                              const char* file, int line);
const char* cusolver_status_string(cusolverStatus_t status);
}  // namespace detail

}  // namespace kelvin::cuda

// Throws (detail::throw_error) when a library call returns anything but `success`, with
// `reason(status)` as the library's own words; `text` is the call as written. One shape for every
// library: CUDA, cuBLAS, cuSOLVER here, cuDNN (conv_cudnn.cu) and NCCL (nccl.cu).
#define KELVIN_LIBRARY_CHECK(library, text, call, success, reason)                              \
    do {                                                                                        \
        const auto kelvin_status_ = (call);                                                     \
        if (kelvin_status_ != (success))                                                        \
            ::kelvin::cuda::detail::throw_error(library, text, reason(kelvin_status_), __FILE__, \
                                                __LINE__);                                      \
    } while (0)

#define CUDA_CHECK(call) KELVIN_LIBRARY_CHECK("CUDA", #call, call, cudaSuccess, cudaGetErrorString)
#define CUBLAS_CHECK(call)                                                                      \
    KELVIN_LIBRARY_CHECK("cuBLAS", #call, call, CUBLAS_STATUS_SUCCESS, cublasGetStatusString)
#define CUSOLVER_CHECK(call)                                                                    \
    KELVIN_LIBRARY_CHECK("cuSOLVER", #call, call, CUSOLVER_STATUS_SUCCESS,                     \
                         ::kelvin::cuda::detail::cusolver_status_string)

// After every kernel launch. A bad launch configuration is reported at once; a fault inside the
// kernel only surfaces at the next synchronizing call, so debug builds (no NDEBUG) synchronize
// here to blame the right kernel. In a release build, CUDA_LAUNCH_BLOCKING=1 does the same.
#ifdef NDEBUG
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
#else
#define CUDA_CHECK_LAUNCH()                                                                     \
    do {                                                                                        \
        CUDA_CHECK(cudaGetLastError());                                                         \
        CUDA_CHECK(cudaStreamSynchronize(::kelvin::cuda::current_stream()));                    \
    } while (0)
#endif

namespace kelvin::cuda {

// ---- stream and library handles --------------------------------------------------------------
// All kelvin GPU work, from every host thread, goes on the legacy default stream. One stream
// serializes everything, which is what makes the caching allocator safe without per-stream
// bookkeeping: a block released while a kernel still reads it can only be handed to work that is
// queued after that kernel. (CMake must not pass --default-stream per-thread.)
inline cudaStream_t current_stream() { return nullptr; }

// One handle per host thread (cuBLAS handles must not be configured from two threads at once),
// created on first use, bound to current_stream(), default math (no TF32: results must match
// the CPU to 1e-4). Never destroyed: at process exit the CUDA runtime may already be gone.
cublasHandle_t cublas_handle();
cusolverDnHandle_t cusolver_handle();

// ---- launch geometry ----------------------------------------------------------------------
constexpr int kBlockSize = 256;
// Grid-stride loops cover any n with at most this many blocks (about 15 blocks per SM on an
// H200). A constant rather than a function of the device so that reductions, whose summation
// order follows the grid, give the same bits on every GPU.
constexpr int64_t kMaxBlocks = 2048;

// Blocks for n work items of `per_block` items each; at least 1, at most kMaxBlocks. Callers
// return early when n == 0 (a zero-sized grid is a launch error).
inline unsigned grid_size(int64_t n, int64_t per_block = kBlockSize) {
    int64_t blocks = (n + per_block - 1) / per_block;
    if (blocks < 1) blocks = 1;
    if (blocks > kMaxBlocks) blocks = kMaxBlocks;
    return static_cast<unsigned>(blocks);
}

// ---- warp reductions --------------------------------------------------------------------
constexpr unsigned kFullWarp = 0xffffffffu;

// Sum of v over the warp's 32 lanes, returned to every lane. The butterfly order is fixed, so
// the result is deterministic. All 32 lanes must call it.
template <typename T>
__device__ inline T warp_sum(T v) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullWarp, v, offset);
    return v;
}

// 64-bit indices: tensors may hold more than 2^31 elements.
__device__ inline int64_t global_thread_index() {
    return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t grid_stride() {
    return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// ---- scratch memory -----------------------------------------------------------------------
// Temporary device memory for a multi-pass kernel, from the caching allocator. Releasing it as
// soon as the launches are queued is safe: all work runs on one stream, so whoever gets the
// block next is queued after the kernels that still use it.
class ScratchBuffer {
public:
    explicit ScratchBuffer(size_t bytes) : bytes_(bytes), data_(allocate(bytes)) {}
    ~ScratchBuffer() { release(data_, bytes_); }
    ScratchBuffer(const ScratchBuffer&) = delete;
    ScratchBuffer& operator=(const ScratchBuffer&) = delete;
    template <typename T>
    T* as() const { return static_cast<T*>(data_); }

private:
    size_t bytes_;
    void* data_;
};

}  // namespace kelvin::cuda
