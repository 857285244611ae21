// NCCL for the host CUDA emulator, served by MPI (include/nccl.h). The unique id carries a
// marker that ncclCommInitRank checks (the id must have come from rank 0 through the caller's
// bootstrap, as with NCCL); the communicator is MPI_COMM_WORLD with the ranks NCCL was given.
#include <nccl.h>

#include <mpi.h>

#include <cstring>

namespace {
constexpr char kMarker[] = "kelvin-emulated-nccl";
}

struct ncclComm {
    int rank = 0, nranks = 1;
};

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
    std::memset(id->internal, 0, sizeof id->internal);
    std::memcpy(id->internal, kMarker, sizeof kMarker);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
    if (std::memcmp(id.internal, kMarker, sizeof kMarker) != 0) return ncclInvalidArgument;
    // One rank needs no MPI (kelvin_tests runs it in a single process, MPI never started).
    if (nranks == 1 && rank == 0) {
        *comm = new ncclComm{0, 1};
        return ncclSuccess;
    }
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) return ncclInvalidArgument;
    int size = 0, mine = -1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &mine);
    if (size != nranks || mine != rank) return ncclInvalidArgument;
    *comm = new ncclComm{rank, nranks};
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t) {
    if (type != ncclFloat || op != ncclSum || !comm) return ncclInvalidArgument;
    // The emulator's kernels have finished (they run synchronously): the data is ready.
    if (comm->nranks == 1) {
        if (send != recv) std::memmove(recv, send, count * sizeof(float));
        return ncclSuccess;
    }
    for (size_t begin = 0; begin < count; begin += size_t(1) << 30) {
        const int n = static_cast<int>(std::min(count - begin, size_t(1) << 30));
        const float* s = static_cast<const float*>(send) + begin;
        float* r = static_cast<float*>(recv) + begin;
        if (MPI_Allreduce(s == r ? MPI_IN_PLACE : s, r, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return ncclSystemError;
    }
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    delete comm;
    return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t result) {
    switch (result) {
        case ncclSuccess: return "no error";
        case ncclSystemError: return "system error (emulated NCCL: MPI_Allreduce failed)";
        case ncclInvalidArgument: return "invalid argument";
    }
    return "unknown error";
}
