// The fused temperature softmax cross-entropy: the loss the paper trains with.
//   L = mean_r [ logsumexp(z_r / T) - z_{r, y_r} / T ]
//   dL/dz = (softmax(z / T) - onehot(y)) / (T * N)
// T enters only the loss; predictions are argmax z.
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/reduce.h"
#include "kernels/softmax_cross_entropy.h"

namespace kelvin::ops {

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, float temperature) {
    KELVIN_TRACE_OP("softmax_cross_entropy", logits.device());
    check_f32(logits, "softmax_cross_entropy");
    KELVIN_CHECK(temperature > 0.0f && std::isfinite(temperature),
                 "softmax_cross_entropy: temperature must be a positive number, got " +
                     std::to_string(temperature));
    KELVIN_CHECK(labels.defined() && labels.dtype() == DType::I32,
                 "softmax_cross_entropy: labels must be i32, got " + labels.describe());
    check_same_device(logits, labels, "softmax_cross_entropy");
    KELVIN_CHECK(logits.ndim() == 2 && labels.ndim() == 1 && labels.size(0) == logits.size(0),
                 "softmax_cross_entropy: expected logits [N, C] and labels [N], got " +
                     logits.describe() + " and " + labels.describe());
    const int64_t rows = logits.size(0), classes = logits.size(1);
    KELVIN_CHECK(rows > 0 && classes > 0, "softmax_cross_entropy: empty batch " + logits.describe());

    Tensor row_loss = Tensor::empty({rows}, DType::F32, logits.device());
    Tensor row_lse = Tensor::empty({rows}, DType::F32, logits.device());
    KELVIN_DISPATCH(logits.device(), softmax_cross_entropy_forward, logits.f32(), labels.i32(),
                    row_loss.f32(), row_lse.f32(), rows, classes, temperature);
    Tensor loss = Tensor::empty({1}, DType::F32, logits.device());
    KELVIN_DISPATCH(logits.device(), sum_all, row_loss.f32(), loss.f32(), rows,
                    1.0f / static_cast<float>(rows));

    Tensor z = logits.detach(), y = labels.detach();
    return record(loss, "softmax_cross_entropy", {logits, labels},
                  [z, y, row_lse, rows, classes, temperature](const Tensor& g) {
                      // g[0] / N is read on the device by the kernel: no host synchronisation.
                      Tensor grad_scale = Tensor::empty({1}, DType::F32, g.device());
                      KELVIN_DISPATCH(g.device(), sum_all, g.f32(), grad_scale.f32(), 1,
                                      1.0f / static_cast<float>(rows));
                      Tensor dz = Tensor::empty({rows, classes}, DType::F32, g.device());
                      KELVIN_DISPATCH(g.device(), softmax_cross_entropy_backward, z.f32(),
                                      y.i32(), row_lse.f32(), grad_scale.f32(), dz.f32(), rows,
                                      classes, temperature);
                      return std::vector<Tensor>{dz, Tensor()};
                  });
}

}  // namespace kelvin::ops
