// CPU spectra with LAPACK in float64. See kernels/spectrum.h for the contract.
#include "kernels/spectrum.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/error.h"

namespace kelvin::cpu {
namespace {

lapack_int lapack_dimension(int64_t n, const char* what) {
    KELVIN_CHECK(n > 0 && n <= INT_MAX, std::string(what) + ": dimension " + std::to_string(n) +
                                            " is outside LAPACK's range 1.." +
                                            std::to_string(INT_MAX));
    return static_cast<lapack_int>(n);
}

// kernels/cpu/gemm.cpp keeps OpenBLAS at one thread, so that its pool never fights OpenMP's
// over the cores in a training step. A factorisation is one long LAPACK call between OpenMP
// loops, so for its duration OpenBLAS's own threads take the cores: 10,000 x 100 singular
// values 29 -> 14 ms (numpy's dgesdd: 17.5). Always two, whatever kelvin's thread count: a
// threaded factorisation sums in an order that depends on its thread count (the ~1e-14
// singular values of a rank-deficient layer moved by 10% between one and two), and results
// must not depend on kelvin's.
constexpr int kLapackThreads = 2;
// (This assumes Debian's pthread OpenBLAS, which install-deps.sh installs: in an OpenMP build
// the call would set OpenMP's thread count too.)
class LapackThreads {
public:
    LapackThreads() : previous_(openblas_get_num_threads()) {
        openblas_set_num_threads(kLapackThreads);
    }
    ~LapackThreads() { openblas_set_num_threads(previous_); }
    LapackThreads(const LapackThreads&) = delete;
    LapackThreads& operator=(const LapackThreads&) = delete;

private:
    int previous_;
};

void check_info(lapack_int info, const char* routine) {
    KELVIN_CHECK(info == 0, std::string(routine) + " failed with info " + std::to_string(info) +
                                (info > 0 ? " (did not converge)" : " (bad argument)"));
}

// Copies the row-major float matrix into a column-major double matrix m x n with m >= n, so
// that LAPACK meets a tall matrix: that is the matrix itself when rows >= cols (a transposing
// copy), and its transpose otherwise (a plain copy; the singular values are the same). A wide
// matrix would send dgesdd down its LQ path, measured 8x slower than QR on 10000 x 100.
std::vector<double> to_tall_column_major(const float* a, int64_t rows, int64_t cols,
                                         bool subtract_mean_row) {
    std::vector<double> mean(static_cast<size_t>(cols), 0.0);
    for (int64_t i = 0; i < rows; ++i) {
        const float* row = a + i * cols;
        for (int64_t j = 0; j < cols; ++j) {
            if (!std::isfinite(row[j]))
                throw Error("singular_values: entry (" + std::to_string(i) + ", " +
                            std::to_string(j) + ") is " + std::to_string(row[j]) +
                            "; the matrix must be finite");
            mean[j] += row[j];
        }
    }
    if (subtract_mean_row)
        for (double& m : mean) m /= static_cast<double>(rows);
    else
        std::fill(mean.begin(), mean.end(), 0.0);

    std::vector<double> out(static_cast<size_t>(rows * cols));
    if (rows >= cols) {
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j)
                out[j * rows + i] = static_cast<double>(a[i * cols + j]) - mean[j];
    } else {
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j)
                out[i * cols + j] = static_cast<double>(a[i * cols + j]) - mean[j];
    }
    return out;
}

// Singular values (descending) of the column-major m x n matrix a with m >= n; a is destroyed.
void gesdd_values(double* a, lapack_int m, lapack_int n, lapack_int lda, double* out) {
    std::vector<lapack_int> iwork(8 * static_cast<size_t>(n));
    double query = 0;
    check_info(LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', m, n, a, lda, out, nullptr, 1, nullptr, 1,
                                   &query, -1, iwork.data()),
               "dgesdd");
    std::vector<double> work(static_cast<size_t>(query) + 1);
    check_info(LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', m, n, a, lda, out, nullptr, 1, nullptr, 1,
                                   work.data(), static_cast<lapack_int>(work.size()), iwork.data()),
               "dgesdd");
}

