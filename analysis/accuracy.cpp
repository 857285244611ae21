#include "analysis/accuracy.h"

#include <vector>

#include "engine/ops.h"

namespace kelvin {

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
    const std::vector<int32_t> predicted = ops::argmax_rows(logits).to_int_vector();
    const std::vector<int32_t> truth = labels.to_int_vector();
    int64_t correct = 0;
    for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
    return correct;
}

}  // namespace kelvin
