// Which implementation runs convolutions on a CUDA device: kelvin's own implicit-GEMM kernels
// (the default) or cuDNN, the vendor reference (`--conv-backend kelvin|cudnn` on train and
// bench). The CPU always runs kelvin's kernels. cuDNN is available only in builds where it was
// found (KELVIN_CUDNN=1); choosing it elsewhere is an error that says so.
#pragma once

#include <string>

#include "engine/device.h"
#include "engine/dispatch.h"
#include "kernels/conv_cudnn.h"

namespace kelvin {

enum class ConvBackend { Kelvin, Cudnn };

ConvBackend conv_backend();
// Parses "kelvin" or "cudnn" for `device`; throws, naming the option, on another name, on cudnn
// for the CPU and on cudnn in a build without cuDNN.
void set_conv_backend(const std::string& name, Device device);
constexpr bool cudnn_built() { return KELVIN_CUDNN != 0; }

namespace detail {
[[noreturn]] void no_cudnn_backend();
}

}  // namespace kelvin

#if KELVIN_CUDNN
#define KELVIN_CUDNN_CALL(fn, ...) ::kelvin::cudnn::fn(__VA_ARGS__)
#else
#define KELVIN_CUDNN_CALL(fn, ...) ::kelvin::detail::no_cudnn_backend()
#endif

// A convolution product: through cuDNN when it is the CUDA backend chosen (a "kernel" event named
// cudnn_<fn>, with the same cost model), else KELVIN_DISPATCH.
#define KELVIN_CONV_DISPATCH(device, fn, ...)                                                \
    do {                                                                                     \
        const ::kelvin::Device kelvin_conv_device_ = (device);                               \
        if (kelvin_conv_device_ == ::kelvin::Device::CUDA &&                                 \
            ::kelvin::conv_backend() == ::kelvin::ConvBackend::Cudnn) {                      \
            ::kelvin::trace::Scope kelvin_kernel_scope_("cudnn_" #fn, "kernel",              \
                                                        kelvin_conv_device_);                \
            if (kelvin_kernel_scope_.active())                                               \
                kelvin_kernel_scope_.set_cost(::kelvin::kernel_cost::fn(__VA_ARGS__));       \
            KELVIN_CUDNN_CALL(fn, __VA_ARGS__);                                              \
        } else {                                                                             \
            KELVIN_DISPATCH(kelvin_conv_device_, fn, __VA_ARGS__);                           \
        }                                                                                    \
    } while (0)
