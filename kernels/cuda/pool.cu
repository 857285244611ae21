// Pooling on the GPU. Forward: one thread per output element. Backward: one thread per input
// element that gathers from every window containing it, in increasing output order: no
// atomics (overlapping 3x3/stride-2 windows would need them for a scatter), deterministic, and
// the same additions in the same order as the CPU's scatter, so max-pool gradients match the
// CPU bit for bit. Global average: one warp per plane.
#include "kernels/pool.h"

#include <cmath>

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

// Output windows along one axis that contain input index `in`: [first, last], possibly empty.
__device__ inline void windows_containing(int64_t in, int64_t out_size, const PoolShape& s,
                                          int64_t& first, int64_t& last) {
    // o * stride - padding <= in < o * stride - padding + kernel
    const int64_t low = in + s.padding - s.kernel + 1;  // smallest o * stride
    first = low <= 0 ? 0 : (low + s.stride - 1) / s.stride;
    last = min((in + s.padding) / s.stride, out_size - 1);
}

// Window [start, end) of output index o along one axis, clipped to the input.
__device__ inline void window(int64_t o, int64_t size, const PoolShape& s, int64_t& start,
                              int64_t& end) {
    start = o * s.stride - s.padding;
    end = min(start + s.kernel, size);
    start = max(start, int64_t{0});
}

__global__ void max_pool_forward_kernel(const float* x, float* y, int32_t* argmax,
                                        const PoolShape s) {
    const int64_t out_plane = s.out_h * s.out_w, count = s.planes * out_plane;
    for (int64_t index = global_thread_index(); index < count; index += grid_stride()) {
        const int64_t p = index / out_plane, r = index - p * out_plane;
        const int64_t oh = r / s.out_w, ow = r - oh * s.out_w;
        int64_t h0, h1, w0, w1;
        window(oh, s.in_h, s, h0, h1);
        window(ow, s.in_w, s, w0, w1);
        const float* in = x + p * s.in_h * s.in_w;
        // As the CPU (and PyTorch): strictly greater wins, so ties go to the first maximum.
        int64_t best_index = h0 * s.in_w + w0;
        float best = -INFINITY;
        for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) {
                const float v = in[ih * s.in_w + iw];
                if (v > best || isnan(v)) {
                    best = v;
                    best_index = ih * s.in_w + iw;
                }
            }
        y[index] = best;
        argmax[index] = static_cast<int32_t>(best_index);
    }
}

__global__ void max_pool_backward_kernel(const float* dy, const int32_t* argmax, float* dx,
                                         const PoolShape s) {
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
    const int64_t count = s.planes * in_plane;
    for (int64_t index = global_thread_index(); index < count; index += grid_stride()) {
        const int64_t p = index / in_plane, r = index - p * in_plane;
        const int64_t ih = r / s.in_w, iw = r - ih * s.in_w;
        int64_t oh0, oh1, ow0, ow1;
        windows_containing(ih, s.out_h, s, oh0, oh1);
        windows_containing(iw, s.out_w, s, ow0, ow1);
        float total = 0.0f;
        for (int64_t oh = oh0; oh <= oh1; ++oh)
            for (int64_t ow = ow0; ow <= ow1; ++ow) {
                const int64_t o = p * out_plane + oh * s.out_w + ow;
                if (argmax[o] == r) total += dy[o];
            }
        dx[index] = total;
    }
}

__global__ void avg_pool_forward_kernel(const float* x, float* y, const PoolShape s) {
    const int64_t out_plane = s.out_h * s.out_w, count = s.planes * out_plane;
    const float inverse_area = 1.0f / static_cast<float>(s.kernel * s.kernel);
    for (int64_t index = global_thread_index(); index < count; index += grid_stride()) {
        const int64_t p = index / out_plane, r = index - p * out_plane;
        const int64_t oh = r / s.out_w, ow = r - oh * s.out_w;
        int64_t h0, h1, w0, w1;
        window(oh, s.in_h, s, h0, h1);
        window(ow, s.in_w, s, w0, w1);
        const float* in = x + p * s.in_h * s.in_w;
        float total = 0.0f;
        for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) total += in[ih * s.in_w + iw];
        y[index] = total * inverse_area;
    }
}

