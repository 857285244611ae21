// Evaluation of a model on a whole data set without gradients: loss under the training
// temperature, accuracy, and the logits-norm statistics the paper tracks.
#pragma once

#include <vector>

#include "analysis/accuracy.h"  // count_correct
#include "data/loader.h"
#include "models/model.h"

namespace kelvin::experiments {

struct Evaluation {
    double loss = 0.0;                // mean temperature cross-entropy
    double accuracy = 0.0;            // argmax z == y
    double logits_norm_mean = 0.0;    // mean over samples of ||z_n||_2
    double logits_norm_frobenius = 0.0;
    int64_t samples = 0;
};

// `loader` is consumed from the start of epoch 0 (give it shuffle = false for a fixed order).
// With a `progress` label, the evaluation shows its progress on stderr (engine/phase_progress.h).
Evaluation evaluate(models::Model& model, data::BatchLoader& loader, float temperature,
                    const std::string& progress = "");

}  // namespace kelvin::experiments
