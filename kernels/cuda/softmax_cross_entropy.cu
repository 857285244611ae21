// Softmax cross-entropy with temperature T, fused.
// Forward: one warp per row reads the row once, keeping a running (max, sum of exp(v - max))
// per lane (the "online" logsumexp), merges the 32 lanes' pairs, and writes the row's loss
// and logsumexp. Backward: one thread per logit, softmax recomputed from the saved logsumexp.
// A label outside [0, classes) cannot throw from a kernel; it makes that row's loss and
// gradient NaN, which the training loop reports.
#include "kernels/softmax_cross_entropy.h"

#include <cmath>

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {


// Adds the partial logsumexp (other_max, other_sum) to (max, sum), where sum is the sum of
// exp(v - max) over the values seen. (-inf, 0) is the empty set, and merging two empty sets
// must not compute exp(-inf - -inf) = NaN. A NaN value leaves max alone (fmaxf ignores NaN)
// but makes the sum NaN, so the loss is NaN as it should be.
__device__ void merge_logsumexp(float& max, float& sum, float other_max, float other_sum) {
    float new_max = fmaxf(max, other_max);
    if (new_max == -INFINITY) {
        // fmaxf(-inf, NaN) is -inf: without this a NaN first seen here would be dropped.
        if (isnan(other_max) || isnan(other_sum)) sum = NAN;
        return;
    }
    sum = sum * expf(max - new_max) + other_sum * expf(other_max - new_max);
    max = new_max;
}

__device__ bool valid_label(int32_t label, int64_t classes) {
    return label >= 0 && label < classes;
}

__global__ void forward_kernel(const float* logits, const int32_t* labels, float* row_loss,
                               float* row_logsumexp, int64_t rows, int64_t classes,
                               float inverse_temperature) {
    int lane = threadIdx.x % 32;
    int64_t first_row = global_thread_index() / 32;
    int64_t row_step = grid_stride() / 32;
    for (int64_t row = first_row; row < rows; row += row_step) {  // uniform across the warp
        const float* z = logits + row * classes;
        float max = -INFINITY;
        float sum = 0.0f;
        for (int64_t c = lane; c < classes; c += 32)
            merge_logsumexp(max, sum, z[c] * inverse_temperature, 1.0f);
        for (int offset = 16; offset > 0; offset /= 2) {
            float other_max = __shfl_down_sync(kFullWarp, max, offset);
            float other_sum = __shfl_down_sync(kFullWarp, sum, offset);
            merge_logsumexp(max, sum, other_max, other_sum);
        }
        if (lane == 0) {
            float logsumexp = max + logf(sum);
            int32_t label = labels[row];
            row_logsumexp[row] = logsumexp;
            row_loss[row] =
                valid_label(label, classes) ? logsumexp - z[label] * inverse_temperature : NAN;
        }
    }
}

__global__ void backward_kernel(const float* logits, const int32_t* labels,
                                const float* row_logsumexp, const float* grad_scale,
                                float* grad_logits, int64_t rows, int64_t classes,
                                float inverse_temperature) {
    // Read on the device so that the loss's upstream gradient never travels to the host.
    float scale_over_t = grad_scale[0] * inverse_temperature;
    int64_t n = rows * classes;
    // (row, c) of element i, advanced by the grid stride without a 64-bit division per element.
    int64_t i = global_thread_index();
    int64_t row = i / classes;
    int64_t c = i % classes;
    const int64_t row_step = grid_stride() / classes;
    const int64_t c_step = grid_stride() % classes;
    for (; i < n; i += grid_stride(), row += row_step, c += c_step) {
        if (c >= classes) {
            c -= classes;
            ++row;
        }
        int32_t label = labels[row];
        float probability = expf(logits[i] * inverse_temperature - row_logsumexp[row]);
        float target = c == label ? 1.0f : 0.0f;
        grad_logits[i] = valid_label(label, classes) ? scale_over_t * (probability - target) : NAN;
    }
}

}  // namespace

void softmax_cross_entropy_forward(const float* logits, const int32_t* labels, float* row_loss,
                                   float* row_logsumexp, int64_t rows, int64_t classes,
                                   float temperature) {
    if (rows == 0) return;
    KELVIN_CHECK(classes > 0, "softmax_cross_entropy_forward: need at least one class");
    // launch: 256 threads, occupancy >= 100%
    forward_kernel<<<grid_size(rows * 32), kBlockSize, 0, current_stream()>>>(
        logits, labels, row_loss, row_logsumexp, rows, classes, 1.0f / temperature);
    CUDA_CHECK_LAUNCH();
}

void softmax_cross_entropy_backward(const float* logits, const int32_t* labels,
                                    const float* row_logsumexp, const float* grad_scale,
                                    float* grad_logits, int64_t rows, int64_t classes,
                                    float temperature) {
    if (rows == 0 || classes == 0) return;
    // launch: 256 threads, occupancy >= 75%
    backward_kernel<<<grid_size(rows * classes), kBlockSize, 0, current_stream()>>>(
        logits, labels, row_logsumexp, grad_scale, grad_logits, rows, classes,
        1.0f / temperature);
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
