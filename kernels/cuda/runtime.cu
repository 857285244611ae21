// The CUDA runtime services of kernels/cuda_runtime.h: device discovery, the caching allocator,
// copies, and the per-thread library handles and error helpers of context.cuh.
#include "kernels/cuda_runtime.h"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

// ---- errors -------------------------------------------------------------------------------
namespace detail {

[[noreturn]] void throw_error(const char* library, const char* call, const char* reason,
                              const char* file, int line) {
    // CMake passes absolute paths; keep the part a reader can find in the repository.
    const char* short_file = std::strstr(file, "kernels/");
    if (!short_file) short_file = file;
    throw Error(std::string(library) + " error at " + short_file + ":" + std::to_string(line) +
                ": " + call + ": " + reason);
}

const char* cusolver_status_string(cusolverStatus_t status) {
    switch (status) {
        case CUSOLVER_STATUS_SUCCESS: return "success";
        case CUSOLVER_STATUS_NOT_INITIALIZED: return "not initialized";
        case CUSOLVER_STATUS_ALLOC_FAILED: return "allocation failed";
        case CUSOLVER_STATUS_INVALID_VALUE: return "invalid value";
        case CUSOLVER_STATUS_ARCH_MISMATCH: return "architecture mismatch";
        case CUSOLVER_STATUS_EXECUTION_FAILED: return "execution failed";
        case CUSOLVER_STATUS_INTERNAL_ERROR: return "internal error";
        case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED: return "matrix type not supported";
        case CUSOLVER_STATUS_NOT_SUPPORTED: return "not supported";
        default: return "unknown cuSOLVER status";
    }
}

}  // namespace detail

// ---- library handles ----------------------------------------------------------------------
cublasHandle_t cublas_handle() {
    thread_local cublasHandle_t handle = [] {
        cublasHandle_t h = nullptr;
        CUBLAS_CHECK(cublasCreate(&h));
        CUBLAS_CHECK(cublasSetStream(h, current_stream()));
        CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
        return h;
    }();
    return handle;
}

cusolverDnHandle_t cusolver_handle() {
    thread_local cusolverDnHandle_t handle = [] {
        cusolverDnHandle_t h = nullptr;
        CUSOLVER_CHECK(cusolverDnCreate(&h));
        CUSOLVER_CHECK(cusolverDnSetStream(h, current_stream()));
        return h;
    }();
    return handle;
}

// ---- devices ------------------------------------------------------------------------------
int device_count() {
    // Asked once: without a driver or a device the answer never changes during the process.
    static const int count = [] {
        int n = 0;
        if (cudaGetDeviceCount(&n) != cudaSuccess) {
            cudaGetLastError();  // clear the error so that later checks do not report it
            return 0;
        }
        return n;
    }();
    return count;
}

const char* device_name() {
    static const std::string name = [] {
        int device = 0;
        cudaDeviceProp props{};
        CUDA_CHECK(cudaGetDevice(&device));
        CUDA_CHECK(cudaGetDeviceProperties(&props, device));
        return std::string(props.name);
    }();
    return name.c_str();
}

