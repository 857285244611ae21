// kelvin's CUDA emulator: the fiber scheduler behind kernel launches, host memory behind the
// runtime API, OpenBLAS behind cuBLAS and LAPACK behind cuSOLVER. See include/cuda_runtime.h.
#include <cblas.h>
#include <lapacke.h>
#include <ucontext.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_runtime.h"
#include "cublas_v2.h"
#include "cusolverDn.h"

uint3 threadIdx{0, 0, 0}, blockIdx{0, 0, 0};
dim3 blockDim, gridDim;

namespace kelvin_emu {
namespace {

cudaError_t last_error = cudaSuccess;
std::string last_error_text;
size_t launch_count = 0;
uint64_t thread_count = 0;

void set_error(cudaError_t error, const std::string& text) {
    if (last_error == cudaSuccess) {
        last_error = error;
        last_error_text = text;
        std::fprintf(stderr, "cuda emulator: %s\n", text.c_str());
    }
}

// ---- fibers -----------------------------------------------------------------------------------
// A kernel's local arrays (register tiles, accumulators) live on the fiber's stack.
constexpr size_t kStackBytes = 256 * 1024;

// Switching between fibers. ucontext's swapcontext makes two system calls per switch (it saves
// and restores the signal mask), which made emulated kernels spend half their time in the
// kernel; on x86-64 a switch is six register pushes, a stack swap and six pops. Under
// AddressSanitizer, ucontext is kept: ASan knows swapcontext and follows the stack change.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define KELVIN_EMU_FAST_SWITCH 1
}  // namespace
}  // namespace kelvin_emu
// Saves the callee-saved registers on the current stack, stores its pointer in *save, switches
// to the stack `to` and restores the registers saved there.
extern "C" void kelvin_emu_switch(void** save, void* to);
asm(R"(
    .text
    .globl kelvin_emu_switch
    .type kelvin_emu_switch, @function
kelvin_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size kelvin_emu_switch, .-kelvin_emu_switch
)");
namespace kelvin_emu {
namespace {
struct Context {
    void* stack_pointer = nullptr;
};
#else
#define KELVIN_EMU_FAST_SWITCH 0
using Context = ucontext_t;
#endif
constexpr int kMaxThreadsPerBlock = 1024;

enum class State { Runnable, AtBlockBarrier, AtWarpBarrier, Done };

struct Fiber {
    Context context;
    std::unique_ptr<char[]> stack;
    State state = State::Done;
    uint3 index{0, 0, 0};
    // A pending shuffle: what this lane offers, what it asks for, and the answer.
    uint64_t offered = 0, received = 0;
    ShuffleKind kind = ShuffleKind::Xor;
    int parameter = 0;
};

struct Scheduler {
    Context main;
    std::vector<Fiber> fibers;
    int current = -1;  // the running fiber, -1 in the scheduler
    ThreadBody* body = nullptr;
    const char* kernel = "";
    bool failed = false;
};
Scheduler sched;
std::mutex launch_mutex;  // one launch at a time, from any host thread

void switch_to(Context& save, Context& to) {
#if KELVIN_EMU_FAST_SWITCH
    kelvin_emu_switch(&save.stack_pointer, to.stack_pointer);
#else
    swapcontext(&save, &to);
#endif
}

// Suspends the running fiber in `state` and returns when the scheduler resumes it.
void wait_in(State state) {
    Fiber& f = sched.fibers[sched.current];
    f.state = state;
    switch_to(f.context, sched.main);
}

void fiber_entry() {
    Fiber& f = sched.fibers[sched.current];
    sched.body->run();
    f.state = State::Done;
#if KELVIN_EMU_FAST_SWITCH
    switch_to(f.context, sched.main);  // never resumed: the next block starts it afresh
    std::abort();
#endif
    // With ucontext, uc_link returns to the scheduler.
}

// Makes `f` start at fiber_entry when switched to.
void prepare(Fiber& f) {
#if KELVIN_EMU_FAST_SWITCH
    // The initial stack, from its 16-byte aligned top: a null return address for fiber_entry
    // (it never returns), fiber_entry's address for kelvin_emu_switch's `ret`, then the six
    // registers it pops. After the `ret`, the stack is aligned as at any function's entry.
    auto top = reinterpret_cast<uintptr_t>(f.stack.get() + kStackBytes) & ~uintptr_t(15);
    auto* slot = reinterpret_cast<void**>(top);
    *--slot = nullptr;
    *--slot = reinterpret_cast<void*>(&fiber_entry);
    for (int r = 0; r < 6; ++r) *--slot = nullptr;
    f.context.stack_pointer = slot;
#else
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &sched.main;
    makecontext(&f.context, fiber_entry, 0);
#endif
}

std::string position(int flat) {
    const Fiber& f = sched.fibers[flat];
    return "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
           std::to_string(blockIdx.z) + ") thread (" + std::to_string(f.index.x) + "," +
           std::to_string(f.index.y) + "," + std::to_string(f.index.z) + ")";
}

// Releases the warp barrier of every warp whose live lanes all wait there; true if any.
bool release_warps(int threads) {
    bool released = false;
    for (int first = 0; first < threads; first += 32) {
        const int end = std::min(threads, first + 32);
        bool any_waiting = false, all_waiting = true;
        for (int t = first; t < end; ++t) {
            const State s = sched.fibers[t].state;
            any_waiting |= s == State::AtWarpBarrier;
            all_waiting &= s == State::AtWarpBarrier;
        }
        if (!any_waiting || !all_waiting) continue;
        // Every lane of a full warp is here: answer each from the others' offers.
        for (int t = first; t < end; ++t) {
            Fiber& f = sched.fibers[t];
            const int lane = t - first;
            const int source = f.kind == ShuffleKind::Xor ? (lane ^ f.parameter)
                                                           : lane + f.parameter;
            if (source >= 0 && source < end - first)
                f.received = sched.fibers[first + source].offered;
            else if (f.kind == ShuffleKind::Down && source >= end - first)
                f.received = f.offered;  // past the warp's end: the lane keeps its own value
            else {
                set_error(cudaErrorLaunchFailure,
                          std::string(sched.kernel) + ": shuffle from lane " +
                              std::to_string(source) + " outside the warp at " + position(t));
                f.received = f.offered;
            }
            f.state = State::Runnable;
        }
        released = true;
    }
    return released;
}

// `reverse`: run the block's threads from the last to the first. A thread runs until its next
// barrier, so with one fixed order a missing __syncthreads is seen only when the reader comes
// before the writer; alternating the order from block to block makes it wrong either way round.
void run_block(int threads, bool reverse) {
    for (int t = 0; t < threads; ++t) {
        Fiber& f = sched.fibers[t];
        prepare(f);
        f.state = State::Runnable;
    }
    for (;;) {
        bool ran = false;
        for (int i = 0; i < threads; ++i) {
            const int t = reverse ? threads - 1 - i : i;
            Fiber& f = sched.fibers[t];
            if (f.state != State::Runnable) continue;
            threadIdx = f.index;
            sched.current = t;
            switch_to(sched.main, f.context);
            sched.current = -1;
            ran = true;
        }
        if (ran) continue;
        int done = 0, at_block = 0, at_warp = 0;
        for (int t = 0; t < threads; ++t) {
            const State s = sched.fibers[t].state;
            done += s == State::Done, at_block += s == State::AtBlockBarrier,
                at_warp += s == State::AtWarpBarrier;
        }
        if (done == threads) return;
        if (at_warp > 0 && release_warps(threads)) continue;
        if (at_block + done == threads) {  // __syncthreads: exited threads do not count
            for (int t = 0; t < threads; ++t)
                if (sched.fibers[t].state == State::AtBlockBarrier)
                    sched.fibers[t].state = State::Runnable;
            continue;
        }
        // Stuck: some lanes wait at a shuffle whose warp has exited or diverged lanes, or threads
        // wait at different barriers. Report where, then let every waiting thread go on so the
        // block finishes (its results are wrong, and the error says so).
        int example = 0;
        while (sched.fibers[example].state == State::Done) ++example;
        set_error(cudaErrorLaunchFailure,
                  std::string(sched.kernel) + ": threads wait at different barriers (" +
                      std::to_string(at_block) + " at __syncthreads, " + std::to_string(at_warp) +
                      " at a warp shuffle, " + std::to_string(done) + " exited), e.g. " +
                      position(example));
        for (int t = 0; t < threads; ++t) {
            Fiber& f = sched.fibers[t];
            if (f.state == State::AtWarpBarrier) f.received = f.offered;
            if (f.state != State::Done) f.state = State::Runnable;
        }
    }
}

}  // namespace

uint64_t shuffle(uint64_t value, ShuffleKind kind, int parameter) {
    Fiber& f = sched.fibers[sched.current];
    f.offered = value;
    f.kind = kind;
    f.parameter = parameter;
    wait_in(State::AtWarpBarrier);
    return sched.fibers[sched.current].received;
}

void run_grid(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, ThreadBody& body) {
    std::lock_guard<std::mutex> lock(launch_mutex);
    const uint64_t threads = uint64_t(block.x) * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 ||
        threads > kMaxThreadsPerBlock || grid.x > 0x7fffffffu || grid.y > 65535 ||
        grid.z > 65535 || block.z > 64 || shared_bytes > 48 * 1024) {
        set_error(cudaErrorInvalidConfiguration,
                  std::string(kernel) + ": invalid launch configuration grid (" +
                      std::to_string(grid.x) + "," + std::to_string(grid.y) + "," +
                      std::to_string(grid.z) + ") block (" + std::to_string(block.x) + "," +
                      std::to_string(block.y) + "," + std::to_string(block.z) + ")");
        return;
    }
    if (sched.fibers.size() < threads) sched.fibers.resize(threads);
    for (uint64_t t = 0; t < threads; ++t) {
        Fiber& f = sched.fibers[t];
        if (!f.stack) f.stack.reset(new char[kStackBytes]);
        f.index = {unsigned(t % block.x), unsigned(t / block.x % block.y),
                   unsigned(t / (uint64_t(block.x) * block.y))};
    }
    sched.body = &body;
    sched.kernel = kernel;
    gridDim = grid;
    blockDim = block;
    ++launch_count;
    uint64_t order = launch_count;  // one-block grids alternate from launch to launch
    for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
            for (unsigned x = 0; x < grid.x; ++x) {
                blockIdx = {x, y, z};
                run_block(static_cast<int>(threads), ++order % 2 == 1);
                thread_count += threads;
            }
    sched.body = nullptr;
}

