// Threading for CPU kernels. Pointwise work below this many elements is not worth waking a
// second thread for; above it, OpenMP splits the range statically (deterministic results).
#pragma once

#include <cstdint>

namespace kelvin::cpu {
constexpr int64_t kParallelThreshold = 1 << 15;
}

#define KELVIN_PRAGMA(x) _Pragma(#x)
// The `if` names `parallel:`: unqualified, OpenMP applies it to the simd part too, and GCC then
// left every loop below the threshold scalar (branchy ReLU backward ran at 3 GB/s).
#define KELVIN_PARALLEL_FOR(n) \
    KELVIN_PRAGMA(omp parallel for simd schedule(static) if (parallel : (n) > kParallelThreshold))
