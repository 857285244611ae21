// kelvin's CUDA emulator, for testing only: the subset of the CUDA language and runtime that
// kernels/cuda/*.cu use, implemented on the host so that those files, unchanged but for their
// `kernel<<<grid, block, shared, stream>>>(args)` launches (rewritten by rewrite_launches.cpp),
// compile with g++ and run on a machine without a GPU.
//
// What it models: every thread of a block is a fiber with its own stack, run on one host thread;
// __syncthreads() waits until every thread of the block that has not exited reaches it, a warp
// shuffle until every lane of the warp does (and fails loudly when a lane has exited or waits at
// a different barrier: divergent barriers deadlock or misbehave on a real GPU too). Blocks run
// one after another, so __shared__ arrays are function statics. "Device" memory is host memory.
// What it cannot model: timing, concurrency between blocks and streams (so no race shows),
// the GPU's own float rounding (nvcc contracts a*b+c into FMAs where g++ may not), and pointers
// that a real kernel could not dereference (host memory handed to a kernel works here).
// See docs/KERNELS.md, "Testing CUDA code without a GPU".
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- the CUDA language ---------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

// The built-in variables: set by the scheduler before it resumes a thread.
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
constexpr int warpSize = 32;

void __syncthreads();

using std::isfinite;
using std::isinf;
using std::isnan;
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __fmul_rn(float a, float b) {
    volatile float product = a * b;  // never contracted into an FMA
    return product;
}
// CUDA's min/max take mixed integer types (the result has the common type); on floats they are
// fminf/fmaxf, which return the other argument when one is NaN.
template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) {
    using T = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<T>)
        return std::fmin(static_cast<T>(a), static_cast<T>(b));
    else
        return b < a ? b : a;
}
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) {
    using T = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<T>)
        return std::fmax(static_cast<T>(a), static_cast<T>(b));
    else
        return a < b ? b : a;
}

namespace kelvin_emu {
enum class ShuffleKind { Xor, Down };
// Waits until every lane of the calling thread's warp has called it (a lane that has exited is
// an error: kelvin's shuffles are full-warp), then returns the 8-byte value that lane `source`
// (computed per lane from kind and parameter) passed in.
uint64_t shuffle(uint64_t value, ShuffleKind kind, int parameter);
}  // namespace kelvin_emu

template <typename T>
T shuffle_as(T value, kelvin_emu::ShuffleKind kind, int parameter) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a wide type");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = kelvin_emu::shuffle(bits, kind, parameter);
    std::memcpy(&value, &bits, sizeof(T));
    return value;
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
    return shuffle_as(value, kelvin_emu::ShuffleKind::Xor, lane_mask);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
    return shuffle_as(value, kelvin_emu::ShuffleKind::Down, static_cast<int>(delta));
}

// Atomics: threads run one at a time, so plain read-modify-writes are atomic here.
template <typename T>
T atomicOr(T* address, T value) {
    T old = *address;
    *address = old | value;
    return old;
}
template <typename T>
T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
template <typename T>
T atomicMax(T* address, T value) {
    T old = *address;
    *address = old < value ? value : old;
    return old;
}

// ---- the runtime API -----------------------------------------------------------------------
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;
struct CUevent_st;
using cudaEvent_t = CUevent_st*;

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
struct cudaDeviceProp {
    char name[256];
};
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* props, int device);
cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
    return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);
// Streams and device selection, for NCCL's stream of its own (kernels/cuda/nccl.cu). Work is
// synchronous on the host, so every stream is already ordered with every other.
constexpr unsigned cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDisableTiming = 2;
cudaError_t cudaSetDevice(int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);

// ---- kernel launches -------------------------------------------------------------------------
namespace kelvin_emu {

// A body called once per thread of every block of the grid; launch errors (a block of more
// than 1024 threads, a grid dimension of 0 or past CUDA's limits) are kept for
// cudaGetLastError, and so is a barrier misuse found while running.
class ThreadBody {
public:
    virtual void run() = 0;

protected:
    ~ThreadBody() = default;
};
void run_grid(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, ThreadBody& body);

// What `kernel<<<grid, block, shared, stream>>>(args...)` becomes:
// `kelvin_emu::launch("kernel", grid, block, shared, stream)(
//      [](auto&... a) { kernel(a...); }, args...)`: the lambda lets a kernel template deduce its
// arguments, as a launch does. The arguments are copied once, as a launch copies them, and
// every thread's call copies them again into the kernel's parameters.
class Launch {
public:
    Launch(const char* name, dim3 grid, dim3 block, size_t shared)
        : name_(name), grid_(grid), block_(block), shared_(shared) {}

    template <typename Kernel, typename... Args>
    void operator()(Kernel kernel, Args&&... args) const {
        struct Body final : ThreadBody {
            Kernel kernel;
            std::tuple<std::decay_t<Args>...> params;
            Body(Kernel k, Args&&... a) : kernel(k), params(std::forward<Args>(a)...) {}
            void run() override { std::apply(kernel, params); }
        } body(kernel, std::forward<Args>(args)...);
        run_grid(name_, grid_, block_, shared_, body);
    }

private:
    const char* name_;
    dim3 grid_, block_;
    size_t shared_;
};

inline Launch launch(const char* name, dim3 grid, dim3 block, size_t shared = 0,
                     cudaStream_t stream = nullptr) {
    return Launch(name, grid, block, shared);
}

// Kernels launched and threads run since the process started.
size_t launches();
uint64_t threads_run();
// Forgets a sticky launch failure (a GPU would need a new process); for the emulator's tests.
void clear_launch_failure();

}  // namespace kelvin_emu
