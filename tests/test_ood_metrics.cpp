// OOD scores and metrics on hand-computed examples, NECO's invariances, OrthoDev's extremes and
// the probe summaries kappa and rho.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/device.h"
#include "analysis/ood_metrics.h"

namespace {

// O(n_in * n_ood) pair count, the definition the O(n log n) auroc must agree with.
double auroc_by_pairs(const std::vector<double>& in, const std::vector<double>& ood) {
    double wins = 0;
    for (double a : in)
        for (double b : ood) wins += a > b ? 1.0 : (a == b ? 0.5 : 0.0);
    return wins / (static_cast<double>(in.size()) * static_cast<double>(ood.size()));
}

// n samples of h = W z + noise, z in R^k, W a fixed dim x k matrix: features near a
// k-dimensional subspace. Row-major n x dim.
std::vector<float> low_rank_features(int64_t n, int64_t dim, int64_t k, double noise, uint64_t seed,
                                     uint64_t weight_seed = 99) {
    std::mt19937_64 weights_rng(weight_seed), rng(seed);
    std::normal_distribution<double> normal;
    std::vector<double> w(static_cast<size_t>(dim * k));
    for (double& v : w) v = normal(weights_rng);
    std::vector<float> h(static_cast<size_t>(n * dim));
    for (int64_t i = 0; i < n; ++i) {
        std::vector<double> z(static_cast<size_t>(k));
        for (double& v : z) v = normal(rng);
        for (int64_t j = 0; j < dim; ++j) {
            double sum = 3.0 + j;  // an offset per feature, which the scaler removes
            for (int64_t t = 0; t < k; ++t) sum += w[j * k + t] * z[t];
            h[i * dim + j] = static_cast<float>(sum + noise * normal(rng));
        }
    }
    return h;
}

}  // namespace

TEST_CASE("logit scores: MSP, MaxLogit and Energy on hand examples") {
    // Row 0: z = (0, ln 3): softmax (1/4, 3/4), so MSP 0.75, MaxLogit ln 3, Energy ln 4.
    // Row 1: z = (1000, 1000): MSP 1/2 and Energy 1000 + ln 2, without overflow.
    const std::vector<float> z = {0.0f, std::log(3.0f), 1000.0f, 1000.0f};
    const std::vector<double> msp = kelvin::msp_scores(z.data(), 2, 2);
    const std::vector<double> max_logit = kelvin::max_logit_scores(z.data(), 2, 2);
    const std::vector<double> energy = kelvin::energy_scores(z.data(), 2, 2);
    CHECK(msp[0] == doctest::Approx(0.75));
    CHECK(msp[1] == doctest::Approx(0.5));
    CHECK(max_logit[0] == doctest::Approx(std::log(3.0)));
    CHECK(max_logit[1] == 1000.0);
    CHECK(energy[0] == doctest::Approx(std::log(4.0)));
    CHECK(energy[1] == doctest::Approx(1000.0 + std::log(2.0)));
}

TEST_CASE("auroc and fpr_at_95_tpr on a hand example with ties") {
    // in = {3, 2, 2, 1}, ood = {2, 1, 0}: 12 pairs.
    //   3 beats 2, 1, 0                 -> 3
    //   each 2 ties 2, beats 1 and 0    -> 2.5, twice: 5
    //   1 loses to 2, ties 1, beats 0   -> 1.5
    // AUROC = 9.5 / 12.
    // FPR95: k = ceil(0.95 * 4) = 4, threshold = 4th largest in-score = 1; OOD >= 1: {2, 1},
    // so FPR95 = 2/3.
    const std::vector<double> in = {3, 2, 2, 1}, ood = {2, 1, 0};
    CHECK(kelvin::auroc(in, ood) == doctest::Approx(9.5 / 12));
    CHECK(kelvin::fpr_at_95_tpr(in, ood) == doctest::Approx(2.0 / 3));

    CHECK(kelvin::auroc({5, 6}, {1, 2, 3}) == 1.0);
    CHECK(kelvin::auroc({1, 2}, {5, 6}) == 0.0);
    CHECK(kelvin::auroc({1, 1}, {1, 1, 1}) == 0.5);
    CHECK(kelvin::fpr_at_95_tpr({5, 6}, {1, 2, 3}) == 0.0);
    CHECK(kelvin::fpr_at_95_tpr({1, 2}, {5, 6}) == 1.0);
    CHECK_THROWS_AS(kelvin::auroc({}, {1.0}), kelvin::Error);
    CHECK_THROWS_AS(kelvin::auroc({std::nan("")}, {1.0}), kelvin::Error);
}

