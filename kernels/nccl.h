// Gradient all-reduce between GPUs with NCCL (docs/CLUSTER.md), behind plain C++
// declarations. Defined in kernels/cuda/nccl.cu where NCCL exists (KELVIN_NCCL=1: the toolkit's
// nccl.h and libnccl, or the CUDA emulator's NCCL served by MPI, tests/cuda_emulator/nccl.cpp).
// The engine bootstraps it: rank 0 makes the unique id, MPI broadcasts it, every rank joins.
#pragma once

#include <cstdint>

namespace kelvin::cuda {

constexpr int kNcclIdBytes = 128;  // sizeof(ncclUniqueId)

// This process's GPU: device local_rank % device_count(); called before any allocation.
void select_device(int local_rank);
void nccl_unique_id(char* id);  // kNcclIdBytes bytes, on one rank
// A communicator of `world_size` ranks, one GPU each, with a stream of its own.
void* nccl_join(const char* id, int rank, int world_size);
// Starts the in-place sum of `count` floats of device memory over the ranks on the
// communicator's stream, after the work already queued on kelvin's stream; kelvin's stream goes
// on (the backward pass of earlier layers runs beside the sum). Every rank starts the same sums
// in the same order.
void nccl_start_allreduce_sum(void* communicator, float* data, int64_t count);
// Orders kelvin's stream after every sum started so far (the host does not wait).
void nccl_wait_started(void* communicator);
void nccl_leave(void* communicator);

}  // namespace kelvin::cuda
