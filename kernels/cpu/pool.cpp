// Pooling on the CPU: one plane per loop iteration, planes split across OpenMP threads.
// Backward passes scatter into a zeroed plane in increasing output order; the CUDA kernels
// gather in the same order, so both devices add the same terms in the same sequence.
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

namespace {
// Window [start, end) of output index o along one axis, clipped to the input.
inline void window(int64_t o, int64_t size, const PoolShape& s, int64_t& start, int64_t& end) {
    start = o * s.stride - s.padding;
    end = std::min(start + s.kernel, size);
    start = std::max<int64_t>(start, 0);
}
}  // namespace

namespace {
// The 2x2, stride-2, unpadded window of VGG and most CNNs, unrolled: the same visiting order
// and comparison as the general loop below (first maximum wins ties, a NaN always replaces),
// without its per-element window arithmetic. It was ~4% of a VGG-11 training step.
void max_pool_2x2(const float* x, float* y, int32_t* argmax, const PoolShape& s) {
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
#pragma omp parallel for schedule(static) if (s.planes * out_plane * 4 > kParallelThreshold)
    for (int64_t p = 0; p < s.planes; ++p) {
        const float* in = x + p * in_plane;
        float* out = y + p * out_plane;
        int32_t* index = argmax + p * out_plane;
        for (int64_t oh = 0; oh < s.out_h; ++oh) {
            const float* row0 = in + 2 * oh * s.in_w;
            const float* row1 = row0 + s.in_w;
            const int32_t base = static_cast<int32_t>(2 * oh * s.in_w);
            for (int64_t ow = 0; ow < s.out_w; ++ow) {
                const float candidates[4] = {row0[2 * ow], row0[2 * ow + 1], row1[2 * ow],
                                             row1[2 * ow + 1]};
                const int32_t offsets[4] = {0, 1, static_cast<int32_t>(s.in_w),
                                            static_cast<int32_t>(s.in_w) + 1};
                float best = -std::numeric_limits<float>::infinity();
                int32_t best_offset = 0;
                for (int k = 0; k < 4; ++k)
                    if (candidates[k] > best || std::isnan(candidates[k])) {
                        best = candidates[k];
                        best_offset = offsets[k];
                    }
                out[oh * s.out_w + ow] = best;
                index[oh * s.out_w + ow] = base + static_cast<int32_t>(2 * ow) + best_offset;
            }
        }
    }
}
}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const PoolShape& s) {
    if (s.kernel == 2 && s.stride == 2 && s.padding == 0) {
        max_pool_2x2(x, y, argmax, s);
        return;
    }
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
#pragma omp parallel for schedule(static) if (s.planes * out_plane * s.kernel * s.kernel > kParallelThreshold)
    for (int64_t p = 0; p < s.planes; ++p) {
        const float* in = x + p * in_plane;
        for (int64_t oh = 0; oh < s.out_h; ++oh) {
            int64_t h0, h1;
            window(oh, s.in_h, s, h0, h1);
            for (int64_t ow = 0; ow < s.out_w; ++ow) {
                int64_t w0, w1;
                window(ow, s.in_w, s, w0, w1);
                // As PyTorch: start at the window's first element with -inf and take strictly
                // greater values, so the first maximum wins ties; a NaN always replaces.
                int64_t best_index = h0 * s.in_w + w0;
                float best = -std::numeric_limits<float>::infinity();
                for (int64_t ih = h0; ih < h1; ++ih)
                    for (int64_t iw = w0; iw < w1; ++iw) {
                        const float v = in[ih * s.in_w + iw];
                        if (v > best || std::isnan(v)) {
                            best = v;
                            best_index = ih * s.in_w + iw;
                        }
                    }
                const int64_t o = p * out_plane + oh * s.out_w + ow;
                y[o] = best;
                argmax[o] = static_cast<int32_t>(best_index);
            }
        }
    }
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const PoolShape& s) {
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
#pragma omp parallel for schedule(static) if (s.planes * (in_plane + out_plane) > kParallelThreshold)
    for (int64_t p = 0; p < s.planes; ++p) {
        float* plane = dx + p * in_plane;
        std::fill(plane, plane + in_plane, 0.0f);
        for (int64_t o = p * out_plane; o < (p + 1) * out_plane; ++o) plane[argmax[o]] += dy[o];
    }
}

void avg_pool2d_forward(const float* x, float* y, const PoolShape& s) {
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
    const float inverse_area = 1.0f / static_cast<float>(s.kernel * s.kernel);
#pragma omp parallel for schedule(static) if (s.planes * out_plane * s.kernel * s.kernel > kParallelThreshold)
    for (int64_t p = 0; p < s.planes; ++p) {
        const float* in = x + p * in_plane;
        for (int64_t oh = 0; oh < s.out_h; ++oh) {
            int64_t h0, h1;
            window(oh, s.in_h, s, h0, h1);
            for (int64_t ow = 0; ow < s.out_w; ++ow) {
                int64_t w0, w1;
                window(ow, s.in_w, s, w0, w1);
                float total = 0.0f;
                for (int64_t ih = h0; ih < h1; ++ih)
                    for (int64_t iw = w0; iw < w1; ++iw) total += in[ih * s.in_w + iw];
                y[p * out_plane + oh * s.out_w + ow] = total * inverse_area;
            }
        }
    }
}

void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s) {
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
    const float inverse_area = 1.0f / static_cast<float>(s.kernel * s.kernel);
#pragma omp parallel for schedule(static) if (s.planes * out_plane * s.kernel * s.kernel > kParallelThreshold)
    for (int64_t p = 0; p < s.planes; ++p) {
        float* plane = dx + p * in_plane;
        std::fill(plane, plane + in_plane, 0.0f);
        for (int64_t oh = 0; oh < s.out_h; ++oh) {
            int64_t h0, h1;
            window(oh, s.in_h, s, h0, h1);
            for (int64_t ow = 0; ow < s.out_w; ++ow) {
                int64_t w0, w1;
                window(ow, s.in_w, s, w0, w1);
                const float share = dy[p * out_plane + oh * s.out_w + ow] * inverse_area;
                for (int64_t ih = h0; ih < h1; ++ih)
                    for (int64_t iw = w0; iw < w1; ++iw) plane[ih * s.in_w + iw] += share;
            }
        }
    }
}

void global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t plane_size) {
    const float inverse = 1.0f / static_cast<float>(plane_size);
#pragma omp parallel for schedule(static) if (planes * plane_size > kParallelThreshold)
    for (int64_t p = 0; p < planes; ++p) {
        const float* in = x + p * plane_size;
        float total = 0.0f;
#pragma omp simd reduction(+ : total)
        for (int64_t i = 0; i < plane_size; ++i) total += in[i];
        y[p] = total * inverse;
    }
}

void global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t plane_size) {
    const float inverse = 1.0f / static_cast<float>(plane_size);
#pragma omp parallel for schedule(static) if (planes * plane_size > kParallelThreshold)
    for (int64_t p = 0; p < planes; ++p) {
        const float share = dy[p] * inverse;
        std::fill(dx + p * plane_size, dx + (p + 1) * plane_size, share);
    }
}

}  // namespace kelvin::cpu
