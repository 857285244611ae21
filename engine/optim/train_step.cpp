#include "engine/optim/train_step.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/trace.h"

namespace kelvin::optim {

StepResult train_step(const std::function<Tensor(const Tensor&)>& forward, Optimizer& optimizer,
                      const Tensor& inputs, const Tensor& labels, float temperature,
                      bool check_finite, const StepHooks& hooks) {
    StepResult result;
    optimizer.zero_grad();
    if (hooks.before_forward) hooks.before_forward();
    {
        trace::PhaseScope forward_phase("forward");  // an NVTX range under Nsight
        result.logits = forward(inputs);
        result.loss = ops::softmax_cross_entropy(result.logits, labels, temperature);
    }
    if (check_finite) {
        result.loss_value = result.loss.item();
        bool finite = std::isfinite(result.loss_value);
        if (hooks.agree_finite) finite = hooks.agree_finite(finite);
        if (!finite) return result;
    }
    {
        GradientReadyScope ready(hooks.on_gradient_ready);
        result.loss.backward();
    }
    if (hooks.before_update) hooks.before_update();
    optimizer.step();
    result.stepped = true;
    return result;
}

}  // namespace kelvin::optim
