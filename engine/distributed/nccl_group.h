// The GPUs of a data-parallel run (KELVIN_NCCL builds): one per rank, chosen by node-local rank,
// and the NCCL communicator that sums gradients between them, bootstrapped over the MPI world
// (rank 0 makes NCCL's unique id, MPI broadcasts it). kernels/nccl.h has the NCCL calls.
#pragma once

#include <cstdint>

#include "engine/device.h"
#include "engine/distributed/communicator.h"

namespace kelvin::distributed {

// Whether this build can all-reduce device buffers with NCCL.
bool nccl_built();

// With several ranks on CUDA: makes GPU local_rank % (GPUs of the node) this process's, before
// anything is allocated on one. Nothing otherwise.
void use_local_gpu(Device device, Communicator& communicator);

class NcclGroup {
public:
    explicit NcclGroup(Communicator& communicator);
    ~NcclGroup();
    NcclGroup(const NcclGroup&) = delete;
    NcclGroup& operator=(const NcclGroup&) = delete;
    // Starts the in-place sum over the ranks of `count` floats of device memory, after the work
    // queued on kelvin's stream (kernels/nccl.h); wait_started() orders kelvin's stream after
    // every sum started.
    void start_allreduce_sum(float* device_data, int64_t count);
    void wait_started();

private:
    void* handle_ = nullptr;
};

}  // namespace kelvin::distributed
