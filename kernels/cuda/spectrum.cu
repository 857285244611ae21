// CUDA spectra with cuSOLVER in float64. See kernels/spectrum.h for the contract.
// The float32 input stays on the device: it is widened (and centred, and transposed to a tall
// column-major matrix) by one kernel, factored by cuSOLVER, and only the min(rows, cols)
// singular values travel back. Diagnostics run once an epoch, so this file favours plain,
// synchronous code: it waits for the whole device on entry (the input may come from any
// stream) and allocates its scratch with cudaMalloc rather than the training allocator.
#include "kernels/spectrum.h"

#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {
namespace {

void check_cuda(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        throw Error(std::string("spectrum: ") + what + ": " + cudaGetErrorString(status));
}

void check_cusolver(cusolverStatus_t status, const char* what) {
    if (status != CUSOLVER_STATUS_SUCCESS)
        throw Error(std::string("spectrum: ") + what + " returned cusolver status " +
                    std::to_string(static_cast<int>(status)));
}


template <typename T>
struct DeviceBuffer {
    T* ptr = nullptr;
    explicit DeviceBuffer(size_t count) {
        check_cuda(cudaMalloc(&ptr, std::max<size_t>(count, 1) * sizeof(T)), "cudaMalloc");
    }
    ~DeviceBuffer() { cudaFree(ptr); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

int solver_dimension(int64_t n, const char* what) {
    KELVIN_CHECK(n > 0 && n <= INT_MAX, std::string(what) + ": dimension " + std::to_string(n) +
                                            " is outside cuSOLVER's range 1.." +
                                            std::to_string(INT_MAX));
    return static_cast<int>(n);
}

// ---- kernels ---------------------------------------------------------------------------------

constexpr int kTile = 32;
constexpr int kRowsPerPass = 8;

// mean[j] = (1 / rows) * sum_i a[i, j], in double. A 32 x 8 block owns 32 columns: each of its
// 8 row lanes sums every 8th row, then lane 0 adds the 8 partial sums in a fixed order, so the
// result is the same on every run.
__global__ void column_means_kernel(const float* a, int64_t rows, int64_t cols, double* mean) {
    __shared__ double partial[kRowsPerPass][kTile];
    const int64_t j = static_cast<int64_t>(blockIdx.x) * kTile + threadIdx.x;
    double sum = 0.0;
    if (j < cols)
        for (int64_t i = threadIdx.y; i < rows; i += kRowsPerPass) sum += a[i * cols + j];
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
        double total = 0.0;
        for (int r = 0; r < kRowsPerPass; ++r) total += partial[r][threadIdx.x];
        mean[j] = total / static_cast<double>(rows);
    }
}

// out (column-major rows x cols, leading dimension rows) = a (row-major rows x cols) - mean,
// in double, through a shared tile so that reads and writes are both coalesced. mean may be
// null. Sets *nonfinite when an input entry is NaN or infinite.
__global__ void widen_transpose_kernel(const float* a, int64_t rows, int64_t cols,
                                       const double* mean, double* out, int* nonfinite) {
    __shared__ float tile[kTile][kTile + 1];
    const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTile;  // rows >= cols: the long axis
    const int64_t col0 = static_cast<int64_t>(blockIdx.y) * kTile;
    for (int r = threadIdx.y; r < kTile; r += kRowsPerPass) {
        const int64_t i = row0 + r, j = col0 + threadIdx.x;
        if (i < rows && j < cols) {
            const float v = a[i * cols + j];
            if (!isfinite(v)) atomicOr(nonfinite, 1);
            tile[r][threadIdx.x] = v;
        }
    }
    __syncthreads();
    for (int c = threadIdx.y; c < kTile; c += kRowsPerPass) {
        const int64_t j = col0 + c, i = row0 + threadIdx.x;
        if (i < rows && j < cols)
            out[j * rows + i] = static_cast<double>(tile[threadIdx.x][c]) - (mean ? mean[j] : 0.0);
    }
}

// out[i * cols + j] = a[i * cols + j] - mean[j] in double: the row-major matrix read as its
// column-major transpose (cols x rows), which is tall when rows < cols.
__global__ void widen_kernel(const float* a, int64_t rows, int64_t cols, const double* mean,
                             double* out, int* nonfinite) {
    const int64_t n = rows * cols;
    for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < n;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float v = a[k];
        if (!isfinite(v)) atomicOr(nonfinite, 1);
        out[k] = static_cast<double>(v) - (mean ? mean[k % cols] : 0.0);
    }
}

// r (n x n, column-major) = the upper triangle of the first n rows of a (leading dimension lda).
__global__ void upper_triangle_kernel(const double* a, int64_t lda, int n, double* r) {
    const int64_t total = static_cast<int64_t>(n) * n;
    for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t j = k / n, i = k % n;
        r[k] = i <= j ? a[j * lda + i] : 0.0;
    }
}

