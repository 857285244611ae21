// The host CUDA emulator itself (tests/cuda_emulator; built with -DKELVIN_CUDA_EMULATOR=ON):
// block barriers, warp shuffles and their exited lanes, launch-configuration errors, barrier
// misuse reported as a launch failure, and a missing __syncthreads showing as a wrong result,
// which is what makes the emulated parity tests of kernels/cuda worth running.
#include <doctest/doctest.h>

#if KELVIN_CUDA_EMULATED

#include <cuda_runtime.h>

#include <vector>

namespace {

constexpr int kThreads = 64;

// Each block reverses its 64 values through shared memory.
__global__ void reverse_kernel(const int* in, int* out, bool synchronise) {
    __shared__ int tile[kThreads];
    const int t = threadIdx.x, base = blockIdx.x * kThreads;
    tile[t] = in[base + t];
    if (synchronise) __syncthreads();
    out[base + t] = tile[kThreads - 1 - t];
}

// Thread 0 fills the block's slot, every thread reads it.
__global__ void broadcast_kernel(int* out, bool synchronise) {
    __shared__ int slot[1];
    if (threadIdx.x == 0) slot[0] = 1000 + static_cast<int>(blockIdx.x);
    if (synchronise) __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = slot[0];
}

__global__ void warp_sum_kernel(const float* in, float* out) {
    float v = in[blockIdx.x * blockDim.x + threadIdx.x];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

__global__ void shuffle_down_kernel(int* out) {
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x), 4);
}

// Threads past `live` exit; the others still meet at two barriers.
__global__ void early_exit_kernel(int* out, int live) {
    __shared__ int count[1];
    if (static_cast<int>(threadIdx.x) >= live) return;
    if (threadIdx.x == 0) count[0] = 0;
    __syncthreads();
    atomicAdd(&count[0], 1);
    __syncthreads();
    out[threadIdx.x] = count[0];
}

// Half of a warp waits at a full-warp shuffle, the other half at __syncthreads: undefined on a
// GPU (a hang or garbage). (A whole warp at a shuffle while another waits at __syncthreads is
// fine: each barrier completes.)
__global__ void divergent_kernel(float* out) {
    if (threadIdx.x < 16)
        out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
    else
        __syncthreads();
}

template <typename Kernel, typename... Args>
void launch(const char* name, dim3 grid, dim3 block, Kernel kernel, Args... args) {
    kelvin_emu::launch(name, grid, block)(kernel, args...);
}

}  // namespace

TEST_CASE("cuda emulator: __syncthreads orders shared-memory writes before reads") {
    std::vector<int> in(3 * kThreads), out(in.size(), -1);
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int>(i);
    launch("reverse", 3, kThreads, [](auto&... a) { reverse_kernel(a...); }, in.data(), out.data(),
           true);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    for (int b = 0; b < 3; ++b)
        for (int t = 0; t < kThreads; ++t)
            CHECK(out[b * kThreads + t] == b * kThreads + kThreads - 1 - t);

    // Without the barrier, thread 0 runs to the end before thread 63 has written its value, so
    // the read is stale: a missing __syncthreads shows as a wrong result here.
    std::vector<int> unsynchronised(in.size(), -1);
    launch("reverse", 3, kThreads, [](auto&... a) { reverse_kernel(a...); }, in.data(),
           unsynchronised.data(), false);
    CHECK(unsynchronised != out);

    // The other way round: the writer has the lowest index. Blocks alternate the order in which
    // their threads run, so this missing barrier shows too.
    std::vector<int> broadcast(2 * kThreads), unsynchronised_broadcast(2 * kThreads);
    launch("broadcast", 2, kThreads, [](auto&... a) { broadcast_kernel(a...); }, broadcast.data(),
           true);
    for (size_t i = 0; i < broadcast.size(); ++i)
        CHECK(broadcast[i] == 1000 + static_cast<int>(i / kThreads));
    launch("broadcast", 2, kThreads, [](auto&... a) { broadcast_kernel(a...); },
           unsynchronised_broadcast.data(), false);
    CHECK(unsynchronised_broadcast != broadcast);
}

TEST_CASE("cuda emulator: warp shuffles exchange values between the lanes of each warp") {
    std::vector<float> in(2 * 64), out(in.size());
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
    launch("warp_sum", 2, 64, [](auto&... a) { warp_sum_kernel(a...); }, in.data(), out.data());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    for (size_t i = 0; i < in.size(); ++i) {
        const size_t first = i / 32 * 32;
        CHECK(out[i] == doctest::Approx(32.0 * first + 31 * 32 / 2));
    }
    // __shfl_down_sync: lanes past the end of the warp keep their own value.
    std::vector<int> down(32);
    launch("shuffle_down", 1, 32, [](auto&... a) { shuffle_down_kernel(a...); }, down.data());
    for (int lane = 0; lane < 32; ++lane) CHECK(down[lane] == (lane + 4 < 32 ? lane + 4 : lane));
}

TEST_CASE("cuda emulator: exited threads do not hold a barrier up") {
    std::vector<int> out(kThreads, -1);
    launch("early_exit", 1, kThreads, [](auto&... a) { early_exit_kernel(a...); }, out.data(), 40);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    for (int t = 0; t < 40; ++t) CHECK(out[t] == 40);
    for (int t = 40; t < kThreads; ++t) CHECK(out[t] == -1);
}

TEST_CASE("cuda emulator: bad launch configurations and barrier misuse are CUDA errors") {
    std::vector<float> out(64);
    launch("too_many_threads", 1, 2048, [](auto&... a) { warp_sum_kernel(a...); }, out.data(),
           out.data());
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CHECK(cudaGetLastError() == cudaSuccess);  // read once, then cleared
    launch("empty_grid", 0, 32, [](auto&... a) { warp_sum_kernel(a...); }, out.data(), out.data());
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);

    // Divergent barriers are a launch failure, sticky as a kernel fault is on a GPU (every later
    // CUDA call of the process would fail), so the test clears it through the emulator's hook.
    launch("divergent", 1, 32, [](auto&... a) { divergent_kernel(a...); }, out.data());
    CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
    kelvin_emu::clear_launch_failure();
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
}

#endif  // KELVIN_CUDA_EMULATED