// ---- caching allocator --------------------------------------------------------------------
namespace {

constexpr size_t kSmallRounding = 512;          // below 1 MiB: multiples of 512 bytes
constexpr size_t kLargeThreshold = size_t{1} << 20;

// The size class a request is served from; a block is reused only for its own class. Small
// requests round up to a multiple of 512 bytes. Larger ones get four classes per power of two,
// (p, 2p] rounded up to a multiple of p/4: at most 25% waste, and nearby sizes (a smaller last
// batch) share a class. Every block is its own cudaMalloc, so all are 256-byte aligned.
size_t size_class(size_t bytes) {
    if (bytes <= kLargeThreshold)
        return (bytes + kSmallRounding - 1) / kSmallRounding * kSmallRounding;
    int top_bit = 63 - __builtin_clzll(static_cast<unsigned long long>(bytes - 1));
    size_t step = (size_t{1} << top_bit) / 4;
    return (bytes + step - 1) / step * step;
}

std::string human_bytes(size_t bytes) {
    char text[32];
    if (bytes >= (size_t{1} << 30))
        std::snprintf(text, sizeof text, "%.2f GiB", bytes / double(size_t{1} << 30));
    else if (bytes >= (size_t{1} << 20))
        std::snprintf(text, sizeof text, "%.1f MiB", bytes / double(size_t{1} << 20));
    else
        std::snprintf(text, sizeof text, "%zu bytes", bytes);
    return text;
}

class CachingAllocator {
public:
    void* allocate(size_t bytes) {
        if (bytes == 0) return nullptr;
        size_t size = size_class(bytes);
        std::lock_guard<std::mutex> lock(mutex_);
        auto cached = free_blocks_.find(size);
        if (cached != free_blocks_.end() && !cached->second.empty()) {
            void* ptr = cached->second.back();
            cached->second.pop_back();
            cached_bytes_ -= size;
            live_blocks_.emplace(ptr, size);
            return ptr;
        }
        void* ptr = nullptr;
        cudaError_t status = cudaMalloc(&ptr, size);
        ++malloc_calls_;
        if (status == cudaErrorMemoryAllocation) {
            // The free lists may hold enough memory in other size classes: give it all back to
            // the driver and try once more.
            cudaGetLastError();
            empty_cache_locked();
            status = cudaMalloc(&ptr, size);
            ++malloc_calls_;
        }
        if (status != cudaSuccess) {
            cudaGetLastError();
            std::string message = "cuda: could not allocate " + std::to_string(bytes) +
                                  " bytes (" + human_bytes(size) + " after rounding): " +
                                  cudaGetErrorString(status);
            size_t free_bytes = 0, total_bytes = 0;
            if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
                message += "; the device has " + human_bytes(free_bytes) + " free of " +
                           human_bytes(total_bytes) + " (a smaller batch may fit)";
            else
                cudaGetLastError();
            throw Error(message);
        }
        live_blocks_.emplace(ptr, size);
        return ptr;
    }

    void release(void* ptr) {
        if (!ptr) return;
        std::lock_guard<std::mutex> lock(mutex_);
        auto live = live_blocks_.find(ptr);
        // Called from destructors, so this throw ends the process: a double free or a foreign
        // pointer would otherwise corrupt the free lists silently.
        if (live == live_blocks_.end())
            throw Error("cuda::release: pointer not from cuda::allocate, or released twice");
        size_t size = live->second;
        live_blocks_.erase(live);
        free_blocks_[size].push_back(ptr);
        cached_bytes_ += size;
    }

    void empty_cache() {
        std::lock_guard<std::mutex> lock(mutex_);
        empty_cache_locked();
    }

    size_t cached_bytes() {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_bytes_;
    }

    size_t malloc_calls() {
        std::lock_guard<std::mutex> lock(mutex_);
        return malloc_calls_;
    }

private:
    void empty_cache_locked() {
        // Cached blocks may still be read by queued kernels that ran before their release;
        // wait for them before the driver gets the memory back.
        if (cudaDeviceSynchronize() != cudaSuccess) cudaGetLastError();
        for (auto& [size, blocks] : free_blocks_)
            for (void* ptr : blocks)
                if (cudaFree(ptr) != cudaSuccess) cudaGetLastError();
        free_blocks_.clear();
        cached_bytes_ = 0;
    }

    std::mutex mutex_;
    std::unordered_map<size_t, std::vector<void*>> free_blocks_;  // size class -> blocks
    std::unordered_map<void*, size_t> live_blocks_;                // handed out -> size class
    size_t cached_bytes_ = 0;
    size_t malloc_calls_ = 0;
};

// Never destroyed: tensors in static storage release their memory during exit, and the CUDA
// runtime may be torn down before a static allocator's destructor would run.
CachingAllocator& allocator() {
    static CachingAllocator* instance = new CachingAllocator;
    return *instance;
}

}  // namespace

void* allocate(size_t bytes) { return allocator().allocate(bytes); }
void release(void* ptr, size_t /*bytes: the allocator remembers each block's size*/) {
    allocator().release(ptr);
}
void empty_cache() { allocator().empty_cache(); }
size_t cached_bytes() { return allocator().cached_bytes(); }
size_t malloc_calls() { return allocator().malloc_calls(); }

// ---- copies -------------------------------------------------------------------------------
// Queued on current_stream() so they are ordered with the kernels. Copies that touch host
// memory wait for completion: the caller may read the destination or free the source as soon
// as the call returns.
void memcpy_host_to_device(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, current_stream()));
    CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

void memcpy_device_to_host(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, current_stream()));
    CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

void memcpy_device_to_device(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, current_stream()));
}

void memset_zero(void* dst, size_t bytes) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, current_stream()));
}

void synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace kelvin::cuda