void clear_launch_failure() {
    last_error = cudaSuccess;
    last_error_text.clear();
}

size_t launches() { return launch_count; }
uint64_t threads_run() { return thread_count; }

}  // namespace kelvin_emu

void __syncthreads() { kelvin_emu::wait_in(kelvin_emu::State::AtBlockBarrier); }

// ---- runtime API ------------------------------------------------------------------------------
using kelvin_emu::last_error;

cudaError_t cudaGetDeviceCount(int* count) {
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* props, int device) {
    if (device != 0) return cudaErrorInvalidValue;
    std::snprintf(props->name, sizeof props->name, "kelvin host CUDA emulator");
    return cudaSuccess;
}
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
    // 256-byte aligned, as cudaMalloc's blocks are (float4 loads rely on 16).
    *ptr = std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) / 256 * 256);
    return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
    std::free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
    *free_bytes = *total_bytes = size_t(16) << 30;
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
    if (bytes) std::memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
    if (bytes) std::memset(dst, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
    return cudaMemset(dst, value, bytes);
}
// A barrier misuse found while a kernel ran is a launch failure, reported by the next
// synchronising call, as a fault inside a kernel is on a GPU.
cudaError_t cudaDeviceSynchronize() { return last_error; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return last_error; }
cudaError_t cudaGetLastError() {
    const cudaError_t error = last_error;
    // Like CUDA, a launch failure is sticky; a configuration error is cleared by reading it.
    if (error != cudaErrorLaunchFailure) last_error = cudaSuccess;
    return error;
}
const char* cudaGetErrorString(cudaError_t error) {
    switch (error) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorLaunchFailure: return "unspecified launch failure (emulator: see stderr)";
    }
    return "unknown error";
}