__global__ void flag_nonfinite_kernel(const double* a, int64_t n, int* nonfinite) {
    for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < n;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x)
        if (!isfinite(a[k])) atomicOr(nonfinite, 1);
}

int grid_for(int64_t n, int block) {
    return static_cast<int>(std::min<int64_t>((n + block - 1) / block, 65535 * 4));
}

int read_int(const int* device_value, const char* what) {
    int value = 0;
    check_cuda(cudaMemcpy(&value, device_value, sizeof(int), cudaMemcpyDeviceToHost), what);
    return value;
}

// Singular values of the column-major m x n matrix a (m >= n, leading dimension m) to host
// out; a is destroyed.
void gesvd_values(cusolverDnHandle_t handle, double* a, int m, int n, double* out) {
    int lwork = 0;
    check_cusolver(cusolverDnDgesvd_bufferSize(handle, m, n, &lwork), "Dgesvd_bufferSize");
    DeviceBuffer<double> work(static_cast<size_t>(lwork));
    DeviceBuffer<double> values(static_cast<size_t>(n));
    DeviceBuffer<double> rwork(static_cast<size_t>(n));
    DeviceBuffer<int> info(1);
    check_cusolver(cusolverDnDgesvd(handle, 'N', 'N', m, n, a, m, values.ptr, nullptr, m, nullptr,
                                    n, work.ptr, lwork, rwork.ptr, info.ptr),
                   "Dgesvd");
    const int status = read_int(info.ptr, "Dgesvd info");
    KELVIN_CHECK(status == 0, "singular_values: cusolverDnDgesvd failed with info " +
                                  std::to_string(status) +
                                  (status > 0 ? " (did not converge)" : " (bad argument)"));
    check_cuda(cudaMemcpy(out, values.ptr, sizeof(double) * n, cudaMemcpyDeviceToHost),
               "copy singular values");
}

}  // namespace

void singular_values(const float* matrix, int64_t rows, int64_t cols, bool subtract_mean_row,
                     double* out) {
    KELVIN_CHECK(rows > 0 && cols > 0, "singular_values: empty matrix " + std::to_string(rows) +
                                           " x " + std::to_string(cols));
    const int m = solver_dimension(std::max(rows, cols), "singular_values");
    const int n = solver_dimension(std::min(rows, cols), "singular_values");
    check_cuda(cudaDeviceSynchronize(), "synchronise before singular_values");
    cusolverDnHandle_t handle = cusolver_handle();  // context.cuh: per thread, never destroyed
    check_cusolver(cusolverDnSetStream(handle, 0), "cusolverDnSetStream");

    DeviceBuffer<int> nonfinite(1);
    check_cuda(cudaMemset(nonfinite.ptr, 0, sizeof(int)), "cudaMemset");
    DeviceBuffer<double> mean(static_cast<size_t>(cols));
    if (subtract_mean_row) {
        const unsigned blocks = static_cast<unsigned>((cols + kTile - 1) / kTile);
        // launch: 256 threads, occupancy >= 100%
        column_means_kernel<<<blocks, dim3(kTile, kRowsPerPass)>>>(matrix, rows, cols, mean.ptr);
        check_cuda(cudaGetLastError(), "column_means_kernel");
    }
    const double* mean_or_null = subtract_mean_row ? mean.ptr : nullptr;

    DeviceBuffer<double> a(static_cast<size_t>(rows) * static_cast<size_t>(cols));
    if (rows >= cols) {
        const dim3 grid(static_cast<unsigned>((rows + kTile - 1) / kTile),
                        static_cast<unsigned>((cols + kTile - 1) / kTile));
        // launch: 256 threads, occupancy >= 100%
        widen_transpose_kernel<<<grid, dim3(kTile, kRowsPerPass)>>>(
            matrix, rows, cols, mean_or_null, a.ptr, nonfinite.ptr);
    } else {
        // launch: 256 threads, occupancy >= 100%
        widen_kernel<<<grid_for(rows * cols, 256), 256>>>(matrix, rows, cols, mean_or_null, a.ptr,
                                                          nonfinite.ptr);
    }
    check_cuda(cudaGetLastError(), "widen kernel");
    KELVIN_CHECK(read_int(nonfinite.ptr, "non-finite flag") == 0,
                 "singular_values: the " + std::to_string(rows) + " x " + std::to_string(cols) +
                     " matrix has NaN or infinite entries; it must be finite");

    // Tall matrices (past LAPACK's 11/6 crossover): QR first, then the SVD of the n x n R.
    if (static_cast<int64_t>(m) * 6 >= static_cast<int64_t>(n) * 11) {
        int lwork = 0;
        check_cusolver(cusolverDnDgeqrf_bufferSize(handle, m, n, a.ptr, m, &lwork),
                       "Dgeqrf_bufferSize");
        DeviceBuffer<double> work(static_cast<size_t>(lwork));
        DeviceBuffer<double> tau(static_cast<size_t>(n));
        DeviceBuffer<int> info(1);
        check_cusolver(cusolverDnDgeqrf(handle, m, n, a.ptr, m, tau.ptr, work.ptr, lwork, info.ptr),
                       "Dgeqrf");
        const int status = read_int(info.ptr, "Dgeqrf info");
        KELVIN_CHECK(status == 0, "singular_values: cusolverDnDgeqrf failed with info " +
                                      std::to_string(status));
        DeviceBuffer<double> r(static_cast<size_t>(n) * n);
        // launch: 256 threads, occupancy >= 100%
        upper_triangle_kernel<<<grid_for(static_cast<int64_t>(n) * n, 256), 256>>>(a.ptr, m, n,
                                                                                   r.ptr);
        check_cuda(cudaGetLastError(), "upper_triangle_kernel");
        gesvd_values(handle, r.ptr, n, n, out);
    } else {
        gesvd_values(handle, a.ptr, m, n, out);
    }
}

