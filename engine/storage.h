// Owned memory on one device. CPU buffers are 64-byte aligned (a cache line, and what AVX-512
// loads like); CUDA buffers come from a caching allocator so the training loop never calls
// cudaMalloc or cudaFree once its shapes have been seen.
#pragma once

#include <cstddef>

#include "engine/device.h"

namespace kelvin {

// Every host buffer starts on a cache line (64 bytes): the CPU kernels' vector loads never split
// one. The benchmarks allocate their operands the same way (bench/conv_layer_shapes.h).
constexpr std::size_t kHostAlignment = 64;

struct Storage {
    void* data = nullptr;
    size_t bytes = 0;
    Device device = Device::CPU;

    Storage(size_t bytes, Device device);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
};

// Bytes of host memory held by live CPU storages (not counting freed buffers kept for reuse).
size_t host_storage_bytes();

// Copies `bytes` between any two devices (host<->device, device<->device, host<->host).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace kelvin