// Flips the sign of each length-d row so that its largest-magnitude entry is positive.
void fix_signs(double* vectors, int64_t d) {
    for (int64_t k = 0; k < d; ++k) {
        double* v = vectors + k * d;
        int64_t largest = 0;
        for (int64_t i = 1; i < d; ++i)
            if (std::fabs(v[i]) > std::fabs(v[largest])) largest = i;
        if (v[largest] < 0)
            for (int64_t i = 0; i < d; ++i) v[i] = -v[i];
    }
}

}  // namespace

void singular_values(const float* matrix, int64_t rows, int64_t cols, bool subtract_mean_row,
                     double* out) {
    KELVIN_CHECK(rows > 0 && cols > 0, "singular_values: empty matrix " + std::to_string(rows) +
                                           " x " + std::to_string(cols));
    const lapack_int m = lapack_dimension(std::max(rows, cols), "singular_values");
    const lapack_int n = lapack_dimension(std::min(rows, cols), "singular_values");
    std::vector<double> a = to_tall_column_major(matrix, rows, cols, subtract_mean_row);
    const LapackThreads threads;

    // Tall matrices: factor A = QR first and take the singular values of the n x n R. dgesdd
    // does this itself past the same crossover (11/6, LAPACK's mnthr), but calling it
    // directly saves the LAPACKE copy and NaN scan: 10.5 ms instead of 14 ms on 10000 x 100.
    if (static_cast<int64_t>(m) * 6 >= static_cast<int64_t>(n) * 11) {
        std::vector<double> tau(static_cast<size_t>(n));
        double query = 0;
        check_info(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, a.data(), m, tau.data(), &query, -1),
                   "dgeqrf");
        std::vector<double> work(static_cast<size_t>(query) + 1);
        check_info(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, a.data(), m, tau.data(), work.data(),
                                       static_cast<lapack_int>(work.size())),
                   "dgeqrf");
        std::vector<double> r(static_cast<size_t>(n) * n, 0.0);
        for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i <= j; ++i) r[j * n + i] = a[j * static_cast<int64_t>(m) + i];
        a.clear();
        a.shrink_to_fit();
        gesdd_values(r.data(), n, n, n, out);
    } else {
        gesdd_values(a.data(), m, n, m, out);
    }
}

void symmetric_eigen(const double* symmetric, int64_t d, double* eigenvalues,
                     double* eigenvectors) {
    const lapack_int n = lapack_dimension(d, "symmetric_eigen");
    for (int64_t i = 0; i < d * d; ++i)
        KELVIN_CHECK(std::isfinite(symmetric[i]), "symmetric_eigen: entry (" +
                                                      std::to_string(i / d) + ", " +
                                                      std::to_string(i % d) + ") is not finite");
    // A symmetric row-major matrix is its own column-major image, so LAPACK reads it as is;
    // dsyevd then leaves eigenvector k in column k, which is row k of the row-major output.
    std::vector<double> a(symmetric, symmetric + d * d);
    std::vector<double> w(static_cast<size_t>(d));
    const char jobz = eigenvectors ? 'V' : 'N';
    const LapackThreads threads;
    double work_query = 0;
    lapack_int iwork_query = 0;
    check_info(LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, 'U', n, a.data(), n, w.data(),
                                   &work_query, -1, &iwork_query, -1),
               "dsyevd");
    std::vector<double> work(static_cast<size_t>(work_query) + 1);
    std::vector<lapack_int> iwork(static_cast<size_t>(iwork_query) + 1);
    check_info(LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, 'U', n, a.data(), n, w.data(),
                                   work.data(), static_cast<lapack_int>(work.size()), iwork.data(),
                                   static_cast<lapack_int>(iwork.size())),
               "dsyevd");
    // LAPACK's order is ascending; the contract (and every caller's threshold) is descending.
    for (int64_t k = 0; k < d; ++k) eigenvalues[k] = w[d - 1 - k];
    if (eigenvectors) {
        for (int64_t k = 0; k < d; ++k)
            std::copy(a.begin() + (d - 1 - k) * d, a.begin() + (d - k) * d, eigenvectors + k * d);
        fix_signs(eigenvectors, d);
    }
}

}  // namespace kelvin::cpu
