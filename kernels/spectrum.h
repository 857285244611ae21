// Dense spectra in float64: the singular values behind the numerical rank, and the symmetric
// eigendecomposition behind NECO's PCA. Inputs live where the backend computes (host for cpu,
// device for cuda); results always come back to host memory, since the caller reads them at once.
// Float64 because the rank threshold gamma * sigma_1 goes down to 1e-4 * sigma_1 and a float32
// algorithm (or any Gram matrix) would put its own error at that level (docs: METHODS.md).
// CPU: LAPACK (dgeqrf + dgesdd, dsyevd). CUDA: cuSOLVER (Dgeqrf + Dgesvd, Dsyevd).
#pragma once

#include <cstdint>

namespace kelvin {
#define KELVIN_SPECTRUM_DECLARATIONS                                                         \
    /* Singular values of the row-major rows x cols float32 matrix, min(rows, cols) of them,  \
       in descending order, written to host memory out. subtract_mean_row: centre every      \
       column first (subtract the mean row); the rank protocol leaves rows uncentred. Throws \
       kelvin::Error on an empty or non-finite matrix. */                                    \
    void singular_values(const float* matrix, int64_t rows, int64_t cols, bool subtract_mean_row, \
                         double* out);                                                        \
    /* Eigenvalues of the symmetric d x d row-major matrix (both triangles filled), in        \
       descending order, to host eigenvalues[d]. When eigenvectors is not null it receives,   \
       on the host, d x d row-major with row k the unit eigenvector of eigenvalues[k] (the    \
       layout of sklearn's PCA components_), its sign fixed so that its largest-magnitude     \
       component is positive (the first one on ties). */                                     \
    void symmetric_eigen(const double* symmetric, int64_t d, double* eigenvalues,            \
                         double* eigenvectors);
namespace cpu {
KELVIN_SPECTRUM_DECLARATIONS
}
namespace cuda {
KELVIN_SPECTRUM_DECLARATIONS
}
#undef KELVIN_SPECTRUM_DECLARATIONS
}  // namespace kelvin
