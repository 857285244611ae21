#include "kernels/optimizer.h"

#include <cmath>

#include "kernels/cpu/parallel.h"

namespace kelvin::cpu {

void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n, float lr,
              float momentum, float weight_decay, bool nesterov, bool first_step) {
    if (momentum == 0.0f) {
        KELVIN_PARALLEL_FOR(n)
        for (int64_t i = 0; i < n; ++i) param[i] -= lr * (grad[i] + weight_decay * param[i]);
        return;
    }
    // PyTorch initialises the buffer with the first gradient (no dampening); the old buffer is
    // not read then, as on the GPU, so a never-written buffer cannot leak a NaN in.
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) {
        float g = grad[i] + weight_decay * param[i];
        float buf = first_step ? g : momentum * momentum_buffer[i] + g;
        momentum_buffer[i] = buf;
        param[i] -= lr * (nesterov ? g + momentum * buf : buf);
    }
}

void adamw_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step) {
    const float bias1 = 1.0f - static_cast<float>(std::pow(beta1, step));
    const float bias2_sqrt = std::sqrt(1.0f - static_cast<float>(std::pow(beta2, step)));
    const float step_size = lr / bias1;
    const float decay = 1.0f - lr * weight_decay;
    KELVIN_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; ++i) {
        float g = grad[i];
        float m = beta1 * exp_avg[i] + (1.0f - beta1) * g;
        float v = beta2 * exp_avg_sq[i] + (1.0f - beta2) * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] = param[i] * decay - step_size * m / (std::sqrt(v) / bias2_sqrt + eps);
    }
}

}  // namespace kelvin::cpu