void symmetric_eigen(const double* symmetric, int64_t d, double* eigenvalues,
                     double* eigenvectors) {
    const int n = solver_dimension(d, "symmetric_eigen");
    check_cuda(cudaDeviceSynchronize(), "synchronise before symmetric_eigen");
    cusolverDnHandle_t handle = cusolver_handle();  // context.cuh: per thread, never destroyed
    check_cusolver(cusolverDnSetStream(handle, 0), "cusolverDnSetStream");

    const size_t count = static_cast<size_t>(d) * static_cast<size_t>(d);
    DeviceBuffer<int> nonfinite(1);
    check_cuda(cudaMemset(nonfinite.ptr, 0, sizeof(int)), "cudaMemset");
    // launch: 256 threads, occupancy >= 100%
    flag_nonfinite_kernel<<<grid_for(static_cast<int64_t>(count), 256), 256>>>(
        symmetric, static_cast<int64_t>(count), nonfinite.ptr);
    check_cuda(cudaGetLastError(), "flag_nonfinite_kernel");
    KELVIN_CHECK(read_int(nonfinite.ptr, "non-finite flag") == 0,
                 "symmetric_eigen: the matrix has NaN or infinite entries; it must be finite");

    // As on the CPU: the symmetric row-major matrix is its own column-major image, and
    // eigenvector k comes back in column k, which is row k of the row-major result.
    DeviceBuffer<double> a(count);
    check_cuda(cudaMemcpy(a.ptr, symmetric, sizeof(double) * count, cudaMemcpyDeviceToDevice),
               "copy symmetric matrix");
    DeviceBuffer<double> w(static_cast<size_t>(d));
    const cusolverEigMode_t mode =
        eigenvectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
    int lwork = 0;
    check_cusolver(cusolverDnDsyevd_bufferSize(handle, mode, CUBLAS_FILL_MODE_UPPER, n, a.ptr, n,
                                               w.ptr, &lwork),
                   "Dsyevd_bufferSize");
    DeviceBuffer<double> work(static_cast<size_t>(lwork));
    DeviceBuffer<int> info(1);
    check_cusolver(cusolverDnDsyevd(handle, mode, CUBLAS_FILL_MODE_UPPER, n, a.ptr, n, w.ptr,
                                    work.ptr, lwork, info.ptr),
                   "Dsyevd");
    const int status = read_int(info.ptr, "Dsyevd info");
    KELVIN_CHECK(status == 0,
                 "symmetric_eigen: cusolverDnDsyevd failed with info " + std::to_string(status));

    // cuSOLVER's order is ascending, like LAPACK's; reverse on the host.
    std::vector<double> ascending(static_cast<size_t>(d));
    check_cuda(cudaMemcpy(ascending.data(), w.ptr, sizeof(double) * d, cudaMemcpyDeviceToHost),
               "copy eigenvalues");
    for (int64_t k = 0; k < d; ++k) eigenvalues[k] = ascending[d - 1 - k];
    if (eigenvectors) {
        std::vector<double> vectors(count);
        check_cuda(
            cudaMemcpy(vectors.data(), a.ptr, sizeof(double) * count, cudaMemcpyDeviceToHost),
            "copy eigenvectors");
        for (int64_t k = 0; k < d; ++k) {
            const double* v = vectors.data() + (d - 1 - k) * d;
            double* dst = eigenvectors + k * d;
            int64_t largest = 0;
            for (int64_t i = 1; i < d; ++i)
                if (std::fabs(v[i]) > std::fabs(v[largest])) largest = i;
            const double sign = v[largest] < 0 ? -1.0 : 1.0;
            for (int64_t i = 0; i < d; ++i) dst[i] = sign * v[i];
        }
    }
}

}  // namespace kelvin::cuda
