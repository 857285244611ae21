// Averages the gradients of a model replica over the ranks of a data-parallel run, as PyTorch's
// DistributedDataParallel does: the parameters' gradients are flattened into buckets of about
// `bucket_bytes`, in reverse parameter order (the order backward produces them: bucket 0 holds
// the last layers), and each bucket is summed over the ranks with one all-reduce. Each rank
// weighs its gradients by its share of the global batch first, so the result is the gradient of
// the mean loss over the whole global batch, whatever the shards' sizes.
//
// On the CPU a bucket is a piece of a host buffer summed with MPI_Iallreduce. With parameters on
// a GPU and a build with NCCL, it is a piece of a device buffer summed with ncclAllReduce on
// NCCL's own stream (NcclGroup); without NCCL, GPU gradients would be staged through the host.
//
// Overlap with backward (`--overlap-allreduce`, on by default): autograd reports each
// parameter whose gradient is final (GradientReadyScope, engine/autograd.h) to gradient_ready();
// once every gradient of a bucket is, the bucket is packed and its sum started, while backward
// goes on with earlier layers. Buckets start strictly in order (a complete bucket waits for the
// ones before it), so every rank issues the same collectives in the same order. reduce() starts
// what is left (everything, without overlap), waits for all and writes the averaged gradients.
// Both ways pack the same values into the same buckets and start the same non-blocking sums in
// the same order: results are bitwise equal (tested), only the time the sums start differs.
// The ranks' graphs must have the same shape (true of every kelvin model), so that a bucket
// completes at the same point of backward on every rank, between the same other collectives
// (--sync-batchnorm's reductions in backward).
//
// A parameter without a gradient on this rank (not used by its forward) contributes zeros, so
// every rank reduces the same buffers and applies the same update.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/distributed/communicator.h"
#include "engine/distributed/nccl_group.h"
#include "engine/tensor.h"

namespace kelvin::distributed {

class GradientReducer {
public:
    static constexpr int64_t kDefaultBucketBytes = int64_t(8) << 20;

    GradientReducer(std::vector<Tensor*> params, Communicator& communicator,
                    int64_t bucket_bytes = kDefaultBucketBytes);
    ~GradientReducer();
    // Backward's word that `param`'s gradient is final (tensors that are not parameters of this
    // reducer are ignored): starts the sum of every bucket that became complete, in order, and
    // lets the sums already started advance.
    void gradient_ready(const Tensor& param, double share);
    // Every parameter's gradient becomes sum over ranks of (share_r * gradient_r), with share =
    // this rank's samples / the global batch's samples.
    void reduce(double share);
    int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
    // The parameters (indices into the constructor's list) of bucket b, in the order packed.
    const std::vector<size_t>& bucket_params(int64_t b) const { return buckets_[b].params; }
    // Buckets whose sum the last reduce() found started during backward (0 without overlap).
    int64_t buckets_started_early() const { return started_early_; }
    // Seconds this rank was held in the all-reduce calls (starting, advancing, waiting for the
    // sums), summed since construction: the reduction's cost not hidden behind backward. With
    // NCCL, the time to queue them: the reduction itself runs on NCCL's stream.
    double allreduce_seconds() const { return allreduce_seconds_; }

private:
    struct Bucket {
        std::vector<size_t> params;  // indices into params_, in packing order
        int64_t offset = 0, elements = 0;
        int64_t not_ready = 0;  // parameters of this step whose gradient is not final yet
    };
    void start_ready_buckets(float share);
    void start_bucket(Bucket& bucket, float share);
    void pack_host(const Bucket& bucket, float share);
    void pack_device(const Bucket& bucket, float share);
    void unpack(const Bucket& bucket);
    void reset_step();

    std::vector<Tensor*> params_;
    Communicator& communicator_;
    std::vector<Bucket> buckets_;
    std::unordered_map<const TensorImpl*, size_t> index_of_;  // parameter -> its index
    std::vector<size_t> bucket_of_;                           // parameter index -> bucket
    std::vector<char> ready_;                                 // per parameter, this step
    size_t next_bucket_ = 0;  // the first bucket whose sum has not started this step
    int64_t started_early_ = 0;
    int64_t total_ = 0;                // elements of all buckets
    bool use_nccl_ = false;            // GPU parameters in a build with NCCL
    std::unique_ptr<NcclGroup> nccl_;
    std::vector<float> flat_;          // every bucket, on the host
    Tensor device_flat_;               // or on the device
    double allreduce_seconds_ = 0.0;
};

}  // namespace kelvin::distributed
