#include "engine/distributed/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "engine/ops.h"
#include "engine/trace.h"

namespace kelvin::distributed {

namespace {

// Adds the seconds `f` takes to `total`, under a trace event of kind "distributed".
template <typename F>
void timed(const char* name, Device device, double& total, F&& f) {
    trace::Scope scope(name, "distributed", device);
    const auto start = std::chrono::steady_clock::now();
    f();
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GradientReducer::GradientReducer(std::vector<Tensor*> params, Communicator& communicator,
                                 int64_t bucket_bytes)
    : params_(std::move(params)), communicator_(communicator) {
    const int64_t bucket_elements = std::max<int64_t>(1, bucket_bytes / int64_t(sizeof(float)));
    bucket_of_.resize(params_.size());
    Bucket bucket;
    for (size_t i = params_.size(); i-- > 0;) {
        index_of_[params_[i]->impl()] = i;
        bucket_of_[i] = buckets_.size();
        bucket.params.push_back(i);
        bucket.elements += params_[i]->numel();
        if (bucket.elements >= bucket_elements) {
            const int64_t end = bucket.offset + bucket.elements;
            buckets_.push_back(std::move(bucket));
            bucket = Bucket{};
            bucket.offset = end;
        }
    }
    if (!bucket.params.empty()) buckets_.push_back(std::move(bucket));
    total_ = buckets_.empty() ? 0 : buckets_.back().offset + buckets_.back().elements;
    ready_.assign(params_.size(), 0);
    reset_step();
    use_nccl_ = !params_.empty() && params_.front()->is_cuda() && nccl_built();
    if (!use_nccl_) flat_.resize(total_);
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::reset_step() {
    std::fill(ready_.begin(), ready_.end(), 0);
    for (Bucket& b : buckets_) b.not_ready = static_cast<int64_t>(b.params.size());
    next_bucket_ = 0;
}

void GradientReducer::gradient_ready(const Tensor& param, double share) {
    if (communicator_.world_size() == 1 && share == 1.0) return;  // reduce() has nothing to do
    const auto found = index_of_.find(param.impl());
    if (found == index_of_.end() || ready_[found->second]) return;
    ready_[found->second] = 1;
    --buckets_[bucket_of_[found->second]].not_ready;
    start_ready_buckets(static_cast<float>(share));
    // OpenMPI advances a non-blocking collective only inside MPI calls (no progress thread).
    if (!use_nccl_)
        timed("allreduce progress", Device::CPU, allreduce_seconds_,
              [&] { communicator_.progress(); });
}

void GradientReducer::start_ready_buckets(float share) {
    while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].not_ready == 0)
        start_bucket(buckets_[next_bucket_++], share);
}

void GradientReducer::reduce(double share) {
    if (communicator_.world_size() == 1 && share == 1.0) return reset_step();
    const float weight = static_cast<float>(share);
    started_early_ = static_cast<int64_t>(next_bucket_);
    while (next_bucket_ < buckets_.size()) start_bucket(buckets_[next_bucket_++], weight);
    if (use_nccl_)
        timed("ncclAllReduce wait", Device::CUDA, allreduce_seconds_,
              [&] { nccl_->wait_started(); });
    else
        timed("allreduce wait", Device::CPU, allreduce_seconds_,
              [&] { communicator_.wait_started(); });
    for (const Bucket& bucket : buckets_) unpack(bucket);
    reset_step();
}

void GradientReducer::start_bucket(Bucket& bucket, float share) {
    if (use_nccl_) {
        // Made on the first reduction: a single-process run, which never reduces, starts no NCCL.
        if (!nccl_) {
            nccl_ = std::make_unique<NcclGroup>(communicator_);
            device_flat_ =
                Tensor::zeros({std::max<int64_t>(total_, 1)}, DType::F32, Device::CUDA);
        }
        pack_device(bucket, share);
        timed("ncclAllReduce", Device::CUDA, allreduce_seconds_, [&] {
            nccl_->start_allreduce_sum(device_flat_.f32() + bucket.offset, bucket.elements);
        });
    } else {
        pack_host(bucket, share);
        timed("allreduce", Device::CPU, allreduce_seconds_, [&] {
            communicator_.start_allreduce_sum(flat_.data() + bucket.offset, bucket.elements);
        });
    }
}

void GradientReducer::pack_device(const Bucket& bucket, float share) {
    // Gather on the device: weighted gradients (zeros for unused parameters) into the bucket.
    int64_t at = bucket.offset;
    for (size_t i : bucket.params) {
        const Tensor& p = *params_[i];
        const int64_t n = p.numel();
        Tensor slot = device_flat_.rows(at, at + n).view(p.shape());
        const Tensor grad = p.grad();
        slot.copy_from(grad.defined() ? ops::scale(grad, share)
                                      : Tensor::zeros(p.shape(), DType::F32, p.device()));
        at += n;
    }
}

void GradientReducer::pack_host(const Bucket& bucket, float share) {
    // Gather: this rank's weighted gradients, zeros for parameters it did not use.
    int64_t at = bucket.offset;
    for (size_t i : bucket.params) {
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
}

void GradientReducer::unpack(const Bucket& bucket) {
    // Scatter into fresh gradient tensors (the old ones may share storage with autograd's).
    int64_t at = bucket.offset;
    for (size_t i : bucket.params) {
        Tensor& p = *params_[i];
        const int64_t n = p.numel();
        if (p.is_cuda() && !use_nccl_) {
            p.set_grad(Tensor::from_vector(
                std::vector<float>(flat_.begin() + at, flat_.begin() + at + n), p.shape(),
                p.device()));
        } else {
            Tensor g = Tensor::empty(p.shape(), DType::F32, p.device());
            if (use_nccl_) g.copy_from(device_flat_.rows(at, at + n).view(p.shape()));
            else std::memcpy(g.f32(), flat_.data() + at, sizeof(float) * n);
            p.set_grad(g);
        }
        at += n;
    }
}

}  // namespace kelvin::distributed
