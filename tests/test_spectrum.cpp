// Singular values, numerical rank, symmetric eigendecomposition, column subsampling and logits
// norms. References are built here, independently of LAPACK: matrices with known singular values
// (U diag(s) V^T from Gram-Schmidt), and a one-sided Jacobi SVD in double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "engine/device.h"
#include "engine/ops.h"
#include "analysis/spectrum.h"
#include "kernels/spectrum.h"
#if KELVIN_CUDA
#include "kernels/cuda_runtime.h"
#endif

namespace {

using Matrix = std::vector<double>;  // row-major

Matrix gaussian(int64_t rows, int64_t cols, uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::normal_distribution<double> normal;
    Matrix m(static_cast<size_t>(rows * cols));
    for (double& v : m) v = normal(generator);
    return m;
}

// Orthonormal columns of a random rows x cols matrix, by modified Gram-Schmidt run twice.
Matrix orthonormal_columns(int64_t rows, int64_t cols, uint64_t seed) {
    Matrix q = gaussian(rows, cols, seed);
    for (int pass = 0; pass < 2; ++pass)
        for (int64_t j = 0; j < cols; ++j) {
            for (int64_t k = 0; k < j; ++k) {
                double dot = 0;
                for (int64_t i = 0; i < rows; ++i) dot += q[i * cols + j] * q[i * cols + k];
                for (int64_t i = 0; i < rows; ++i) q[i * cols + j] -= dot * q[i * cols + k];
            }
            double norm = 0;
            for (int64_t i = 0; i < rows; ++i) norm += q[i * cols + j] * q[i * cols + j];
            norm = std::sqrt(norm);
            for (int64_t i = 0; i < rows; ++i) q[i * cols + j] /= norm;
        }
    return q;
}

// rows x cols matrix U diag(s) V^T with s.size() == min(rows, cols).
Matrix with_singular_values(int64_t rows, int64_t cols, const std::vector<double>& s,
                            uint64_t seed) {
    const int64_t k = static_cast<int64_t>(s.size());
    const Matrix u = orthonormal_columns(rows, k, seed);
    const Matrix v = orthonormal_columns(cols, k, seed + 1);
    Matrix a(static_cast<size_t>(rows * cols), 0.0);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
            double sum = 0;
            for (int64_t t = 0; t < k; ++t) sum += u[i * k + t] * s[t] * v[j * k + t];
            a[i * cols + j] = sum;
        }
    return a;
}

std::vector<float> to_float(const Matrix& m) { return std::vector<float>(m.begin(), m.end()); }

Matrix transpose(const Matrix& m, int64_t rows, int64_t cols) {
    Matrix t(m.size());
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) t[j * rows + i] = m[i * cols + j];
    return t;
}

// One-sided Jacobi (Hestenes) SVD in double: rotates column pairs until all are orthogonal;
// the singular values are then the column norms. Slow and independent of LAPACK.
std::vector<double> jacobi_singular_values(Matrix a, int64_t rows, int64_t cols) {
    if (rows < cols) {
        a = transpose(a, rows, cols);
        std::swap(rows, cols);
    }
    for (int sweep = 0; sweep < 60; ++sweep) {
        bool rotated = false;
        for (int64_t p = 0; p < cols; ++p)
            for (int64_t q = p + 1; q < cols; ++q) {
                double alpha = 0, beta = 0, gamma = 0;
                for (int64_t i = 0; i < rows; ++i) {
                    const double x = a[i * cols + p], y = a[i * cols + q];
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if (std::fabs(gamma) <= 1e-15 * std::sqrt(alpha * beta)) continue;
                rotated = true;
                const double zeta = (beta - alpha) / (2 * gamma);
                const double t =
                    (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
                const double c = 1 / std::sqrt(1 + t * t), s = c * t;
                for (int64_t i = 0; i < rows; ++i) {
                    const double x = a[i * cols + p], y = a[i * cols + q];
                    a[i * cols + p] = c * x - s * y;
                    a[i * cols + q] = s * x + c * y;
                }
            }
        if (!rotated) break;
    }
    std::vector<double> sv(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j) {
        double norm = 0;
        for (int64_t i = 0; i < rows; ++i) norm += a[i * cols + j] * a[i * cols + j];
        sv[j] = std::sqrt(norm);
    }
    std::sort(sv.rbegin(), sv.rend());
    return sv;
}

std::vector<double> cpu_singular_values(const std::vector<float>& a, int64_t rows, int64_t cols,
                                        bool center = false) {
    std::vector<double> sv(static_cast<size_t>(std::min(rows, cols)));
    kelvin::cpu::singular_values(a.data(), rows, cols, center, sv.data());
    return sv;
}

// Relative to each value, plus a round-off floor of 1e-12 of the largest: a singular value down
// there (the zero one of a centred matrix with more columns than rows) carries no digits, and
// two correct factorisations differ in it (LAPACK on two OpenBLAS threads against the emulated
// cuSOLVER's one: 5.98e-17 against 5.78e-17). For the smallest real value tested (1e-4 of the
// largest) the floor is 1% of the tolerance.
void check_relative(const std::vector<double>& got, const std::vector<double>& want, double tol) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        INFO("singular value " << i << ": " << got[i] << " vs " << want[i]);
        CHECK(std::fabs(got[i] - want[i]) <= tol * want[i] + 1e-12 * want.front());
    }
}

