// Linear probes: softmax regression on frozen features, trained with Adam (lr 1e-3, 30 epochs
// by default, the protocol of public Tunnel Effect reproductions), on whichever device the
// features are. Features are standardised with the training split's per-feature mean and
// standard deviation first (a choice, on by default: it makes the probe indifferent to the
// feature scale, which temperature changes by orders of magnitude).
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace kelvin {

struct ProbeOptions {
    int epochs = 30;
    float lr = 1e-3f;
    int64_t batch_size = 256;
    uint64_t seed = 0;
    bool standardize = true;
};

struct ProbeResult {
    double train_accuracy = 0.0;
    double test_accuracy = 0.0;
};

// train_x [N, D] f32, train_y [N] i32, test_x [M, D], test_y [M], all on one device.
ProbeResult train_linear_probe(const Tensor& train_x, const Tensor& train_y, const Tensor& test_x,
                               const Tensor& test_y, int num_classes, const ProbeOptions& options);

}  // namespace kelvin
