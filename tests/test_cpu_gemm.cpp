// The CPU GEMM splits its output across OpenMP threads; every split must equal a plain loop.
#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/gemm.h"

TEST_CASE("cpu gemm equals a double-precision loop for every transpose, odd sizes and beta") {
    std::mt19937_64 gen(7);
    std::uniform_real_distribution<float> dist(-1, 1);
    struct Case { int64_t m, n, k; };
    // Extents that 2, 3 or 4 threads do not split into whole 16-float panels (33, 65, 131:
    // a floor-rounded split once left their last rows or columns unwritten), run with each
    // thread count whatever the machine has.
    const int machine_threads = omp_get_max_threads();
    for (int threads : {2, 3, 4})
    for (Case s : {Case{1, 1, 1}, Case{3, 5, 7}, Case{65, 131, 33}, Case{200, 17, 90},
                   Case{37, 300, 129}, Case{33, 33, 256}, Case{65, 33, 1000},
                   Case{131, 65, 33}}) {
        omp_set_num_threads(threads);
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb)
                for (float beta : {0.0f, 0.5f}) {
                    const int64_t lda = (ta ? s.m : s.k) + 3, ldb = (tb ? s.k : s.n) + 2,
                                  ldc = s.n + 1;
                    std::vector<float> a((ta ? s.k : s.m) * lda), b((tb ? s.n : s.k) * ldb),
                        c(s.m * ldc);
                    for (float& v : a) v = dist(gen);
                    for (float& v : b) v = dist(gen);
                    for (float& v : c) v = dist(gen);
                    std::vector<float> before = c;
                    kelvin::cpu::gemm(ta, tb, s.m, s.n, s.k, 1.5f, a.data(), lda, b.data(), ldb,
                                      beta, c.data(), ldc);
                    double worst = 0;
                    for (int64_t i = 0; i < s.m; ++i)
                        for (int64_t j = 0; j < ldc; ++j) {
                            if (j >= s.n) {  // padding columns are never written
                                CHECK(c[i * ldc + j] == before[i * ldc + j]);
                                continue;
                            }
                            double ref = 0, magnitude = 0;
                            for (int64_t p = 0; p < s.k; ++p) {
                                const double product =
                                    double(ta ? a[p * lda + i] : a[i * lda + p]) *
                                    double(tb ? b[j * ldb + p] : b[p * ldb + j]);
                                ref += product;
                                magnitude += std::fabs(product);
                            }
                            ref = 1.5 * ref + beta * before[i * ldc + j];
                            // Relative to the sum of |terms|, the scale of float rounding over
                            // a k-long sum (k = 1000 cancels to ~1/30 of it).
                            magnitude = 1.5 * magnitude + std::fabs(beta * before[i * ldc + j]);
                            worst = std::max(worst, std::fabs(ref - c[i * ldc + j]) /
                                                        std::max(1.0, magnitude));
                        }
                    INFO("threads=" << threads << " m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << ta
                              << " tb=" << tb << " beta=" << beta);
                    CHECK(worst < 1e-5);
                }
    }
    omp_set_num_threads(machine_threads);
}
