// Optimizer updates, one pass over memory per parameter tensor (PyTorch semantics; the formulas
// are in kernels/optimizer.h). Step-dependent scalars (Adam's bias corrections) are computed on
// the host once per call, the way the CPU reference computes them, rather than per element.
#include "kernels/optimizer.h"

#include <cmath>
#include <string>

#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

namespace {

// With no momentum PyTorch keeps no buffer: the host passes momentum_buffer = null and the
// update is plain (weight-decayed) gradient descent.
__global__ void sgd_kernel(float* param, const float* grad, float* momentum_buffer, int64_t n,
                           float lr, float momentum, float weight_decay, bool nesterov,
                           bool first_step) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) {
        float g = grad[i] + weight_decay * param[i];
        float direction = g;
        if (momentum_buffer) {
            float buffer = first_step ? g : momentum * momentum_buffer[i] + g;
            momentum_buffer[i] = buffer;
            direction = nesterov ? g + momentum * buffer : buffer;
        }
        param[i] -= lr * direction;
    }
}

// Decoupled weight decay applies to the parameter before this step's update, as in
// torch.optim.AdamW. The update is arranged as PyTorch (and the CPU reference) arrange it:
// step_size * m / (sqrt(v) / sqrt(bias_correction2) + eps), step_size = lr / bias_correction1,
// which equals the header's lr * m_hat / (sqrt(v_hat) + eps).
__global__ void adamw_kernel(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                             int64_t n, float beta1, float beta2, float eps, float decay_factor,
                             float step_size, float sqrt_bias_correction2) {
    for (int64_t i = global_thread_index(); i < n; i += grid_stride()) {
        float g = grad[i];
        float m = beta1 * exp_avg[i] + (1.0f - beta1) * g;
        float v = beta2 * exp_avg_sq[i] + (1.0f - beta2) * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        float denominator = sqrtf(v) / sqrt_bias_correction2 + eps;
        param[i] = param[i] * decay_factor - step_size * m / denominator;
    }
}

}  // namespace

void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n, float lr,
              float momentum, float weight_decay, bool nesterov, bool first_step) {
    if (n == 0) return;
    if (momentum == 0.0f) momentum_buffer = nullptr;  // untouched, as on the CPU
    // launch: 256 threads, occupancy >= 100%
    sgd_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(
        param, grad, momentum_buffer, n, lr, momentum, weight_decay, nesterov, first_step);
    CUDA_CHECK_LAUNCH();
}

void adamw_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                float lr, float beta1, float beta2, float eps, float weight_decay,
                int64_t step) {
    KELVIN_CHECK(step >= 1, "adamw_step: step counts from 1, got " + std::to_string(step));
    if (n == 0) return;
    double t = static_cast<double>(step);
    float bias_correction1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), t));
    float bias_correction2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), t));
    float step_size = lr / bias_correction1;
    float decay_factor = 1.0f - lr * weight_decay;
    // launch: 256 threads, occupancy >= 75%
    adamw_kernel<<<grid_size(n), kBlockSize, 0, current_stream()>>>(
        param, grad, exp_avg, exp_avg_sq, n, beta1, beta2, eps, decay_factor, step_size,
        std::sqrt(bias_correction2));
    CUDA_CHECK_LAUNCH();
}

}  // namespace kelvin::cuda