// s_k spread geometrically from 1 down to 1e-4 (the smallest gamma reported).
std::vector<double> geometric_spectrum(int64_t k) {
    std::vector<double> s(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) s[i] = std::pow(10.0, -4.0 * i / static_cast<double>(k - 1));
    return s;
}

}  // namespace

TEST_CASE("cpu singular_values recovers constructed singular values within float32 rounding") {
    // A = U diag(s) V^T in double, then rounded to float: Af = A + E. Weyl's inequality bounds
    // |sigma_i(Af) - s_i| by ||E||_2 <= ||E||_F, and E is known exactly.
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{400, 30}, {40, 35}, {30, 400}}) {
        const std::vector<double> s = geometric_spectrum(std::min(rows, cols));
        const Matrix a = with_singular_values(rows, cols, s, 11);
        const std::vector<float> af = to_float(a);
        double rounding = 0;
        for (size_t i = 0; i < a.size(); ++i)
            rounding += (double(af[i]) - a[i]) * (double(af[i]) - a[i]);
        rounding = std::sqrt(rounding);
        CHECK(rounding < 1e-6);
        const std::vector<double> sv = cpu_singular_values(af, rows, cols);
        for (size_t i = 0; i < s.size(); ++i) {
            INFO(rows << " x " << cols << ", singular value " << i);
            CHECK(std::fabs(sv[i] - s[i]) <= rounding + 1e-12);
        }
    }
}

TEST_CASE("cpu singular_values agrees with a one-sided Jacobi SVD to 1e-6 relative") {
    // Tall (the QR-first path), near-square (direct dgesdd) and wide (read as its transpose).
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{300, 24}, {50, 40}, {24, 300}}) {
        INFO(rows << " x " << cols);
        const Matrix a =
            with_singular_values(rows, cols, geometric_spectrum(std::min(rows, cols)), 5);
        const std::vector<float> af = to_float(a);
        const std::vector<double> reference =
            jacobi_singular_values(Matrix(af.begin(), af.end()), rows, cols);
        check_relative(cpu_singular_values(af, rows, cols), reference, 1e-6);
        // The transpose has the same singular values and takes the other layout branch.
        const std::vector<float> at = to_float(transpose(Matrix(af.begin(), af.end()), rows, cols));
        check_relative(cpu_singular_values(at, cols, rows), reference, 1e-6);
    }
}

TEST_CASE("cpu singular_values with centring matches the SVD of the explicitly centred matrix") {
    const int64_t rows = 200, cols = 12;
    Matrix a = gaussian(rows, cols, 3);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) a[i * cols + j] += 5.0 * (j + 1);  // a large mean row
    const std::vector<float> af = to_float(a);
    Matrix centred(af.begin(), af.end());
    for (int64_t j = 0; j < cols; ++j) {
        double mean = 0;
        for (int64_t i = 0; i < rows; ++i) mean += centred[i * cols + j];
        mean /= rows;
        for (int64_t i = 0; i < rows; ++i) centred[i * cols + j] -= mean;
    }
    const std::vector<double> reference = jacobi_singular_values(centred, rows, cols);
    check_relative(cpu_singular_values(af, rows, cols, true), reference, 1e-6);
    check_relative(
        cpu_singular_values(to_float(transpose(Matrix(af.begin(), af.end()), rows, cols)), cols,
                            rows, false),
        jacobi_singular_values(Matrix(af.begin(), af.end()), rows, cols), 1e-6);
}