TEST_CASE("fpr_at_95_tpr threshold keeps exactly ceil(0.95 n) in-distribution samples") {
    // in = 1..20: k = 19 (0.95 * 20 exactly, computed in integers), threshold = 19th largest = 2.
    // ood = {1.5, 2, 3}: 2 and 3 are at or above it -> 2/3.
    std::vector<double> in;
    for (int i = 1; i <= 20; ++i) in.push_back(i);
    CHECK(kelvin::fpr_at_95_tpr(in, {1.5, 2, 3}) == doctest::Approx(2.0 / 3));
    // in = 1..21: k = ceil(19.95) = 20, threshold = 20th largest = 2; 1.5 stays below.
    in.push_back(21);
    CHECK(kelvin::fpr_at_95_tpr(in, {1.5, 2, 3}) == doctest::Approx(2.0 / 3));
    CHECK(kelvin::fpr_at_95_tpr(in, {1.5, 1.9}) == 0.0);
}

TEST_CASE("auroc matches the pair count on random scores with many ties") {
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<int> level(0, 9);
    std::vector<double> in(300), ood(211);
    for (double& s : in) s = level(rng) + 2;  // shifted up: AUROC well above 1/2
    for (double& s : ood) s = level(rng);
    CHECK(kelvin::auroc(in, ood) == doctest::Approx(auroc_by_pairs(in, ood)).epsilon(1e-12));
    CHECK(kelvin::auroc(ood, in) == doctest::Approx(1 - auroc_by_pairs(in, ood)).epsilon(1e-12));
}

TEST_CASE("NECO: scaler, principal axes and scores") {
    const int64_t n = 800, dim = 12, k = 3;
    const std::vector<float> train = low_rank_features(n, dim, k, 0.01, 1);
    const kelvin::NecoModel model = kelvin::fit_neco(train.data(), n, dim);
    REQUIRE(model.dim == dim);

    SUBCASE("the scaler is the mean and ddof-0 standard deviation") {
        for (int64_t j = 0; j < dim; ++j) {
            double mean = 0, var = 0;
            for (int64_t i = 0; i < n; ++i) mean += train[i * dim + j];
            mean /= n;
            for (int64_t i = 0; i < n; ++i)
                var += (train[i * dim + j] - mean) * (train[i * dim + j] - mean);
            CHECK(model.mean[j] == doctest::Approx(mean).epsilon(1e-12));
            CHECK(model.scale[j] == doctest::Approx(std::sqrt(var / n)).epsilon(1e-12));
        }
        // The scaled features have unit variance (ddof 0), so the PCA variances (ddof 1) sum
        // to dim * n / (n - 1).
        double total = 0;
        for (double v : model.explained_variance) total += v;
        CHECK(total == doctest::Approx(dim * double(n) / (n - 1)).epsilon(1e-10));
        CHECK(std::is_sorted(model.explained_variance.rbegin(), model.explained_variance.rend()));
    }
    SUBCASE("keeping every axis gives score 1; the max logit multiplies the score") {
        const std::vector<double> all = kelvin::neco_scores(model, train.data(), 10, dim);
        for (double s : all) CHECK(s == doctest::Approx(1.0).epsilon(1e-12));
        const std::vector<double> max_logits = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
        const std::vector<double> scaled =
            kelvin::neco_scores(model, train.data(), 10, 2, max_logits.data());
        const std::vector<double> plain = kelvin::neco_scores(model, train.data(), 10, 2);
        for (int i = 0; i < 10; ++i) CHECK(scaled[i] == doctest::Approx(plain[i] * max_logits[i]));
    }
    SUBCASE("in-distribution samples live in the principal subspace, isotropic ones do not") {
        const std::vector<float> id = low_rank_features(200, dim, k, 0.01, 2);
        std::vector<float> ood(200 * dim);
        std::mt19937_64 rng(3);
        std::normal_distribution<double> normal;
        for (int64_t i = 0; i < 200; ++i)  // isotropic in the scaled space
            for (int64_t j = 0; j < dim; ++j)
                ood[i * dim + j] = static_cast<float>(model.mean[j] + model.scale[j] * normal(rng));
        const std::vector<double> id_scores = kelvin::neco_scores(model, id.data(), 200, k);
        const std::vector<double> ood_scores = kelvin::neco_scores(model, ood.data(), 200, k);
        for (double s : id_scores) CHECK(s > 0.99);
        CHECK(kelvin::auroc(id_scores, ood_scores) > 0.99);
    }
    SUBCASE("scores are invariant to scaling every feature by one constant") {
        const std::vector<float> test = low_rank_features(50, dim, k, 0.3, 4);
        const std::vector<double> reference = kelvin::neco_scores(model, test.data(), 50, k);
        for (float c : {4.0f, 3.0f, 1e-3f}) {
            std::vector<float> train_c = train, test_c = test;
            for (float& v : train_c) v *= c;
            for (float& v : test_c) v *= c;
            const kelvin::NecoModel model_c = kelvin::fit_neco(train_c.data(), n, dim);
            const std::vector<double> scores = kelvin::neco_scores(model_c, test_c.data(), 50, k);
            // A power of two scales exactly; other constants round each feature (~6e-8).
            const double tolerance = c == 4.0f ? 1e-12 : 1e-5;
            for (int i = 0; i < 50; ++i) {
                INFO("c = " << c << ", sample " << i);
                CHECK(std::fabs(scores[i] - reference[i]) <= tolerance);
            }
        }
    }
    CHECK_THROWS_AS(kelvin::neco_scores(model, train.data(), 1, 0), kelvin::Error);
    CHECK_THROWS_AS(kelvin::neco_scores(model, train.data(), 1, dim + 1), kelvin::Error);
}

