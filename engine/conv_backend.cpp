#include "engine/conv_backend.h"

#include <atomic>

namespace kelvin {

namespace {
std::atomic<ConvBackend> g_backend{ConvBackend::Kelvin};
}

ConvBackend conv_backend() { return g_backend.load(std::memory_order_relaxed); }

void set_conv_backend(const std::string& name, Device device) {
    if (name == "kelvin") {
        g_backend = ConvBackend::Kelvin;
        return;
    }
    KELVIN_CHECK(name == "cudnn",
                 "--conv-backend: unknown backend '" + name + "': expected kelvin or cudnn");
    KELVIN_CHECK(device == Device::CUDA,
                 "--conv-backend cudnn runs convolutions on a CUDA device; add --device cuda "
                 "(the CPU always uses kelvin's kernels)");
    if (!cudnn_built()) detail::no_cudnn_backend();
    g_backend = ConvBackend::Cudnn;
}

namespace detail {
void no_cudnn_backend() {
    throw Error(
        "--conv-backend cudnn: this build of kelvin has no cuDNN (cudnn.h and libcudnn were not "
        "found beside the CUDA toolkit at build time); install cuDNN 9 and rebuild, or use "
        "--conv-backend kelvin");
}
}  // namespace detail

}  // namespace kelvin
