#include "engine/distributed/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "engine/ops.h"
#include "engine/trace.h"

namespace kelvin::distributed {

GradientReducer::GradientReducer(std::vector<Tensor*> params, Communicator& communicator,
                                 int64_t bucket_bytes)
    : params_(std::move(params)), communicator_(communicator) {
    const int64_t bucket_elements = std::max<int64_t>(1, bucket_bytes / int64_t(sizeof(float)));
    Bucket bucket;
    for (size_t i = 0; i < params_.size(); ++i) {
        bucket.elements += params_[i]->numel();
        bucket.last = i + 1;
        if (bucket.elements >= bucket_elements) {
            buckets_.push_back(bucket);
            bucket = Bucket{i + 1, i + 1, 0};
        }
    }
    if (bucket.last > bucket.first) buckets_.push_back(bucket);
    int64_t largest = 0;
    for (const Bucket& b : buckets_) largest = std::max(largest, b.elements);
    largest_ = largest;
    use_nccl_ = !params_.empty() && params_.front()->is_cuda() && nccl_built();
    if (!use_nccl_) flat_.resize(largest);
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::reduce(double share) {
    if (communicator_.world_size() == 1 && share == 1.0) return;
    for (const Bucket& bucket : buckets_) {
        if (use_nccl_) reduce_device_bucket(bucket, static_cast<float>(share));
        else reduce_bucket(bucket, static_cast<float>(share));
    }
}

void GradientReducer::reduce_device_bucket(const Bucket& bucket, float share) {
    // Made on the first reduction: a single-process run, which never reduces, starts no NCCL.
    if (!nccl_) {
        nccl_ = std::make_unique<NcclGroup>(communicator_);
        device_flat_ = Tensor::zeros({std::max<int64_t>(largest_, 1)}, DType::F32, Device::CUDA);
    }
    // Gather on the device: weighted gradients (zeros for unused parameters) into one buffer.
    int64_t at = 0;
    for (size_t i = bucket.first; i < bucket.last; ++i) {
        const Tensor& p = *params_[i];
        const int64_t n = p.numel();
        Tensor slot = device_flat_.rows(at, at + n).view(p.shape());
        const Tensor grad = p.grad();
        slot.copy_from(grad.defined() ? ops::scale(grad, share)
                                      : Tensor::zeros(p.shape(), DType::F32, p.device()));
        at += n;
    }
    {
        trace::Scope scope("ncclAllReduce", "distributed", Device::CUDA);
        const auto start = std::chrono::steady_clock::now();
        nccl_->allreduce_sum(device_flat_.f32(), bucket.elements);
        allreduce_seconds_ +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    at = 0;
    for (size_t i = bucket.first; i < bucket.last; ++i) {
        Tensor& p = *params_[i];
        const int64_t n = p.numel();
        Tensor g = Tensor::empty(p.shape(), DType::F32, p.device());
        g.copy_from(device_flat_.rows(at, at + n).view(p.shape()));
        p.set_grad(g);
        at += n;
    }
}

void GradientReducer::reduce_bucket(const Bucket& bucket, float share) {
    // Gather: this rank's weighted gradients, zeros for parameters it did not use.
    int64_t at = 0;
    for (size_t i = bucket.first; i < bucket.last; ++i) {
        const Tensor grad = params_[i]->grad();
        const int64_t n = params_[i]->numel();
        float* dst = flat_.data() + at;
        if (!grad.defined()) {
            std::fill(dst, dst + n, 0.0f);
        } else if (grad.is_cuda()) {
            const std::vector<float> host = grad.to_vector();
            for (int64_t k = 0; k < n; ++k) dst[k] = host[k] * share;
        } else {
            const float* src = grad.f32();
            for (int64_t k = 0; k < n; ++k) dst[k] = src[k] * share;
        }
        at += n;
    }
    {
        trace::Scope scope("allreduce", "distributed", Device::CPU);
        const auto start = std::chrono::steady_clock::now();
        communicator_.allreduce_sum(flat_.data(), bucket.elements);
        allreduce_seconds_ +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    // Scatter into fresh gradient tensors (the old ones may share storage with autograd's).
    at = 0;
    for (size_t i = bucket.first; i < bucket.last; ++i) {
        Tensor& p = *params_[i];
        const int64_t n = p.numel();
        if (p.is_cuda()) {
            p.set_grad(Tensor::from_vector(
                std::vector<float>(flat_.begin() + at, flat_.begin() + at + n), p.shape(),
                p.device()));
        } else {
            Tensor g = Tensor::empty(p.shape(), DType::F32, p.device());
            std::memcpy(g.f32(), flat_.data() + at, sizeof(float) * n);
            p.set_grad(g);
        }
        at += n;
    }
}

}  // namespace kelvin::distributed
