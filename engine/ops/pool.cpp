// Pooling ops on NCHW tensors: max_pool2d (the backward routes each gradient to its window's
// saved argmax), avg_pool2d (padding counts as zeros: PyTorch's count_include_pad=True) and
// global_avg_pool. Kernels: kernels/cpu/pool.cpp and kernels/cuda/pool.cu.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/pool.h"

namespace kelvin::ops {

namespace {

void check_nchw(const Tensor& x, const char* op) {
    check_f32(x, op);
    KELVIN_CHECK(x.ndim() == 4, std::string(op) + ": expected x [N, C, H, W], got " +
                                    x.describe());
}

PoolShape pool_shape(const Tensor& x, int kernel, int stride, int padding, const char* op) {
    check_nchw(x, op);
    KELVIN_CHECK(kernel >= 1 && stride >= 1 && padding >= 0,
                 std::string(op) + ": kernel and stride must be >= 1 and padding >= 0, got " +
                     "kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) +
                     ", padding " + std::to_string(padding));
    // PyTorch's rule; it also guarantees that every window holds at least one input element.
    KELVIN_CHECK(2 * padding <= kernel, std::string(op) + ": padding " +
                                            std::to_string(padding) +
                                            " is more than half the kernel " +
                                            std::to_string(kernel));
    PoolShape s;
    s.planes = x.size(0) * x.size(1);
    s.in_h = x.size(2);
    s.in_w = x.size(3);
    s.kernel = kernel;
    s.stride = stride;
    s.padding = padding;
    KELVIN_CHECK(s.in_h + 2 * padding >= kernel && s.in_w + 2 * padding >= kernel,
                 std::string(op) + ": kernel " + std::to_string(kernel) +
                     " is larger than the padded input of x " + x.describe());
    return with_output_size(s);
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
    KELVIN_TRACE_OP("max_pool2d", x.device());
    const PoolShape s = pool_shape(x, kernel, stride, padding, "max_pool2d");
    KELVIN_CHECK(s.in_h * s.in_w <= INT32_MAX,
                 "max_pool2d: a plane of " + x.describe() + " is too large for int32 indices");
    const Device device = x.device();
    const Shape in_shape = x.shape();
    const Shape out_shape = {x.size(0), x.size(1), s.out_h, s.out_w};
    Tensor y = Tensor::empty(out_shape, DType::F32, device);
    Tensor argmax = Tensor::empty(out_shape, DType::I32, device);
    KELVIN_DISPATCH(device, max_pool2d_forward, x.f32(), y.f32(), argmax.i32(), s);
    if (!needs_grad({&x})) return y;
    return record(y, "max_pool2d", {x}, [=](const Tensor& dy) {
        Tensor dx = Tensor::empty(in_shape, DType::F32, device);
        KELVIN_DISPATCH(device, max_pool2d_backward, dy.f32(), argmax.i32(), dx.f32(), s);
        return std::vector<Tensor>{dx};
    });
}

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding) {
    KELVIN_TRACE_OP("avg_pool2d", x.device());
    const PoolShape s = pool_shape(x, kernel, stride, padding, "avg_pool2d");
    const Device device = x.device();
    const Shape in_shape = x.shape();
    Tensor y = Tensor::empty({x.size(0), x.size(1), s.out_h, s.out_w}, DType::F32, device);
    KELVIN_DISPATCH(device, avg_pool2d_forward, x.f32(), y.f32(), s);
    return record(y, "avg_pool2d", {x}, [=](const Tensor& dy) {
        Tensor dx = Tensor::empty(in_shape, DType::F32, device);
        KELVIN_DISPATCH(device, avg_pool2d_backward, dy.f32(), dx.f32(), s);
        return std::vector<Tensor>{dx};
    });
}

Tensor global_avg_pool(const Tensor& x) {
    KELVIN_TRACE_OP("global_avg_pool", x.device());
    check_nchw(x, "global_avg_pool");
    const int64_t planes = x.size(0) * x.size(1), plane_size = x.size(2) * x.size(3);
    KELVIN_CHECK(plane_size > 0, "global_avg_pool: empty planes in " + x.describe());
    const Device device = x.device();
    const Shape in_shape = x.shape();
    Tensor y = Tensor::empty({x.size(0), x.size(1)}, DType::F32, device);
    KELVIN_DISPATCH(device, global_avg_pool_forward, x.f32(), y.f32(), planes, plane_size);
    return record(y, "global_avg_pool", {x}, [=](const Tensor& dy) {
        Tensor dx = Tensor::empty(in_shape, DType::F32, device);
        KELVIN_DISPATCH(device, global_avg_pool_backward, dy.f32(), dx.f32(), planes,
                        plane_size);
        return std::vector<Tensor>{dx};
    });
}

}  // namespace kelvin::ops
