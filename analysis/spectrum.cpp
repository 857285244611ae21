#include "analysis/spectrum.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "engine/ops.h"

namespace kelvin {

int64_t numerical_rank(const std::vector<double>& sv_descending, double gamma) {
    KELVIN_CHECK(gamma > 0 && gamma < 1,
                 "numerical_rank: gamma must lie in (0, 1), got " + std::to_string(gamma));
    if (sv_descending.empty() || !(sv_descending[0] > 0)) return 0;
    const double threshold = gamma * sv_descending[0];
    int64_t rank = 0;
    for (double s : sv_descending) {
        if (!(s > threshold)) break;
        ++rank;
    }
    return rank;
}

RankReport rank_report_from_singular_values(std::vector<double> sv_descending, int64_t rows,
                                            int64_t cols, double gamma, bool centered) {
    KELVIN_CHECK(std::is_sorted(sv_descending.rbegin(), sv_descending.rend()),
                 "rank_report: singular values must be in descending order");
    RankReport report;
    report.rows = rows;
    report.cols = cols;
    report.centered = centered;
    report.singular_values = std::move(sv_descending);
    report.gamma = gamma;
    report.rank = numerical_rank(report.singular_values, gamma);
    for (double g : kReportedGammas)
        report.rank_by_gamma[g] = numerical_rank(report.singular_values, g);
    report.rank_by_gamma[gamma] = report.rank;
    return report;
}

RankReport rank_report(const Tensor& matrix, double gamma, bool center) {
    KELVIN_CHECK(matrix.ndim() == 2 && matrix.size(0) > 0 && matrix.size(1) > 0,
                 "rank_report: expected a non-empty matrix, got " + matrix.describe());
    return rank_report_from_singular_values(ops::singular_values(matrix, center), matrix.size(0),
                                            matrix.size(1), gamma, center);
}

namespace {
// A host array as a CPU tensor (one copy; the SVD that follows costs far more).
Tensor host_matrix_tensor(const float* host_matrix, int64_t rows, int64_t cols, const char* what) {
    KELVIN_CHECK(rows > 0 && cols > 0, std::string(what) + ": empty matrix " +
                                           std::to_string(rows) + " x " + std::to_string(cols));
    return Tensor::from_vector(std::vector<float>(host_matrix, host_matrix + rows * cols),
                               {rows, cols});
}
}  // namespace

RankReport rank_report(const float* host_matrix, int64_t rows, int64_t cols, double gamma,
                       bool center) {
    return rank_report(host_matrix_tensor(host_matrix, rows, cols, "rank_report"), gamma, center);
}

std::vector<int64_t> subsample_columns(int64_t cols, int64_t max_cols, uint64_t seed) {
    KELVIN_CHECK(cols >= 0 && max_cols > 0, "subsample_columns: need cols >= 0 and max_cols > 0");
    std::vector<int64_t> index(static_cast<size_t>(cols));
    std::iota(index.begin(), index.end(), int64_t{0});
    if (cols <= max_cols) return index;

    std::mt19937_64 generator(seed);
    // Uniform in [0, bound): reject the top 2^64 mod bound raw values so that every residue is
    // equally likely (the same draw as Lemire's "debiased modulo").
    auto below = [&generator](uint64_t bound) {
        const uint64_t reject_below = (0 - bound) % bound;  // 2^64 mod bound
        uint64_t x;
        do x = generator();
        while (x < reject_below);
        return x % bound;
    };
    for (int64_t i = 0; i < max_cols; ++i) {
        const int64_t j = i + static_cast<int64_t>(below(static_cast<uint64_t>(cols - i)));
        std::swap(index[i], index[j]);
    }
    index.resize(static_cast<size_t>(max_cols));
    std::sort(index.begin(), index.end());
    return index;
}

std::vector<float> gather_columns(const float* matrix, int64_t rows, int64_t cols,
                                  const std::vector<int64_t>& columns) {
    for (int64_t c : columns)
        KELVIN_CHECK(c >= 0 && c < cols, "gather_columns: column " + std::to_string(c) +
                                             " is outside 0.." + std::to_string(cols - 1));
    const int64_t k = static_cast<int64_t>(columns.size());
    std::vector<float> out(static_cast<size_t>(rows * k));
    for (int64_t i = 0; i < rows; ++i) {
        const float* row = matrix + i * cols;
        float* dst = out.data() + i * k;
        for (int64_t j = 0; j < k; ++j) dst[j] = row[columns[j]];
    }
    return out;
}

namespace {

LogitsNormStats row_norm_stats(const float* logits, int64_t rows, int64_t cols) {
    KELVIN_CHECK(rows > 0 && cols > 0, "logits_norm_stats: empty matrix " + std::to_string(rows) +
                                           " x " + std::to_string(cols));
    LogitsNormStats stats;
    double sum_of_norms = 0, sum_of_squares = 0;
    for (int64_t i = 0; i < rows; ++i) {
        double row_squares = 0;
        for (int64_t j = 0; j < cols; ++j) {
            const double v = logits[i * cols + j];
            row_squares += v * v;
        }
        sum_of_norms += std::sqrt(row_squares);
        sum_of_squares += row_squares;
    }
    stats.mean_row_norm = sum_of_norms / static_cast<double>(rows);
    stats.frobenius = std::sqrt(sum_of_squares);
    return stats;
}

}  // namespace

LogitsNormStats logits_norm_stats(const float* logits, int64_t rows, int64_t cols) {
    LogitsNormStats stats = row_norm_stats(logits, rows, cols);
    stats.sigma_1 =
        ops::singular_values(host_matrix_tensor(logits, rows, cols, "logits_norm_stats"))[0];
    return stats;
}

LogitsNormStats logits_norm_stats(const float* logits, int64_t rows, int64_t cols,
                                  const RankReport& report) {
    KELVIN_CHECK(report.rows == rows && report.cols == cols && !report.centered &&
                     !report.singular_values.empty(),
                 "logits_norm_stats: the rank report must be of the same, uncentred matrix");
    LogitsNormStats stats = row_norm_stats(logits, rows, cols);
    stats.sigma_1 = report.singular_values[0];
    return stats;
}

}  // namespace kelvin
