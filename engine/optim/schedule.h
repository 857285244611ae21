// Learning-rate schedules as pure functions of the step: constant, step decay, cosine, each
// with an optional linear warm-up from 0. Pure, so a resumed run gets the same rate.
#pragma once

#include <cstdint>
#include <string>

namespace kelvin::optim {

struct Schedule {
    std::string kind = "constant";  // constant | step | cosine
    float base_lr = 0.01f;
    int64_t total_steps = 1;
    int64_t warmup_steps = 0;
    int64_t step_size = 1;   // step decay: multiply by gamma every step_size steps
    float gamma = 0.1f;
    float min_lr = 0.0f;     // cosine floor

    float lr_at(int64_t step) const;
};

void validate(const Schedule& schedule);  // throws kelvin::Error naming the bad field

}  // namespace kelvin::optim
