#include "engine/storage.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <cstring>
#include <string>

#include "engine/dispatch.h"
#include "engine/memory_limit.h"
#include "kernels/cuda_runtime.h"

namespace kelvin {

namespace {

// Host buffers of 64 KiB and more are cached by size and reused: a training step allocates the
// same activation and gradient sizes every time, and fresh large allocations would come from
// mmap with a page fault on every first touch (several ms per step for a 6x1024 MLP).
class HostBufferCache {
public:
    static constexpr size_t kMinCachedBytes = 64 << 10;
    static constexpr size_t kMaxCachedBytes = size_t(2) << 30;

    void* allocate(size_t bytes) {
        if (bytes >= kMinCachedBytes) {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = free_.find(bytes);
            if (it != free_.end()) {
                void* p = it->second;
                free_.erase(it);
                cached_ -= bytes;
                return p;
            }
        }
        void* p = std::aligned_alloc(kHostAlignment, bytes);
        if (!p)
            throw Error("out of host memory: cannot allocate " + std::to_string(bytes) + " bytes (" +
                        format_bytes(bytes) + ") for a tensor");
        return p;
    }

    void release(void* p, size_t bytes) {
        if (bytes >= kMinCachedBytes) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (cached_ + bytes <= kMaxCachedBytes) {
                free_.emplace(bytes, p);
                cached_ += bytes;
                return;
            }
        }
        std::free(p);
    }

    ~HostBufferCache() {
        for (auto& [bytes, p] : free_) std::free(p);
    }

private:
    std::mutex mutex_;
    std::multimap<size_t, void*> free_;
    size_t cached_ = 0;
};

HostBufferCache& host_cache() {
    static HostBufferCache* cache = new HostBufferCache();  // never destroyed: outlives statics
    return *cache;
}

std::atomic<size_t> g_live_host_bytes{0};

size_t rounded_host_bytes(size_t bytes) {
    return (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
}
}  // namespace

size_t host_storage_bytes() { return g_live_host_bytes.load(); }

bool cuda_built() { return KELVIN_CUDA != 0; }

bool cuda_available() {
#if KELVIN_CUDA
    return cuda::device_count() > 0;
#else
    return false;
#endif
}

void synchronize(Device device) {
#if KELVIN_CUDA
    if (device == Device::CUDA) cuda::synchronize();
#else
    (void)device;
#endif
}

Device parse_device(const std::string& name) {
    if (name == "cpu") return Device::CPU;
    if (name == "cuda" || name == "gpu") return Device::CUDA;
    throw Error("unknown device '" + name + "': expected cpu or cuda");
}

Storage::Storage(size_t nbytes, Device dev) : bytes(nbytes), device(dev) {
    if (bytes == 0) return;
    if (device == Device::CPU) {
        data = host_cache().allocate(rounded_host_bytes(bytes));
        g_live_host_bytes += bytes;
    } else {
#if KELVIN_CUDA
        data = cuda::allocate(bytes);
#else
        detail::no_cuda_backend();
#endif
    }
}

Storage::~Storage() {
    if (!data) return;
    if (device == Device::CPU) {
        host_cache().release(data, rounded_host_bytes(bytes));
        g_live_host_bytes -= bytes;
    } else {
#if KELVIN_CUDA
        cuda::release(data, bytes);
#endif
    }
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
    if (bytes == 0) return;
    if (dst_device == Device::CPU && src_device == Device::CPU) {
        std::memcpy(dst, src, bytes);
        return;
    }
#if KELVIN_CUDA
    if (dst_device == Device::CUDA && src_device == Device::CPU)
        cuda::memcpy_host_to_device(dst, src, bytes);
    else if (dst_device == Device::CPU && src_device == Device::CUDA)
        cuda::memcpy_device_to_host(dst, src, bytes);
    else
        cuda::memcpy_device_to_device(dst, src, bytes);
#else
    detail::no_cuda_backend();
#endif
}

}  // namespace kelvin
