// kelvin_bench_ceilings: this machine's ceilings for the CPU kernels, the numbers
// docs/PERFORMANCE.md puts beside the kernels' own: OpenBLAS sgemm GFLOP/s (square, 1024..2048,
// all threads OpenBLAS is given) and memory copy bandwidth (256 MiB memcpy, one thread).
// Best of 5 after a warm-up. A benchmark, not a test: it asserts nothing.
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/bench_clock.h"

namespace {

// On the clock of engine/bench_clock.h (KELVIN_BENCH_CLOCK=cpu: process CPU time): with
// OPENBLAS_NUM_THREADS=1 on a shared machine, the cost of the work itself rather than the moments
// it waited for a core.
double now_seconds() { return kelvin::bench_clock_ms() * 1e-3; }

template <typename F>
double best_seconds(F&& fn) {
    fn();
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        const double start = now_seconds();
        fn();
        best = std::min(best, now_seconds() - start);
    }
    return best;
}

}  // namespace

int main() {
    for (int n : {1024, 2048}) {
        std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
        const double s = best_seconds([&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n,
                        b.data(), n, 0.0f, c.data(), n);
        });
        std::printf("sgemm %dx%dx%d  %.1f GFLOP/s\n", n, n, n, 2.0 * n * n * n / s * 1e-9);
    }
    const size_t bytes = size_t(256) << 20;
    std::vector<char> from(bytes, 1), to(bytes);
    const double s = best_seconds([&] { std::memcpy(to.data(), from.data(), bytes); });
    std::printf("copy 256 MiB  %.1f GB/s (read + write)\n", 2.0 * bytes / s * 1e-9);
    return 0;
}
