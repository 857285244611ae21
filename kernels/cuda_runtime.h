// The CUDA runtime services kelvin needs, behind plain C++ declarations so that code compiled
// without nvcc can include this header. Defined in kernels/cuda/runtime.cu; only linked when
// the CUDA backend is built (KELVIN_CUDA=1). Callers guard with KELVIN_CUDA or cuda_built().
#pragma once

#include <cstddef>

namespace kelvin::cuda {

int device_count();                 // 0 when no device or no driver answers
const char* device_name();          // of the current device, e.g. "NVIDIA H200"
// Caching allocator: freed blocks are kept in per-size free lists and reused, so a training
// loop with fixed shapes stops calling cudaMalloc after its first step.
void* allocate(size_t bytes);
void release(void* ptr, size_t bytes);
void empty_cache();                 // returns cached blocks to the driver
size_t cached_bytes();              // held in free lists
size_t malloc_calls();              // how many times cudaMalloc ran (tests use it)

void memcpy_host_to_device(void* dst, const void* src, size_t bytes);
void memcpy_device_to_host(void* dst, const void* src, size_t bytes);
void memcpy_device_to_device(void* dst, const void* src, size_t bytes);
void memset_zero(void* dst, size_t bytes);
void synchronize();

}  // namespace kelvin::cuda

namespace kelvin::cuda {
// Timing events for the tracer (engine/trace.cpp): recorded on kelvin's stream.
void* event_record();                               // creates and records an event
float event_elapsed_ms(void* start, void* end);     // waits for `end`; destroys neither
void event_destroy(void* event);
}  // namespace kelvin::cuda
