#include "experiments/evaluate.h"

#include <cmath>

#include <optional>

#include "engine/ops.h"
#include "engine/phase_progress.h"
#include "engine/trace.h"

namespace kelvin::experiments {

Evaluation evaluate(models::Model& model, data::BatchLoader& loader, float temperature,
                    const std::string& progress) {
    std::optional<PhaseProgress> shown;
    if (!progress.empty()) shown.emplace(progress, loader.batches_per_epoch(), "batches");
    int64_t batches = 0;
    NoGradGuard no_grad;
    trace::PhaseScope phase("eval");
    const bool was_training = model.training();
    model.eval();
    Evaluation result;
    double loss_sum = 0.0, norm_sum = 0.0, norm_sq_sum = 0.0;
    int64_t correct = 0;
    loader.start_epoch(0);
    data::Batch batch;
    while (loader.next(batch)) {
        const int64_t n = batch.labels.numel();
        Tensor logits = model.forward(batch.images);
        loss_sum += ops::softmax_cross_entropy(logits, batch.labels, temperature).item() * n;
        correct += count_correct(logits, batch.labels);
        for (float norm : ops::row_norms(logits).to_vector()) {
            norm_sum += norm;
            norm_sq_sum += double(norm) * norm;
        }
        result.samples += n;
        if (shown) shown->advance(++batches);
    }
    model.train(was_training);
    if (result.samples > 0) {
        result.loss = loss_sum / result.samples;
        result.accuracy = double(correct) / result.samples;
        result.logits_norm_mean = norm_sum / result.samples;
        result.logits_norm_frobenius = std::sqrt(norm_sq_sum);
    }
    return result;
}

}  // namespace kelvin::experiments