TEST_CASE("NECO gives a constant feature scale 1") {
    std::vector<float> h = {1, 7, 2, 7, 3, 7, 4, 7};  // 4 x 2, second feature constant
    const kelvin::NecoModel model = kelvin::fit_neco(h.data(), 4, 2);
    CHECK(model.scale[1] == 1.0);
    CHECK(model.mean[1] == 7.0);
    CHECK(model.scale[0] == doctest::Approx(std::sqrt(1.25)));
}

TEST_CASE("OrthoDev is 0 for orthogonal and 1 for parallel mean directions") {
    // 3-d features; class 0 along e1, class 1 along e2 (two samples each, different lengths).
    const std::vector<float> id = {1, 0, 0, 3, 0, 0, 0, 2, 0, 0, 5, 0};
    const std::vector<int32_t> labels = {0, 0, 1, 1};
    const std::vector<float> ood_e3 = {0, 0, 1, 0, 0, 4};
    CHECK(kelvin::ortho_dev(id.data(), labels.data(), 4, 2, ood_e3.data(), 2, 3) == 0.0);
    // OOD mean along e1: |cos| is 1 for class 0 and 0 for class 1.
    const std::vector<float> ood_e1 = {2, 0, 0};
    CHECK(kelvin::ortho_dev(id.data(), labels.data(), 4, 2, ood_e1.data(), 1, 3) ==
          doctest::Approx(0.5));
    // Every class mean parallel (or anti-parallel) to the OOD mean.
    const std::vector<float> parallel = {1, 1, 0, 2, 2, 0, -3, -3, 0};
    const std::vector<int32_t> parallel_labels = {0, 0, 1};
    const std::vector<float> ood_diagonal = {5, 5, 0};
    CHECK(kelvin::ortho_dev(parallel.data(), parallel_labels.data(), 3, 2, ood_diagonal.data(), 1,
                            3) == doctest::Approx(1.0));
    // A class without samples is left out of the mean.
    CHECK(kelvin::ortho_dev(parallel.data(), parallel_labels.data(), 3, 5, ood_diagonal.data(), 1,
                            3) == doctest::Approx(1.0));
    const std::vector<int32_t> bad_labels = {0, 0, 2};
    CHECK_THROWS_AS(
        kelvin::ortho_dev(parallel.data(), bad_labels.data(), 3, 2, ood_diagonal.data(), 1, 3),
        kelvin::Error);
}