TEST_CASE("numerical rank of a rank-r product plus tiny noise is r") {
    const int64_t n = 600, c = 50, r = 7;
    const Matrix x = gaussian(n, r, 21), y = gaussian(r, c, 22), noise = gaussian(n, c, 23);
    Matrix m(static_cast<size_t>(n * c));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < c; ++j) {
            double sum = 0;
            for (int64_t t = 0; t < r; ++t) sum += x[i * r + t] * y[t * c + j];
            m[i * c + j] = sum + 1e-6 * noise[i * c + j];  // noise norm ~ 1e-6 (sqrt n + sqrt c)
        }
    const std::vector<float> mf = to_float(m);
    for (bool center : {false, true}) {
        const kelvin::RankReport report = kelvin::rank_report(mf.data(), n, c, 1e-3, center);
        CHECK(report.rank == r);
        CHECK(report.centered == center);
        CHECK(report.rows == n);
        CHECK(report.cols == c);
        CHECK(report.singular_values.size() == static_cast<size_t>(c));
        CHECK(std::is_sorted(report.singular_values.rbegin(), report.singular_values.rend()));
        REQUIRE(report.rank_by_gamma.size() == 3);
        for (auto [gamma, rank] : report.rank_by_gamma) {
            INFO("gamma " << gamma);
            CHECK(rank == r);
        }
    }
    // A custom gamma is reported beside the three standard ones.
    CHECK(kelvin::rank_report(mf.data(), n, c, 0.5).rank_by_gamma.size() == 4);
}

TEST_CASE("numerical_rank counts singular values strictly above gamma * sigma_1") {
    CHECK(kelvin::numerical_rank({}, 1e-3) == 0);
    CHECK(kelvin::numerical_rank({0, 0, 0}, 1e-3) == 0);
    CHECK(kelvin::numerical_rank({1, 1e-3, 5e-4}, 1e-3) == 1);  // 1e-3 is not > 1e-3
    CHECK(kelvin::numerical_rank({2, 1.5e-3, 5e-4}, 1e-3) == 1);
    CHECK(kelvin::numerical_rank({2, 2.5e-3, 5e-4}, 1e-3) == 2);
    CHECK(kelvin::numerical_rank({2, 2.5e-3, 5e-4}, 1e-4) == 3);
    CHECK_THROWS_AS(kelvin::numerical_rank({1}, 0.0), kelvin::Error);

    const std::vector<float> zeros(20 * 5, 0.0f);
    CHECK(kelvin::rank_report(zeros.data(), 20, 5).rank == 0);
}

TEST_CASE("singular_values rejects non-finite and empty input") {
    std::vector<float> a(6, 1.0f);
    a[4] = std::nanf("");
    double out[2];
    CHECK_THROWS_AS(kelvin::cpu::singular_values(a.data(), 3, 2, false, out), kelvin::Error);
    CHECK_THROWS_AS(kelvin::cpu::singular_values(a.data(), 0, 2, false, out), kelvin::Error);
#if !KELVIN_CUDA
    // A build without the backend says so instead of computing on the host.
    CHECK_THROWS_AS(kelvin::ops::symmetric_eigen({1.0}, 1, kelvin::Device::CUDA), kelvin::Error);
#endif
}

