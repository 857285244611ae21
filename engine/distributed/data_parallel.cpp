#include "engine/distributed/data_parallel.h"

#include <cstring>
#include <limits>

namespace kelvin::distributed {

DataParallel::DataParallel(std::vector<Tensor*> params, std::vector<Tensor*> buffers,
                           Communicator& communicator, bool broadcast_buffers,
                           bool overlap_allreduce, int64_t bucket_bytes)
    : params_(params),
      buffers_(std::move(buffers)),
      communicator_(communicator),
      reducer_(std::move(params), communicator, bucket_bytes),
      broadcast_buffers_(broadcast_buffers),
      overlap_allreduce_(overlap_allreduce) {}

void DataParallel::broadcast(const std::vector<Tensor*>& tensors) {
    if (communicator_.world_size() == 1) return;
    for (Tensor* t : tensors) {
        if (t->is_cuda()) {
            std::vector<float> host = t->to_vector();
            communicator_.broadcast(host.data(), int64_t(host.size() * sizeof(float)), 0);
            t->copy_from(Tensor::from_vector(host, t->shape()));
        } else {
            communicator_.broadcast(t->f32(), t->numel() * int64_t(sizeof(float)), 0);
        }
    }
}

void DataParallel::broadcast_from_root() {
    broadcast(params_);
    broadcast(buffers_);
}

bool DataParallel::agree_finite(bool finite) {
    // One entry per rank: 1 where that rank's loss was not finite.
    std::vector<int64_t> flags(communicator_.world_size(), 0);
    flags[communicator_.rank()] = finite ? 0 : 1;
    communicator_.allreduce_max(flags.data(), int64_t(flags.size()));
    for (size_t r = 0; r < flags.size(); ++r)
        if (flags[r]) {
            nonfinite_rank_ = static_cast<int>(r);
            return false;
        }
    return true;
}

optim::StepHooks DataParallel::step_hooks(int64_t shard_samples, int64_t global_samples) {
    optim::StepHooks hooks;
    if (communicator_.world_size() == 1) return hooks;
    if (broadcast_buffers_) hooks.before_forward = [this] { broadcast(buffers_); };
    hooks.agree_finite = [this](bool finite) { return agree_finite(finite); };
    const double share = double(shard_samples) / double(global_samples);
    if (overlap_allreduce_)
        hooks.on_gradient_ready = [this, share](const Tensor& p) {
            reducer_.gradient_ready(p, share);
        };
    hooks.before_update = [this, share] { reducer_.reduce(share); };
    return hooks;
}

void DataParallel::check_replicas_agree() {
    if (communicator_.world_size() == 1) return;
    // A position-weighted sum of every parameter, in double: equal replicas give equal bits.
    double checksum = 0.0;
    for (Tensor* p : params_) {
        const std::vector<float> v = p->to_vector();
        for (size_t i = 0; i < v.size(); ++i) checksum += double(v[i]) * double(i % 97 + 1);
    }
    int64_t bits = 0;
    std::memcpy(&bits, &checksum, sizeof bits);
    // Slots start at the smallest value, so the maximum over ranks is each slot's owner's.
    std::vector<int64_t> all(communicator_.world_size(), std::numeric_limits<int64_t>::min());
    all[communicator_.rank()] = bits;
    communicator_.allreduce_max(all.data(), int64_t(all.size()));
    std::string differing;
    for (size_t r = 1; r < all.size(); ++r)
        if (all[r] != all[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
    KELVIN_CHECK(differing.empty(),
                 "the model replicas differ: the parameters of rank(s) " + differing +
                     " are not those of rank 0 (a rank computed different gradients or updates)");
}

}  // namespace kelvin::distributed
