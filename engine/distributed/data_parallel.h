// One replica's part in a data-parallel run: every rank holds the whole model, trains on its
// shard of each global batch, and takes the same optimizer step with the gradients averaged over
// the ranks (GradientReducer). This class is the step's glue, what train() hands to
// optim::train_step as hooks, and the checks that keep the replicas equal:
//   - at the start, rank 0's parameters and buffers are copied to every rank;
//   - before each forward, rank 0's buffers (BatchNorm running statistics) are, as PyTorch's
//     DDP does by default (broadcast_buffers=True), unless the statistics are synchronised;
//   - a non-finite loss on any rank stops every rank at the same step, naming the first such rank;
//   - at each epoch's end, the replicas' parameters are compared (a checksum): replicas that
//     drifted apart are an error, not a silent average of different models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/distributed/communicator.h"
#include "engine/distributed/gradient_reducer.h"
#include "engine/optim/train_step.h"
#include "engine/tensor.h"

namespace kelvin::distributed {

class DataParallel {
public:
    // With `overlap_allreduce`, a bucket's all-reduce starts during backward, as soon as its
    // gradients are final (GradientReducer); without, all start after backward. Same results.
    DataParallel(std::vector<Tensor*> params, std::vector<Tensor*> buffers,
                 Communicator& communicator, bool broadcast_buffers, bool overlap_allreduce,
                 int64_t bucket_bytes = GradientReducer::kDefaultBucketBytes);
    // Parameters and buffers become rank 0's.
    void broadcast_from_root();
    // The hooks of one step on a shard of `shard_samples` of the global batch's `global_samples`.
    optim::StepHooks step_hooks(int64_t shard_samples, int64_t global_samples);
    // -1 while every loss seen was finite; else the first rank whose loss was not.
    int nonfinite_rank() const { return nonfinite_rank_; }
    // Throws kelvin::Error naming the ranks when their parameters differ from rank 0's.
    void check_replicas_agree();
    Communicator& communicator() { return communicator_; }
    const GradientReducer& reducer() const { return reducer_; }

private:
    bool agree_finite(bool finite);
    void broadcast(const std::vector<Tensor*>& tensors);

    std::vector<Tensor*> params_, buffers_;
    Communicator& communicator_;
    GradientReducer reducer_;
    bool broadcast_buffers_;
    bool overlap_allreduce_;
    int nonfinite_rank_ = -1;
};

}  // namespace kelvin::distributed