struct CUevent_st {
    std::chrono::steady_clock::time_point time;
};
cudaError_t cudaEventCreate(cudaEvent_t* event) {
    *event = new CUevent_st{};
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
    event->time = std::chrono::steady_clock::now();  // work is synchronous here
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
    *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
    delete event;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
struct CUstream_st {};
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
    *stream = new CUstream_st{};
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    delete stream;
    return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) { return cudaEventCreate(event); }

// ---- cuBLAS -----------------------------------------------------------------------------------
struct cublasContext {};
cublasStatus_t cublasCreate(cublasHandle_t* handle) {
    *handle = new cublasContext{};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t status) {
    return status == CUBLAS_STATUS_SUCCESS ? "success" : "invalid value";
}
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* a, int lda, const float* b, int ldb, const float* beta,
                           float* c, int ldc) {
    // cuBLAS's argument checks, which OpenBLAS would report by printing and carrying on.
    const int a_rows = transa == CUBLAS_OP_N ? m : k, b_rows = transb == CUBLAS_OP_N ? k : n;
    if (!handle || m < 0 || n < 0 || k < 0 || lda < std::max(1, a_rows) ||
        ldb < std::max(1, b_rows) || ldc < std::max(1, m))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    cblas_sgemm(CblasColMajor, transa == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                transb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, *alpha, a, lda, b,
                ldb, *beta, c, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

// ---- cuSOLVER ---------------------------------------------------------------------------------
struct cusolverDnContext {};
cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t* handle) {
    *handle = new cusolverDnContext{};
    return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t, cudaStream_t) {
    return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDgesvd_bufferSize(cusolverDnHandle_t, int m, int n, int* lwork) {
    // cuSOLVER's gesvd needs m >= n.
    if (m < n) return CUSOLVER_STATUS_INVALID_VALUE;
    double size = 0;
    LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'N', 'N', m, n, nullptr, m, nullptr, nullptr, 1,
                        nullptr, 1, &size, -1);
    *lwork = static_cast<int>(size);
    return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDgesvd(cusolverDnHandle_t, signed char jobu, signed char jobvt, int m,
                                  int n, double* a, int lda, double* s, double* u, int ldu,
                                  double* vt, int ldvt, double* work, int lwork, double*,
                                  int* info) {
    if (m < n) return CUSOLVER_STATUS_INVALID_VALUE;
    *info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, jobu, jobvt, m, n, a, lda, s, u,
                                std::max(1, ldu), vt, std::max(1, ldvt), work, lwork);
    return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDgeqrf_bufferSize(cusolverDnHandle_t, int m, int n, double* a, int lda,
                                             int* lwork) {
    double size = 0;
    LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, a, lda, nullptr, &size, -1);
    *lwork = static_cast<int>(size);
    return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDgeqrf(cusolverDnHandle_t, int m, int n, double* a, int lda,
                                  double* tau, double* work, int lwork, int* info) {
    *info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, a, lda, tau, work, lwork);
    return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDsyevd_bufferSize(cusolverDnHandle_t, cusolverEigMode_t jobz,
                                             cublasFillMode_t uplo, int n, const double*, int lda,
                                             const double*, int* lwork) {
    double size = 0;
    lapack_int isize = 0;
    LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz == CUSOLVER_EIG_MODE_VECTOR ? 'V' : 'N',
                        uplo == CUBLAS_FILL_MODE_UPPER ? 'U' : 'L', n, nullptr, lda, nullptr,
                        &size, -1, &isize, -1);
    *lwork = static_cast<int>(size);
    return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDsyevd(cusolverDnHandle_t, cusolverEigMode_t jobz,
                                  cublasFillMode_t uplo, int n, double* a, int lda, double* w,
                                  double* work, int lwork, int* info) {
    const char job = jobz == CUSOLVER_EIG_MODE_VECTOR ? 'V' : 'N';
    const char fill = uplo == CUBLAS_FILL_MODE_UPPER ? 'U' : 'L';
    double size = 0;
    lapack_int isize = 0;
    LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, job, fill, n, a, lda, w, &size, -1, &isize, -1);
    std::vector<lapack_int> iwork(static_cast<size_t>(std::max<lapack_int>(isize, 1)));
    *info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, job, fill, n, a, lda, w, work, lwork,
                                iwork.data(), static_cast<lapack_int>(iwork.size()));
    return CUSOLVER_STATUS_SUCCESS;
}