__global__ void avg_pool_backward_kernel(const float* dy, float* dx, const PoolShape s) {
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
    const int64_t count = s.planes * in_plane;
    const float inverse_area = 1.0f / static_cast<float>(s.kernel * s.kernel);
    for (int64_t index = global_thread_index(); index < count; index += grid_stride()) {
        const int64_t p = index / in_plane, r = index - p * in_plane;
        const int64_t ih = r / s.in_w, iw = r - ih * s.in_w;
        int64_t oh0, oh1, ow0, ow1;
        windows_containing(ih, s.out_h, s, oh0, oh1);
        windows_containing(iw, s.out_w, s, ow0, ow1);
        float total = 0.0f;
        for (int64_t oh = oh0; oh <= oh1; ++oh)
            for (int64_t ow = ow0; ow <= ow1; ++ow)
                // __fmul_rn: no FMA contraction, so each term rounds as the CPU's `share` does.
                total += __fmul_rn(dy[p * out_plane + oh * s.out_w + ow], inverse_area);
        dx[index] = total;
    }
}

// One warp per plane: lanes stride over the plane, then a shuffle tree.
__global__ void global_avg_pool_forward_kernel(const float* x, float* y, int64_t planes,
                                               int64_t plane_size) {
    const int lane = threadIdx.x % 32;
    const int64_t warps = grid_stride() / 32;
    const float inverse = 1.0f / static_cast<float>(plane_size);
    for (int64_t p = global_thread_index() / 32; p < planes; p += warps) {
        const float* in = x + p * plane_size;
        float total = 0.0f;
        for (int64_t i = lane; i < plane_size; i += 32) total += in[i];
        for (int offset = 16; offset > 0; offset /= 2)
            total += __shfl_down_sync(0xffffffffu, total, offset);
        if (lane == 0) y[p] = total * inverse;
    }
}

__global__ void global_avg_pool_backward_kernel(const float* dy, float* dx, int64_t planes,
                                                int64_t plane_size) {
    const float inverse = 1.0f / static_cast<float>(plane_size);
    const int64_t count = planes * plane_size;
    for (int64_t index = global_thread_index(); index < count; index += grid_stride())
        dx[index] = dy[index / plane_size] * inverse;
}

bool empty(const PoolShape& s) { return s.planes == 0 || s.out_h <= 0 || s.out_w <= 0; }

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const PoolShape& s) {
    if (empty(s)) return;
    // launch: 256 threads, occupancy >= 75%
    max_pool_forward_kernel<<<grid_size(s.planes * s.out_h * s.out_w), kBlockSize, 0,
                              current_stream()>>>(x, y, argmax, s);
    CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const PoolShape& s) {
    if (empty(s)) return;
    // launch: 256 threads, occupancy >= 62%
    max_pool_backward_kernel<<<grid_size(s.planes * s.in_h * s.in_w), kBlockSize, 0,
                               current_stream()>>>(dy, argmax, dx, s);
    CUDA_CHECK_LAUNCH();
}

void avg_pool2d_forward(const float* x, float* y, const PoolShape& s) {
    if (empty(s)) return;
    // launch: 256 threads, occupancy >= 75%
    avg_pool_forward_kernel<<<grid_size(s.planes * s.out_h * s.out_w), kBlockSize, 0,
                              current_stream()>>>(x, y, s);
    CUDA_CHECK_LAUNCH();
}

void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s) {
    if (empty(s)) return;
    // launch: 256 threads, occupancy >= 75%
    avg_pool_backward_kernel<<<grid_size(s.planes * s.in_h * s.in_w), kBlockSize, 0,
                               current_stream()>>>(dy, dx, s);
    CUDA_CHECK_LAUNCH();
}

void global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t plane_size) {
    if (planes == 0) return;
    // launch: 256 threads, occupancy >= 100%
    global_avg_pool_forward_kernel<<<grid_size(planes * 32), kBlockSize, 0, current_stream()>>>(
        x, y, planes, plane_size);
    CUDA_CHECK_LAUNCH();
}

void global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t plane_size) {
    if (planes == 0 || plane_size == 0) return;
    // launch: 256 threads, occupancy >= 100%
    global_avg_pool_backward_kernel<<<grid_size(planes * plane_size), kBlockSize, 0,
                                      current_stream()>>>(dy, dx, planes, plane_size);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
