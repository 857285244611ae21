#include "engine/optim/train_step.h"

#include <cmath>

#include "engine/ops.h"
#include "engine/trace.h"

namespace kelvin::optim {

StepResult train_step(const std::function<Tensor(const Tensor&)>& forward, Optimizer& optimizer,
                      const Tensor& inputs, const Tensor& labels, float temperature,
                      bool check_finite) {
    StepResult result;
    optimizer.zero_grad();
    {
        trace::PhaseScope forward_phase("forward");  // an NVTX range under Nsight
        result.logits = forward(inputs);
        result.loss = ops::softmax_cross_entropy(result.logits, labels, temperature);
    }
    if (check_finite) {
        result.loss_value = result.loss.item();
        if (!std::isfinite(result.loss_value)) return result;
    }
    result.loss.backward();
    optimizer.step();
    result.stepped = true;
    return result;
}

}  // namespace kelvin::optim
