// Classification accuracy from logits: the one argmax-equals-label count that training,
// evaluation, the diagnostics and the probes share.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace kelvin {

// How many rows of `logits` have their largest value at the row's label (labels i32 [N]).
int64_t count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace kelvin