TEST_CASE("effective depth kappa and OOD drop rho on hand examples") {
    // Last layer 0.94, target 0.95 * 0.94 = 0.893: layer 3 (0.90) is the first to reach it, so
    // kappa = 3/6. Best layer 0.95: rho = (0.95 - 0.94) / 0.95.
    const std::vector<double> a = {0.2, 0.5, 0.9, 0.95, 0.93, 0.94};
    CHECK(kelvin::effective_depth(a) == doctest::Approx(0.5));
    CHECK(kelvin::ood_generalization_drop(a) == doctest::Approx(0.01 / 0.95));
    // Accuracy rising to the last layer: kappa = 1, rho = 0.
    CHECK(kelvin::effective_depth({0.1, 0.2, 0.3, 0.4}) == 1.0);
    CHECK(kelvin::ood_generalization_drop({0.1, 0.2, 0.3, 0.4}) == 0.0);
    // Solved at the first layer, then lost: kappa = 1/4, rho = (0.8 - 0.4) / 0.8.
    CHECK(kelvin::effective_depth({0.8, 0.6, 0.5, 0.4}) == 0.25);
    CHECK(kelvin::ood_generalization_drop({0.8, 0.6, 0.5, 0.4}) == doctest::Approx(0.5));
    CHECK(kelvin::effective_depth({0.7}) == 1.0);
    CHECK(kelvin::ood_generalization_drop({0, 0, 0}) == 0.0);
    CHECK_THROWS_AS(kelvin::effective_depth({}), kelvin::Error);
}

#include "engine/tensor.h"
#include "analysis/neco_fit.h"

TEST_CASE("NECO fitted on a tensor (the device path) matches the float64 host fit") {
    // Correlated features with different scales and offsets, one of them constant.
    const int64_t n = 400, dim = 12;
    std::mt19937_64 gen(21);
    std::normal_distribution<float> normal;
    std::vector<float> x(n * dim);
    for (int64_t i = 0; i < n; ++i) {
        const float a = normal(gen), b = normal(gen);
        for (int64_t j = 0; j < dim; ++j)
            x[i * dim + j] = j == 5 ? 3.0f : (j + 1) * (a * std::cos(float(j)) + b * std::sin(float(j)) + 0.1f * normal(gen)) + j;
    }
    const kelvin::NecoModel host = kelvin::fit_neco(x.data(), n, dim);
    const kelvin::NecoModel dev = kelvin::fit_neco(kelvin::Tensor::from_vector(x, {n, dim}));
    for (int64_t j = 0; j < dim; ++j) {
        CHECK(dev.mean[j] == doctest::Approx(host.mean[j]).epsilon(1e-5));
        CHECK(dev.scale[j] == doctest::Approx(host.scale[j]).epsilon(1e-4));
    }
    for (int64_t k = 0; k < 3; ++k)  // the leading components, which carry the variance
        CHECK(dev.explained_variance[k] == doctest::Approx(host.explained_variance[k]).epsilon(1e-4));
    const std::vector<double> a = kelvin::neco_scores(host, x.data(), n, 2);
    const std::vector<double> b = kelvin::neco_scores(dev, x.data(), n, 2);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    CHECK(worst < 1e-4);
}

TEST_CASE("NECO fitted on the GPU (cuSOLVER) matches the CPU fit" *
          doctest::skip(!kelvin::cuda_available())) {
    const int64_t n = 300, dim = 40;
    std::mt19937_64 gen(22);
    std::normal_distribution<float> normal;
    std::vector<float> x(n * dim);
    for (float& v : x) v = normal(gen);
    const kelvin::Tensor cpu = kelvin::Tensor::from_vector(x, {n, dim});
    const kelvin::NecoModel a = kelvin::fit_neco(cpu);
    const kelvin::NecoModel b = kelvin::fit_neco(cpu.to(kelvin::Device::CUDA));
    for (int64_t k = 0; k < dim; ++k)
        CHECK(b.explained_variance[k] == doctest::Approx(a.explained_variance[k]).epsilon(1e-4));
    const std::vector<double> sa = kelvin::neco_scores(a, x.data(), n, 5);
    const std::vector<double> sb = kelvin::neco_scores(b, x.data(), n, 5);
    for (int64_t i = 0; i < n; ++i) CHECK(sb[i] == doctest::Approx(sa[i]).epsilon(1e-3));
}
