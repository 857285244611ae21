// reshape and flatten: storage is contiguous, so both share it and only the shape changes.
#include "engine/ops.h"
#include "engine/trace.h"

namespace kelvin::ops {

Tensor reshape(const Tensor& x, const Shape& requested) {
    KELVIN_TRACE_OP("reshape", x.device());
    Shape shape = requested;
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            KELVIN_CHECK(infer < 0, "reshape: more than one -1 in " + shape_to_string(requested));
            infer = static_cast<int64_t>(i);
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        KELVIN_CHECK(known > 0 && x.numel() % known == 0,
                     "reshape: cannot infer -1 for " + shape_to_string(requested) + " from " +
                         x.describe());
        shape[infer] = x.numel() / known;
    }
    KELVIN_CHECK(shape_numel(shape) == x.numel(),
                 "reshape: " + x.describe() + " has " + std::to_string(x.numel()) +
                     " elements, " + shape_to_string(requested) + " needs " +
                     std::to_string(shape_numel(shape)));
    Tensor y = x.view(shape);
    Shape original = x.shape();
    return record(y, "reshape", {x},
                  [original](const Tensor& g) { return std::vector<Tensor>{g.view(original)}; });
}

Tensor flatten(const Tensor& x) {
    KELVIN_TRACE_OP("flatten", x.device());
    KELVIN_CHECK(x.ndim() >= 1, "flatten: needs at least one axis, got " + x.describe());
    return reshape(x, {x.size(0), -1});
}

}  // namespace kelvin::ops
