#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "engine/device.h"

namespace kelvin::optim {

float Schedule::lr_at(int64_t step) const {
    if (warmup_steps > 0 && step < warmup_steps)
        return base_lr * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
    const int64_t after = step - warmup_steps;
    if (kind == "step") return base_lr * std::pow(gamma, static_cast<float>(after / step_size));
    if (kind == "cosine") {
        const int64_t span = std::max<int64_t>(total_steps - warmup_steps, 1);
        const double progress = std::min(1.0, static_cast<double>(after) / span);
        return min_lr + (base_lr - min_lr) * 0.5f * static_cast<float>(1.0 + std::cos(M_PI * progress));
    }
    return base_lr;
}

void validate(const Schedule& s) {
    KELVIN_CHECK(s.kind == "constant" || s.kind == "step" || s.kind == "cosine",
                 "unknown lr schedule '" + s.kind + "': expected constant, step or cosine");
    KELVIN_CHECK(s.base_lr > 0 && std::isfinite(s.base_lr), "learning rate must be positive");
    KELVIN_CHECK(s.warmup_steps >= 0, "warm-up steps must be >= 0");
    KELVIN_CHECK(s.step_size >= 1, "lr step size must be >= 1");
}

}  // namespace kelvin::optim
