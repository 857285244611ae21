#include "kernels/softmax_cross_entropy.h"

#include <algorithm>
#include <cmath>

namespace kelvin::cpu {

void softmax_cross_entropy_forward(const float* logits, const int32_t* labels, float* row_loss,
                                   float* row_logsumexp, int64_t rows, int64_t classes,
                                   float temperature) {
    const float inv_t = 1.0f / temperature;
    for (int64_t r = 0; r < rows; ++r) {
        const float* z = logits + r * classes;
        float max_scaled = z[0] * inv_t;
        for (int64_t c = 1; c < classes; ++c) max_scaled = std::max(max_scaled, z[c] * inv_t);
        double sum = 0.0;
        for (int64_t c = 0; c < classes; ++c) sum += std::exp(z[c] * inv_t - max_scaled);
        float lse = max_scaled + static_cast<float>(std::log(sum));
        row_logsumexp[r] = lse;
        row_loss[r] = lse - z[labels[r]] * inv_t;
    }
}

void softmax_cross_entropy_backward(const float* logits, const int32_t* labels,
                                    const float* row_logsumexp, const float* grad_scale,
                                    float* grad_logits, int64_t rows, int64_t classes,
                                    float temperature) {
    const float inv_t = 1.0f / temperature;
    const float s = grad_scale[0] * inv_t;
    for (int64_t r = 0; r < rows; ++r) {
        const float* z = logits + r * classes;
        float* g = grad_logits + r * classes;
        const float lse = row_logsumexp[r];
        for (int64_t c = 0; c < classes; ++c) g[c] = s * std::exp(z[c] * inv_t - lse);
        g[labels[r]] -= s;
    }
}

}  // namespace kelvin::cpu