TEST_CASE("symmetric_eigen returns descending eigenvalues and matching unit eigenvectors") {
    SUBCASE("diagonal") {
        const std::vector<double> a = {1, 0, 0, 0, 3, 0, 0, 0, 2};
        double values[3], vectors[9];
        kelvin::cpu::symmetric_eigen(a.data(), 3, values, vectors);
        CHECK(values[0] == doctest::Approx(3));
        CHECK(values[1] == doctest::Approx(2));
        CHECK(values[2] == doctest::Approx(1));
        // Row k is the eigenvector of values[k], its largest entry made positive.
        const double expected[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0};
        for (int i = 0; i < 9; ++i) CHECK(vectors[i] == doctest::Approx(expected[i]));
    }
    SUBCASE("Q diag(l) Q^T") {
        const int64_t d = 20;
        const Matrix q = orthonormal_columns(d, d, 31);
        std::vector<double> l(d);
        for (int64_t k = 0; k < d; ++k) l[k] = std::pow(-1.0, k) * (k + 1);  // mixed signs
        Matrix a(d * d, 0.0);
        for (int64_t i = 0; i < d; ++i)
            for (int64_t j = 0; j < d; ++j)
                for (int64_t k = 0; k < d; ++k) a[i * d + j] += q[i * d + k] * l[k] * q[j * d + k];
        for (int64_t i = 0; i < d; ++i)  // make it exactly symmetric
            for (int64_t j = 0; j < i; ++j) a[i * d + j] = a[j * d + i];
        std::vector<double> values(d), vectors(d * d), only_values(d);
        kelvin::cpu::symmetric_eigen(a.data(), d, values.data(), vectors.data());
        kelvin::cpu::symmetric_eigen(a.data(), d, only_values.data(), nullptr);
        std::vector<double> expected = l;
        std::sort(expected.rbegin(), expected.rend());
        for (int64_t k = 0; k < d; ++k) {
            CHECK(std::fabs(values[k] - expected[k]) < 1e-12 * d);
            CHECK(std::fabs(only_values[k] - expected[k]) < 1e-12 * d);
            const double* v = vectors.data() + k * d;
            double residual = 0, norm = 0;
            int64_t largest = 0;
            for (int64_t i = 0; i < d; ++i) {
                double av = 0;
                for (int64_t j = 0; j < d; ++j) av += a[i * d + j] * v[j];
                residual = std::max(residual, std::fabs(av - values[k] * v[i]));
                norm += v[i] * v[i];
                if (std::fabs(v[i]) > std::fabs(v[largest])) largest = i;
            }
            CHECK(residual < 1e-11);
            CHECK(norm == doctest::Approx(1.0).epsilon(1e-12));
            CHECK(v[largest] > 0);
        }
    }
}

TEST_CASE("subsample_columns is a seeded, sorted subset of distinct columns") {
    const std::vector<int64_t> all = kelvin::subsample_columns(5000);
    REQUIRE(all.size() == 5000);
    for (int64_t j = 0; j < 5000; ++j) CHECK(all[j] == j);

    const std::vector<int64_t> a = kelvin::subsample_columns(20000, 8000, 7);
    const std::vector<int64_t> b = kelvin::subsample_columns(20000, 8000, 7);
    const std::vector<int64_t> c = kelvin::subsample_columns(20000, 8000, 8);
    REQUIRE(a.size() == 8000);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(std::is_sorted(a.begin(), a.end()));
    CHECK(std::set<int64_t>(a.begin(), a.end()).size() == 8000);
    CHECK(a.front() >= 0);
    CHECK(a.back() < 20000);
    // Spread over the whole range, not a prefix: about 40% of each half is kept.
    const auto low = std::count_if(a.begin(), a.end(), [](int64_t j) { return j < 10000; });
    CHECK(low > 3600);
    CHECK(low < 4400);
    CHECK(kelvin::subsample_columns(kelvin::kMaxRankColumns + 1).size() == 8000);
}

TEST_CASE("gather_columns keeps the listed columns of every row") {
    const std::vector<float> m = {0, 1, 2, 3, 10, 11, 12, 13};  // 2 x 4
    CHECK(kelvin::gather_columns(m.data(), 2, 4, {1, 3}) == std::vector<float>{1, 3, 11, 13});
    CHECK_THROWS_AS(kelvin::gather_columns(m.data(), 2, 4, {4}), kelvin::Error);
}

