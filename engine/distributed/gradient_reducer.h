// Averages the gradients of a model replica over the ranks of a data-parallel run, as PyTorch's
// DistributedDataParallel does: the parameters' gradients are flattened, in parameter order, into
// buckets of about `bucket_bytes`, and each bucket is summed over the ranks with one all-reduce.
// Each rank weighs its gradients by its share of the global batch first, so the result is the
// gradient of the mean loss over the whole global batch, whatever the shards' sizes.
//
// On the CPU a bucket is a host buffer summed with MPI_Allreduce. With parameters on a GPU and a
// build with NCCL, it is a device buffer summed with ncclAllReduce on NCCL's own stream
// (NcclGroup); without NCCL, GPU gradients would be staged through the host.
//
// The buckets are reduced after the backward pass, not overlapped with it (docs/PERFORMANCE.md,
// "Data-parallel training": the all-reduce's share of a CPU step). A parameter without a gradient
// on this rank (not used by its forward) contributes zeros, so every rank reduces the same
// buffers and applies the same update.
#pragma once

#include <cstdint>
#include <memory>
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
    // Every parameter's gradient becomes sum over ranks of (share_r * gradient_r), with share =
    // this rank's samples / the global batch's samples.
    void reduce(double share);
    int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
    // Seconds spent in the all-reduce calls themselves, summed since construction (with NCCL,
    // the time to queue them: the reduction itself runs on NCCL's stream).
    double allreduce_seconds() const { return allreduce_seconds_; }

private:
    struct Bucket {
        size_t first = 0, last = 0;  // parameters [first, last)
        int64_t elements = 0;
    };
    void reduce_bucket(const Bucket& bucket, float share);
    void reduce_device_bucket(const Bucket& bucket, float share);

    std::vector<Tensor*> params_;
    Communicator& communicator_;
    std::vector<Bucket> buckets_;
    std::vector<float> flat_;  // one bucket, on the host
    int64_t largest_ = 0;              // elements of the largest bucket
    bool use_nccl_ = false;            // GPU parameters in a build with NCCL
    std::unique_ptr<NcclGroup> nccl_;
    Tensor device_flat_;               // then one bucket, on the device
    double allreduce_seconds_ = 0.0;
};

}  // namespace kelvin::distributed
