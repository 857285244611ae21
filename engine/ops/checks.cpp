// Shared argument checks for ops: each message names the op and what it expected.
#include "engine/ops.h"

namespace kelvin::ops {

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
    KELVIN_CHECK(a.device() == b.device(), std::string(op) + ": inputs on different devices (" +
                                               a.describe() + ", " + b.describe() + ")");
}

void check_f32(const Tensor& t, const char* op) {
    KELVIN_CHECK(t.defined() && t.dtype() == DType::F32,
                 std::string(op) + ": expected an f32 tensor, got " + t.describe());
}

}  // namespace kelvin::ops
