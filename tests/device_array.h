// A typed device buffer for kernel-level CUDA tests: filled from the host, or poisoned with
// 0xFF bytes (NaN for floats, -1 for int32) so that an element a kernel forgets to write cannot
// pass a comparison. Only meaningful in builds with the CUDA backend.
#pragma once

#include <cstring>
#include <utility>
#include <vector>

#include "kernels/cuda_runtime.h"

namespace kelvin::testing {

// A device copy of a host vector; released (to the caching allocator) on destruction.
template <typename T>
class DeviceArray {
public:
    explicit DeviceArray(const std::vector<T>& host)
        : size_(host.size()), data_(static_cast<T*>(::kelvin::cuda::allocate(bytes()))) {
        ::kelvin::cuda::memcpy_host_to_device(data_, host.data(), bytes());
    }
    // Every byte 0xFF: NaN for floats, -1 for int32.
    static DeviceArray poisoned(size_t size) {
        std::vector<T> host(size);
        if (size > 0) std::memset(static_cast<void*>(host.data()), 0xFF, size * sizeof(T));
        return DeviceArray(host);
    }
    DeviceArray(DeviceArray&& other) noexcept : size_(other.size_), data_(other.data_) {
        other.data_ = nullptr;
    }
    DeviceArray& operator=(DeviceArray&& other) noexcept {  // the old block goes with `other`
        std::swap(size_, other.size_);
        std::swap(data_, other.data_);
        return *this;
    }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() { ::kelvin::cuda::release(data_, bytes()); }

    T* get() const { return data_; }
    std::vector<T> to_host() const {
        std::vector<T> host(size_);
        ::kelvin::cuda::memcpy_device_to_host(host.data(), data_, bytes());
        return host;
    }

private:
    size_t bytes() const { return size_ * sizeof(T); }
    size_t size_;
    T* data_;
};

}  // namespace kelvin::testing
