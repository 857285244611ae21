// NCCL all-reduce on a stream of its own (kernels/nccl.h). Ordering with kelvin's stream by
// events: each reduction starts once the gradients written on kelvin's stream are ready, and
// kelvin's stream waits for all of them (one event after the last, NCCL's stream being in order)
// before the optimizer reads them; between the two, kelvin's stream runs the rest of backward.
#include "kernels/nccl.h"

#if KELVIN_NCCL
#include <nccl.h>

#include <cstring>
#include <string>

#include "kernels/cuda/context.cuh"

#define NCCL_CHECK(call) KELVIN_LIBRARY_CHECK("NCCL", #call, call, ncclSuccess, ncclGetErrorString)

namespace kelvin::cuda {

namespace {
struct NcclCommunicator {
    ncclComm_t comm = nullptr;
    cudaStream_t stream = nullptr;
    cudaEvent_t ready = nullptr, reduced = nullptr;
};
}  // namespace

static_assert(sizeof(ncclUniqueId) == kNcclIdBytes, "kNcclIdBytes is sizeof(ncclUniqueId)");

void select_device(int local_rank) {
    const int count = device_count();
    KELVIN_CHECK(count > 0, "no CUDA device for local rank " + std::to_string(local_rank));
    CUDA_CHECK(cudaSetDevice(local_rank % count));
}

void nccl_unique_id(char* id) {
    ncclUniqueId unique;
    NCCL_CHECK(ncclGetUniqueId(&unique));
    memcpy(id, &unique, sizeof unique);
}

void* nccl_join(const char* id, int rank, int world_size) {
    ncclUniqueId unique;
    memcpy(&unique, id, sizeof unique);
    auto* c = new NcclCommunicator();
    NCCL_CHECK(ncclCommInitRank(&c->comm, world_size, unique, rank));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&c->ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&c->reduced, cudaEventDisableTiming));
    return c;
}

void nccl_start_allreduce_sum(void* communicator, float* data, int64_t count) {
    auto* c = static_cast<NcclCommunicator*>(communicator);
    // Re-recording `ready` is safe: a wait takes the event's state when it is queued.
    CUDA_CHECK(cudaEventRecord(c->ready, current_stream()));
    CUDA_CHECK(cudaStreamWaitEvent(c->stream, c->ready, 0));
    NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(count), ncclFloat, ncclSum, c->comm,
                             c->stream));
}

void nccl_wait_started(void* communicator) {
    auto* c = static_cast<NcclCommunicator*>(communicator);
    CUDA_CHECK(cudaEventRecord(c->reduced, c->stream));
    CUDA_CHECK(cudaStreamWaitEvent(current_stream(), c->reduced, 0));
}

void nccl_leave(void* communicator) {
    auto* c = static_cast<NcclCommunicator*>(communicator);
    cudaStreamSynchronize(c->stream);
    ncclCommDestroy(c->comm);
    cudaEventDestroy(c->ready);
    cudaEventDestroy(c->reduced);
    cudaStreamDestroy(c->stream);
    delete c;
}

}  // namespace kelvin::cuda

#endif  // KELVIN_NCCL
