// The numerical rank of a logits or feature matrix, the column subsampling used for wide feature
// matrices, and the logits-norm statistics (docs: METHODS.md, "The logits matrix and its rank"
// and "Logits norm"). Tensors (or host arrays) in, plain structs out; the spectra themselves are
// the engine's ops::singular_values, computed on the device the matrix is on.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "engine/tensor.h"

namespace kelvin {

// The rank protocol's constants (Tunnel Effect): threshold, the gammas always reported beside
// it, the widest feature matrix ranked whole, and the seed of the column subset beyond it.
inline constexpr double kRankGamma = 1e-3;
inline constexpr double kReportedGammas[] = {1e-2, 1e-3, 1e-4};
inline constexpr int64_t kMaxRankColumns = 8000;
inline constexpr uint64_t kRankColumnSeed = 0;

// Number of singular values strictly above gamma * sigma_1 (sigma_1 the largest); 0 for an
// all-zero matrix. sv_descending must be in descending order (as singular_values returns it).
// gamma applies to singular values, not to their squares (the eigenvalues of the Gram matrix).
int64_t numerical_rank(const std::vector<double>& sv_descending, double gamma);

struct RankReport {
    int64_t rows = 0, cols = 0;
    bool centered = false;                    // columns centred (mean row subtracted) first
    std::vector<double> singular_values;      // the whole spectrum, descending
    double gamma = kRankGamma;                // the gamma behind `rank`
    int64_t rank = 0;                         // numerical_rank(singular_values, gamma)
    std::map<double, int64_t> rank_by_gamma;  // kReportedGammas, plus gamma
};

// Builds the report from a spectrum already computed (for instance by ops::singular_values).
RankReport rank_report_from_singular_values(std::vector<double> sv_descending, int64_t rows,
                                            int64_t cols, double gamma, bool centered);

// Spectrum and ranks of the f32 matrix [rows, cols], computed in float64 on its device.
RankReport rank_report(const Tensor& matrix, double gamma = kRankGamma, bool center = false);
// The same for a row-major rows x cols host array.
RankReport rank_report(const float* host_matrix, int64_t rows, int64_t cols,
                       double gamma = kRankGamma, bool center = false);

// The column subset for a matrix with `cols` columns: all of them when cols <= max_cols, else
// max_cols distinct indices drawn by a partial Fisher-Yates shuffle driven by
// std::mt19937_64(seed), returned in ascending order. The draw uses rejection sampling on the
// raw 64-bit output rather than std::uniform_int_distribution, whose algorithm differs between
// standard libraries, so the subset depends on (cols, max_cols, seed) alone.
std::vector<int64_t> subsample_columns(int64_t cols, int64_t max_cols = kMaxRankColumns,
                                       uint64_t seed = kRankColumnSeed);

// out (rows x columns.size(), row-major) = the listed columns of the host matrix.
std::vector<float> gather_columns(const float* matrix, int64_t rows, int64_t cols,
                                  const std::vector<int64_t>& columns);

struct LogitsNormStats {
    double mean_row_norm = 0;  // mean over samples n of ||M_n||_2
    double frobenius = 0;      // ||M||_F
    double sigma_1 = 0;        // largest singular value of the uncentred M
};

// Norm statistics of the host row-major rows x cols logits; computes sigma_1 with an SVD.
LogitsNormStats logits_norm_stats(const float* logits, int64_t rows, int64_t cols);
// The same, taking sigma_1 from a report of the same matrix (uncentred) to spare a second SVD.
LogitsNormStats logits_norm_stats(const float* logits, int64_t rows, int64_t cols,
                                  const RankReport& report);

}  // namespace kelvin
