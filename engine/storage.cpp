#include "engine/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/dispatch.h"
#include "kernels/cuda_runtime.h"

namespace kelvin {

namespace {
constexpr size_t kHostAlignment = 64;
}  // namespace

bool cuda_built() { return KELVIN_CUDA != 0; }

bool cuda_available() {
#if KELVIN_CUDA
    return cuda::device_count() > 0;
#else
    return false;
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
        size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
        data = std::aligned_alloc(kHostAlignment, rounded);
        if (!data) throw std::bad_alloc();
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
        std::free(data);
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
