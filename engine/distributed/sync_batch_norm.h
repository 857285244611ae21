// Synchronised batch normalisation (PyTorch's SyncBatchNorm): in training, the statistics of a
// BatchNorm layer are those of the global batch, not of this rank's shard. Forward sums, over the
// ranks, each channel's sample count, sum and sum of squares; backward sums each channel's
// sum(dy) and sum(dy * xhat), the two terms through which every sample's gradient depends on the
// others'. The result on each rank is what one process would compute on the whole global batch
// for its shard's rows (up to the summation order), and the running statistics move the same way
// on every rank.
//
// Every rank must call it for the same layers in the same order, forward and backward: each call
// is one all-reduce of 2C+1 doubles forward and 2C backward, on the host.
#pragma once

#include "engine/distributed/communicator.h"
#include "engine/tensor.h"

namespace kelvin::distributed {

// x [N, C, H, W] on this rank (N may differ between ranks, and be as small as 1 when the global
// batch has at least 2 samples); weight, bias [C] or undefined; running_mean, running_var [C],
// updated in place with the global batch's mean and unbiased variance.
Tensor sync_batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                         Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                         Communicator& communicator);

}  // namespace kelvin::distributed
