// Calls the CPU or the CUDA kernel of the same name with the same raw-pointer arguments.
// Kernels live in kernels/cpu (namespace kelvin::cpu) and kernels/cuda (namespace kelvin::cuda)
// and are declared together in kernels/<family>.h. In a build without nvcc the CUDA branch
// throws a clear error instead of referring to functions that were never compiled.
#pragma once

#include "engine/device.h"
#include "engine/kernel_cost.h"
#include "engine/trace.h"

namespace kelvin::detail {
[[noreturn]] inline void no_cuda_backend() {
    throw Error("this build of kelvin has no CUDA backend (nvcc was not found at build time)");
}
}  // namespace kelvin::detail

#if KELVIN_CUDA
#define KELVIN_CUDA_KERNEL_CALL(fn, ...) ::kelvin::cuda::fn(__VA_ARGS__)
#else
#define KELVIN_CUDA_KERNEL_CALL(fn, ...) ::kelvin::detail::no_cuda_backend()
#endif

// Each call is one "kernel" event in a trace (engine/trace.h) named after the kernel, with the
// call's FLOPs and bytes from the cost model of the same name (engine/kernel_cost.h), which
// reads only the arguments' sizes; it runs only while tracing.
#define KELVIN_DISPATCH(device, fn, ...)                                             \
    do {                                                                             \
        const ::kelvin::Device kelvin_device_ = (device);                            \
        ::kelvin::trace::Scope kelvin_kernel_scope_(#fn, "kernel", kelvin_device_);  \
        if (kelvin_kernel_scope_.active())                                           \
            kelvin_kernel_scope_.set_cost(::kelvin::kernel_cost::fn(__VA_ARGS__));   \
        if (kelvin_device_ == ::kelvin::Device::CPU)                                 \
            ::kelvin::cpu::fn(__VA_ARGS__);                                          \
        else                                                                         \
            KELVIN_CUDA_KERNEL_CALL(fn, __VA_ARGS__);                                \
    } while (0)