TEST_CASE("logits_norm_stats on a hand example") {
    // Rows (3,4), (0,0), (6,8): norms 5, 0, 10 (mean 5); ||M||_F = sqrt(125); every row is a
    // multiple of (3,4), so M has rank 1 and sigma_1 = ||M||_F.
    const std::vector<float> m = {3, 4, 0, 0, 6, 8};
    const kelvin::LogitsNormStats stats = kelvin::logits_norm_stats(m.data(), 3, 2);
    CHECK(stats.mean_row_norm == doctest::Approx(5.0));
    CHECK(stats.frobenius == doctest::Approx(std::sqrt(125.0)));
    CHECK(stats.sigma_1 == doctest::Approx(std::sqrt(125.0)));
    const kelvin::RankReport report = kelvin::rank_report(m.data(), 3, 2);
    CHECK(report.rank == 1);
    CHECK(kelvin::logits_norm_stats(m.data(), 3, 2, report).sigma_1 ==
          doctest::Approx(std::sqrt(125.0)));
    const kelvin::RankReport centred = kelvin::rank_report(m.data(), 3, 2, 1e-3, true);
    CHECK_THROWS_AS(kelvin::logits_norm_stats(m.data(), 3, 2, centred), kelvin::Error);
}

// ---- CUDA parity --------------------------------------------------------------------------------

#if KELVIN_CUDA
namespace {
template <typename T>
struct OnDevice {
    T* ptr;
    size_t bytes;
    explicit OnDevice(const std::vector<T>& host)
        : ptr(static_cast<T*>(kelvin::cuda::allocate(host.size() * sizeof(T)))),
          bytes(host.size() * sizeof(T)) {
        kelvin::cuda::memcpy_host_to_device(ptr, host.data(), bytes);
    }
    ~OnDevice() { kelvin::cuda::release(ptr, bytes); }
};
}  // namespace
#endif

TEST_CASE("cuda singular_values and rank match the cpu" *
          doctest::skip(!kelvin::cuda_available())) {
#if KELVIN_CUDA
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{2000, 64}, {300, 200}, {64, 1500}}) {
        for (bool center : {false, true}) {
            INFO(rows << " x " << cols << (center ? " centred" : ""));
            const std::vector<float> a = to_float(
                with_singular_values(rows, cols, geometric_spectrum(std::min(rows, cols)), 41));
            OnDevice<float> device_a(a);
            std::vector<double> gpu(static_cast<size_t>(std::min(rows, cols)));
            kelvin::cuda::singular_values(device_a.ptr, rows, cols, center, gpu.data());
            check_relative(gpu, cpu_singular_values(a, rows, cols, center), 1e-6);
            const kelvin::RankReport cpu_report =
                kelvin::rank_report(a.data(), rows, cols, 1e-3, center);
            const kelvin::RankReport gpu_report = kelvin::rank_report(
                kelvin::Tensor::from_vector(a, {rows, cols}, kelvin::Device::CUDA), 1e-3, center);
            CHECK(gpu_report.rank_by_gamma == cpu_report.rank_by_gamma);
        }
    }
    std::vector<float> bad(12, 1.0f);
    bad[7] = std::nanf("");
    OnDevice<float> device_bad(bad);
    double out[3];
    CHECK_THROWS_AS(kelvin::cuda::singular_values(device_bad.ptr, 4, 3, false, out), kelvin::Error);
#endif
}

TEST_CASE("cuda symmetric_eigen matches the cpu" * doctest::skip(!kelvin::cuda_available())) {
#if KELVIN_CUDA
    const int64_t d = 64;
    const Matrix g = gaussian(d, d, 51);
    Matrix a(d * d);
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) a[i * d + j] = g[i * d + j] + g[j * d + i];
    std::vector<double> cpu_values(d), cpu_vectors(d * d), gpu_values(d), gpu_vectors(d * d);
    kelvin::cpu::symmetric_eigen(a.data(), d, cpu_values.data(), cpu_vectors.data());
    OnDevice<double> device_a(a);
    kelvin::cuda::symmetric_eigen(device_a.ptr, d, gpu_values.data(), gpu_vectors.data());
    for (int64_t k = 0; k < d; ++k) {
        CHECK(std::fabs(gpu_values[k] - cpu_values[k]) < 1e-10 * std::fabs(cpu_values[0]));
        double dot = 0;  // eigenvalues of a random matrix are simple: vectors agree up to sign
        for (int64_t i = 0; i < d; ++i) dot += gpu_vectors[k * d + i] * cpu_vectors[k * d + i];
        CHECK(std::fabs(dot) == doctest::Approx(1.0).epsilon(1e-9));
    }
#endif
}
