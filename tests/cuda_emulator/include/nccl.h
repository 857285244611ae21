// The part of NCCL's API kelvin calls (kernels/cuda/nccl.cu), for the host CUDA emulator: served
// by MPI in tests/cuda_emulator/nccl.cpp, since the emulator's device memory is host memory. It
// lets CI run kelvin's NCCL code path across MPI processes without a GPU; it says nothing of
// NCCL's own behaviour or speed.
#pragma once

#include <cstddef>

#include "cuda_runtime.h"

typedef enum { ncclSuccess = 0, ncclSystemError = 2, ncclInvalidArgument = 4 } ncclResult_t;
typedef enum { ncclFloat = 7 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
typedef struct {
    char internal[128];
} ncclUniqueId;
struct ncclComm;
typedef ncclComm* ncclComm_t;

ncclResult_t ncclGetUniqueId(ncclUniqueId* id);
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
const char* ncclGetErrorString(ncclResult_t result);
