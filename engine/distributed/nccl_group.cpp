#include "engine/distributed/nccl_group.h"

#include <vector>

#include "kernels/error.h"
#include "kernels/nccl.h"

namespace kelvin::distributed {

bool nccl_built() { return KELVIN_NCCL != 0; }

#if KELVIN_NCCL

void use_local_gpu(Device device, Communicator& communicator) {
    if (device == Device::CUDA && communicator.world_size() > 1)
        cuda::select_device(communicator.local_rank());
}

NcclGroup::NcclGroup(Communicator& communicator) {
    std::vector<char> id(cuda::kNcclIdBytes, 0);
    if (communicator.rank() == 0) cuda::nccl_unique_id(id.data());
    communicator.broadcast(id.data(), int64_t(id.size()), 0);
    handle_ = cuda::nccl_join(id.data(), communicator.rank(), communicator.world_size());
}

NcclGroup::~NcclGroup() { cuda::nccl_leave(handle_); }

void NcclGroup::start_allreduce_sum(float* device_data, int64_t count) {
    cuda::nccl_start_allreduce_sum(handle_, device_data, count);
}

void NcclGroup::wait_started() { cuda::nccl_wait_started(handle_); }

#else

void use_local_gpu(Device, Communicator&) {}
NcclGroup::NcclGroup(Communicator&) {
    throw Error("this build of kelvin has no NCCL (nvcc, nccl.h and libnccl at build time)");
}
NcclGroup::~NcclGroup() = default;
void NcclGroup::start_allreduce_sum(float*, int64_t) {}
void NcclGroup::wait_started() {}

#endif

}  // namespace kelvin::distributed
