// A tensor is small: a shape, a dtype, a device, shared storage and autograd metadata.
// Storage is always contiguous (row-major); an element offset lets a tensor be a cheap
// window of rows into a larger buffer (a batch of a data set, a parameter in an arena).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/storage.h"

namespace kelvin {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);

struct Node;

struct TensorImpl {
    Shape shape;
    DType dtype = DType::F32;
    Device device = Device::CPU;
    std::shared_ptr<Storage> storage;
    int64_t offset = 0;  // in elements

    bool requires_grad = false;
    std::shared_ptr<TensorImpl> grad;
    std::shared_ptr<Node> grad_fn;  // set on results of recorded ops; empty on leaves
};

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // ---- construction -------------------------------------------------------------
    static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
    static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
    static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
    static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                              Device device = Device::CPU);
    static Tensor from_vector(const std::vector<int32_t>& values, const Shape& shape,
                              Device device = Device::CPU);

    // ---- metadata ---------------------------------------------------------------------
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return impl_->shape; }
    int ndim() const { return static_cast<int>(impl_->shape.size()); }
    int64_t size(int axis) const;  // negative axes count from the end
    int64_t numel() const { return shape_numel(impl_->shape); }
    DType dtype() const { return impl_->dtype; }
    Device device() const { return impl_->device; }
    bool is_cuda() const { return impl_->device == Device::CUDA; }
    std::string describe() const;  // "f32[128, 784] on cpu"

    template <typename T>
    T* data() const {
        return reinterpret_cast<T*>(static_cast<char*>(impl_->storage->data) +
                                    impl_->offset * dtype_size(impl_->dtype));
    }
    float* f32() const;
    int32_t* i32() const;

    // ---- copies between devices and to the host -------------------------------------------
    Tensor to(Device device) const;      // shares storage when already there
    Tensor clone() const;                // a fresh copy on the same device, no autograd history
    void copy_from(const Tensor& src);   // same shape and dtype; any devices
    std::vector<float> to_vector() const;
    std::vector<int32_t> to_int_vector() const;
    float item() const;
    // Rows [begin, end) along the first axis, sharing storage (no copy, no autograd).
    Tensor rows(int64_t begin, int64_t end) const;
    // Same storage, new shape with the same element count; no autograd (see ops::reshape).
    Tensor view(const Shape& shape) const;

    // ---- autograd -------------------------------------------------------------------
    bool requires_grad() const { return impl_->requires_grad; }
    Tensor& set_requires_grad(bool value);
    Tensor grad() const { return Tensor(impl_->grad); }
    void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
    void zero_grad();
    const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
    Tensor detach() const;  // same storage, no history
    // Back-propagates from this scalar (or from `seed` when given, same shape as this).
    void backward(const Tensor& seed = Tensor()) const;

    TensorImpl* impl() const { return impl_.get(); }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

private:
    std::shared_ptr<TensorImpl> impl_;
};

}  // namespace kelvin
