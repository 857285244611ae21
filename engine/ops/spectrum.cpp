// Dense spectra as tensor-level queries: the singular values behind the numerical rank and the
// symmetric eigendecomposition behind NECO's PCA, computed by the backend of the device the
// data is on (LAPACK or cuSOLVER, kernels/spectrum.h), results returned to the host. Not
// recorded by autograd: statistics of a model, not part of one.
#include <algorithm>

#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/storage.h"
#include "engine/trace.h"
#include "kernels/spectrum.h"

namespace kelvin::ops {

std::vector<double> singular_values(const Tensor& matrix, bool subtract_mean_row) {
    KELVIN_TRACE_OP("singular_values", matrix.device());
    check_f32(matrix, "singular_values");
    KELVIN_CHECK(matrix.ndim() == 2,
                 "singular_values: expected a matrix [rows, cols], got " + matrix.describe());
    const int64_t rows = matrix.size(0), cols = matrix.size(1);
    KELVIN_CHECK(rows > 0 && cols > 0, "singular_values: empty matrix " + matrix.describe());
    std::vector<double> sv(static_cast<size_t>(std::min(rows, cols)));
    KELVIN_DISPATCH(matrix.device(), singular_values, matrix.f32(), rows, cols, subtract_mean_row,
                    sv.data());
    return sv;
}

SymmetricEigen symmetric_eigen(const std::vector<double>& symmetric, int64_t d, Device device,
                               bool with_vectors) {
    KELVIN_TRACE_OP("symmetric_eigen", device);
    KELVIN_CHECK(d > 0 && symmetric.size() == static_cast<size_t>(d * d),
                 "symmetric_eigen: expected " + std::to_string(d) + " x " + std::to_string(d) +
                     " values, got " + std::to_string(symmetric.size()));
    SymmetricEigen result;
    result.eigenvalues.resize(static_cast<size_t>(d));
    if (with_vectors) result.eigenvectors.resize(static_cast<size_t>(d * d));
    double* vectors = with_vectors ? result.eigenvectors.data() : nullptr;
    const size_t bytes = symmetric.size() * sizeof(double);
    if (device == Device::CPU) {
        KELVIN_DISPATCH(device, symmetric_eigen, symmetric.data(), d, result.eigenvalues.data(),
                        vectors);
    } else {
        // The solver reads its input where it computes; the matrix is small (D x D).
        Storage on_device(bytes, device);
        copy_bytes(on_device.data, device, symmetric.data(), Device::CPU, bytes);
        KELVIN_DISPATCH(device, symmetric_eigen, static_cast<const double*>(on_device.data), d,
                        result.eigenvalues.data(), vectors);
    }
    return result;
}

}  // namespace kelvin::ops
