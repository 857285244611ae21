#include "engine/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "engine/autograd.h"
#include "engine/memory_limit.h"
#include "engine/ops.h"

namespace kelvin {

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shape_to_string(const Shape& shape) {
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    // The size is checked before anything is allocated: an absurd shape (a corrupt header, a
    // width of 10^6) is an error naming the bytes it needs, not std::bad_alloc or a wrapped
    // product that allocates too little.
    uint64_t bytes = dtype_size(dtype);
    for (int64_t d : shape) {
        KELVIN_CHECK(d >= 0, "negative dimension in shape " + shape_to_string(shape));
        const auto product = checked_product(bytes, static_cast<uint64_t>(d));
        KELVIN_CHECK(product && *product <= uint64_t(INT64_MAX),
                     "a tensor of shape " + shape_to_string(shape) +
                         " has more elements than 64-bit sizes can count");
        bytes = *product;
    }
    if (device == Device::CPU)
        check_host_allocation(bytes,
                              std::string("a ") + dtype_name(dtype) + " tensor of shape " +
                                  shape_to_string(shape),
                              host_storage_bytes());
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->dtype = dtype;
    impl->device = device;
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(bytes), device);
    return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    ops::fill_(t, 0.0f);
    return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
    Tensor t = empty(shape, DType::F32, device);
    ops::fill_(t, value);
    return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
    KELVIN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
                 "from_vector: " + std::to_string(values.size()) + " values for shape " +
                     shape_to_string(shape));
    Tensor t = empty(shape, DType::F32, device);
    copy_bytes(t.data<float>(), device, values.data(), Device::CPU, values.size() * 4);
    return t;
}

Tensor Tensor::from_vector(const std::vector<int32_t>& values, const Shape& shape, Device device) {
    KELVIN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
                 "from_vector: " + std::to_string(values.size()) + " values for shape " +
                     shape_to_string(shape));
    Tensor t = empty(shape, DType::I32, device);
    copy_bytes(t.data<int32_t>(), device, values.data(), Device::CPU, values.size() * 4);
    return t;
}

int64_t Tensor::size(int axis) const {
    int n = ndim();
    if (axis < 0) axis += n;
    KELVIN_CHECK(axis >= 0 && axis < n, "axis out of range for " + describe());
    return impl_->shape[axis];
}

std::string Tensor::describe() const {
    if (!impl_) return "undefined tensor";
    return std::string(dtype_name(dtype())) + shape_to_string(shape()) + " on " +
           device_name(device());
}

float* Tensor::f32() const {
    KELVIN_CHECK(dtype() == DType::F32, "expected an f32 tensor, got " + describe());
    return data<float>();
}

int32_t* Tensor::i32() const {
    KELVIN_CHECK(dtype() == DType::I32, "expected an i32 tensor, got " + describe());
    return data<int32_t>();
}

Tensor Tensor::to(Device target) const {
    if (device() == target) return *this;
    Tensor out = empty(shape(), dtype(), target);
    out.copy_from(*this);
    return out;
}

Tensor Tensor::clone() const {
    Tensor out = empty(shape(), dtype(), device());
    out.copy_from(*this);
    return out;
}

void Tensor::copy_from(const Tensor& src) {
    KELVIN_CHECK(shape_numel(src.shape()) == numel() && src.dtype() == dtype(),
                 "copy_from: " + src.describe() + " into " + describe());
    copy_bytes(data<char>(), device(), src.data<char>(), src.device(),
               numel() * dtype_size(dtype()));
}

std::vector<float> Tensor::to_vector() const {
    KELVIN_CHECK(dtype() == DType::F32, "to_vector on " + describe());
    std::vector<float> out(numel());
    copy_bytes(out.data(), Device::CPU, data<float>(), device(), out.size() * 4);
    return out;
}

std::vector<int32_t> Tensor::to_int_vector() const {
    KELVIN_CHECK(dtype() == DType::I32, "to_int_vector on " + describe());
    std::vector<int32_t> out(numel());
    copy_bytes(out.data(), Device::CPU, data<int32_t>(), device(), out.size() * 4);
    return out;
}

float Tensor::item() const {
    KELVIN_CHECK(numel() == 1, "item() needs one element, got " + describe());
    return to_vector()[0];
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
    KELVIN_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= size(0),
                 "rows(" + std::to_string(begin) + ", " + std::to_string(end) + ") of " +
                     describe());
    auto impl = std::make_shared<TensorImpl>(*impl_);
    impl->requires_grad = false;
    impl->grad.reset();
    impl->grad_fn.reset();
    impl->shape[0] = end - begin;
    impl->offset += begin * (numel() / std::max<int64_t>(size(0), 1));
    return Tensor(std::move(impl));
}

Tensor Tensor::view(const Shape& new_shape) const {
    KELVIN_CHECK(shape_numel(new_shape) == numel(),
                 "view " + shape_to_string(new_shape) + " of " + describe());
    Tensor out = detach();
    out.impl()->shape = new_shape;
    return out;
}

Tensor& Tensor::set_requires_grad(bool value) {
    KELVIN_CHECK(!value || dtype() == DType::F32, "only f32 tensors can require gradients");
    impl_->requires_grad = value;
    return *this;
}

void Tensor::zero_grad() {
    if (!impl_->grad) return;
    Tensor g(impl_->grad);
    ops::fill_(g, 0.0f);
}

Tensor Tensor::detach() const {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = impl_->shape;
    impl->dtype = impl_->dtype;
    impl->device = impl_->device;
    impl->storage = impl_->storage;
    impl->offset = impl_->offset;
    return Tensor(std::move(impl));
}

}  // namespace kelvin
