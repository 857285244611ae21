#include "analysis/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "engine/device.h"  // KELVIN_CHECK

namespace kelvin::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;

// The continued fraction of I_x(a, b) (its even and odd terms, evaluated by the modified Lentz
// method), which converges fast for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
    constexpr double tiny = 1e-300;
    auto guard = [](double v) { return std::fabs(v) < tiny ? tiny : v; };
    double c = 1.0, d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    double h = d;
    for (int m = 1; m <= 1000; ++m) {
        const double m2 = 2.0 * m;
        const double even = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        const double odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        const double step = d * c;
        h *= step;
        if (std::fabs(step - 1.0) < 1e-16) break;
    }
    return h;
}

// Solves g(x) = target for x >= 0, g increasing with derivative dg: the bracket [0, hi] is
// doubled until it holds the root, then Newton steps, bisecting whenever a step would leave the
// bracket. The callers pass the tail (-P(X > x)) far out and the centre (P(0 < X < x)) near 0,
// so that g - target is computed without cancellation at either end.
template <class G, class DG>
double solve_increasing(double target, G g, DG dg) {
    double lo = 0, hi = 1;
    while (g(hi) < target && hi < 1e300) hi *= 2;
    double x = 0.5 * (lo + hi);
    for (int iter = 0; iter < 400; ++iter) {
        const double f = g(x) - target;
        if (f == 0) return x;
        (f < 0 ? lo : hi) = x;
        const double slope = dg(x);
        double next = slope > 0 ? x - f / slope : 0.5 * (lo + hi);
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (std::fabs(next - x) <= 1e-15 * std::fabs(x) || hi - lo <= 1e-300) return next;
        x = next;
    }
    return x;
}

// The p-quantile of a distribution symmetric about 0, from its upper tail P(X > x) and centre
// P(0 < X < x) for x >= 0: the tail is solved far out, the centre near the median.
template <class Tail, class Centre, class Density>
double symmetric_quantile(double p, Tail tail, Centre centre, Density density) {
    if (p == 0.5) return 0;
    const double q = std::min(p, 1.0 - p);  // exact for p in [0.5, 1) (Sterbenz)
    const double x = q < 0.25 ? solve_increasing(-q, [&](double v) { return -tail(v); }, density)
                              : solve_increasing(0.5 - q, centre, density);
    return p > 0.5 ? x : -x;
}

void check_probability(double p, const char* who) {
    KELVIN_CHECK(p > 0 && p < 1, std::string(who) + ": p must lie in (0, 1), got " + std::to_string(p));
}

}  // namespace

// ---- distributions ------------------------------------------------------------------------------

double incomplete_beta(double a, double b, double x) {
    KELVIN_CHECK(a > 0 && b > 0 && x >= 0 && x <= 1,
                 "incomplete_beta: needs a, b > 0 and x in [0, 1], got a = " + std::to_string(a) +
                     ", b = " + std::to_string(b) + ", x = " + std::to_string(x));
    if (x == 0 || x == 1) return x;
    if (x > (a + 1.0) / (a + b + 2.0)) return 1.0 - incomplete_beta(b, a, 1.0 - x);
    const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                             a * std::log(x) + b * std::log1p(-x);
    return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
}

namespace {
// P(0 < T < t) = I_{t^2 / (df + t^2)}(1/2, df/2) / 2 and P(T > t) = I_{df / (df + t^2)}(df/2, 1/2) / 2
// for t >= 0; each is evaluated where its own argument is accurate.
double student_t_centre(double t, double df) {
    return 0.5 * incomplete_beta(0.5, 0.5 * df, t * t / (df + t * t));
}
double student_t_upper_tail(double t, double df) {
    if (t * t < df) return 0.5 - student_t_centre(t, df);
    return 0.5 * incomplete_beta(0.5 * df, 0.5, df / (df + t * t));
}
double student_t_density(double t, double df) {
    const double log_c = std::lgamma(0.5 * (df + 1)) - std::lgamma(0.5 * df) - 0.5 * std::log(df * kPi);
    return std::exp(log_c - 0.5 * (df + 1) * std::log1p(t * t / df));
}
}  // namespace

double student_t_cdf(double t, double df) {
    KELVIN_CHECK(df > 0, "student_t_cdf: df must be positive, got " + std::to_string(df));
    const double tail = student_t_upper_tail(std::fabs(t), df);
    return t >= 0 ? 1.0 - tail : tail;
}

double student_t_quantile(double p, double df) {
    check_probability(p, "student_t_quantile");
    KELVIN_CHECK(df > 0, "student_t_quantile: df must be positive, got " + std::to_string(df));
    return symmetric_quantile(
        p, [df](double x) { return student_t_upper_tail(x, df); },
        [df](double x) { return student_t_centre(x, df); },
        [df](double x) { return student_t_density(x, df); });
}

double normal_quantile(double p) {
    check_probability(p, "normal_quantile");
    const double root2 = std::sqrt(2.0);
    return symmetric_quantile(
        p, [=](double x) { return 0.5 * std::erfc(x / root2); },
        [=](double x) { return 0.5 * std::erf(x / root2); },
        [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * kPi); });
}

// ---- over seeds ---------------------------------------------------------------------------------

double mean(const std::vector<double>& values) {
    if (values.empty()) return kNaN;
    return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double sample_sd(const std::vector<double>& values) {
    if (values.size() < 2) return kNaN;
    const double m = mean(values);
    double squares = 0;
    for (double v : values) squares += (v - m) * (v - m);
    return std::sqrt(squares / static_cast<double>(values.size() - 1));
}

SeedSummary summarize(const std::vector<double>& values, double level) {
    KELVIN_CHECK(level > 0 && level < 1, "summarize: level must lie in (0, 1), got " + std::to_string(level));
    std::vector<double> finite;
    for (double v : values)
        if (std::isfinite(v)) finite.push_back(v);
    SeedSummary s;
    s.n = static_cast<int64_t>(finite.size());
    s.mean = mean(finite);
    s.sd = sample_sd(finite);
    if (s.n < 2) {
        s.ci_low = s.ci_high = kNaN;
        return s;
    }
    const double half = student_t_quantile(0.5 * (1 + level), double(s.n - 1)) * s.sd /
                        std::sqrt(static_cast<double>(s.n));
    s.ci_low = s.mean - half;
    s.ci_high = s.mean + half;
    return s;
}

// ---- inside one run -----------------------------------------------------------------------------

uint64_t draw_index(std::mt19937_64& rng, uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

double quantile(std::vector<double> values, double q) {
    KELVIN_CHECK(!values.empty(), "quantile: no values");
    KELVIN_CHECK(q >= 0 && q <= 1, "quantile: q must lie in [0, 1], got " + std::to_string(q));
    std::sort(values.begin(), values.end());
    const double h = q * static_cast<double>(values.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(h));
    if (lo + 1 >= values.size()) return values.back();
    return values[lo] + (h - static_cast<double>(lo)) * (values[lo + 1] - values[lo]);
}

Interval bootstrap_interval(const std::vector<double>& in_scores,
                            const std::vector<double>& ood_scores, const ScoreMetric& metric,
                            int64_t resamples, uint64_t seed, double level) {
    KELVIN_CHECK(!in_scores.empty() && !ood_scores.empty(),
                 "bootstrap_interval: needs in-distribution and OOD scores, got " +
                     std::to_string(in_scores.size()) + " and " + std::to_string(ood_scores.size()));
    KELVIN_CHECK(resamples >= 2, "bootstrap_interval: needs 2+ resamples, got " + std::to_string(resamples));
    KELVIN_CHECK(level > 0 && level < 1, "bootstrap_interval: level must lie in (0, 1)");
    std::mt19937_64 rng(seed);
    std::vector<double> in(in_scores.size()), ood(ood_scores.size()), draws;
    draws.reserve(static_cast<size_t>(resamples));
    for (int64_t b = 0; b < resamples; ++b) {
        for (double& v : in) v = in_scores[draw_index(rng, in_scores.size())];
        for (double& v : ood) v = ood_scores[draw_index(rng, ood_scores.size())];
        draws.push_back(metric(in, ood));
    }
    return {metric(in_scores, ood_scores), quantile(draws, 0.5 * (1 - level)),
            quantile(draws, 0.5 * (1 + level))};
}

namespace {

// The scores of both sets in ascending order, cut into groups of equal score; AUROC from how
// often each score was drawn (count 1 each: the data themselves).
class AurocFromCounts {
public:
    AurocFromCounts(const std::vector<double>& in, const std::vector<double>& ood) {
        for (size_t i = 0; i < in.size(); ++i) order_.push_back({in[i], true, i});
        for (size_t j = 0; j < ood.size(); ++j) order_.push_back({ood[j], false, j});
        std::sort(order_.begin(), order_.end(),
                  [](const Entry& a, const Entry& b) { return a.score < b.score; });
        for (size_t k = 0; k < order_.size(); ++k)
            if (k == 0 || order_[k].score != order_[k - 1].score) group_start_.push_back(k);
        group_start_.push_back(order_.size());
    }
    // Pairs (in, ood) with the in score above, ties as halves, over n_in x n_ood.
    double operator()(const std::vector<uint32_t>& in_count, const std::vector<uint32_t>& ood_count) const {
        double wins = 0, ood_below = 0, n_in = 0;
        for (size_t g = 0; g + 1 < group_start_.size(); ++g) {
            double wi = 0, wo = 0;
            for (size_t k = group_start_[g]; k < group_start_[g + 1]; ++k)
                (order_[k].in ? wi : wo) += order_[k].in ? in_count[order_[k].index] : ood_count[order_[k].index];
            wins += wi * ood_below + 0.5 * wi * wo;
            ood_below += wo, n_in += wi;
        }
        return wins / (n_in * ood_below);
    }

private:
    struct Entry {
        double score;
        bool in;
        size_t index;
    };
    std::vector<Entry> order_;
    std::vector<size_t> group_start_;
};

}  // namespace

Interval bootstrap_auroc_interval(const std::vector<double>& in_scores,
                                  const std::vector<double>& ood_scores, int64_t resamples,
                                  uint64_t seed, double level) {
    KELVIN_CHECK(!in_scores.empty() && !ood_scores.empty(),
                 "bootstrap_auroc_interval: needs in-distribution and OOD scores, got " +
                     std::to_string(in_scores.size()) + " and " + std::to_string(ood_scores.size()));
    KELVIN_CHECK(resamples >= 2, "bootstrap_auroc_interval: needs 2+ resamples, got " + std::to_string(resamples));
    KELVIN_CHECK(level > 0 && level < 1, "bootstrap_auroc_interval: level must lie in (0, 1)");
    for (const auto* scores : {&in_scores, &ood_scores})
        for (double v : *scores)
            KELVIN_CHECK(!std::isnan(v), "bootstrap_auroc_interval: a score is NaN");
    const AurocFromCounts auroc(in_scores, ood_scores);
    std::vector<uint32_t> in_count(in_scores.size(), 1), ood_count(ood_scores.size(), 1);
    const double estimate = auroc(in_count, ood_count);
    std::mt19937_64 rng(seed);  // the draws of bootstrap_interval, in its order
    std::vector<double> draws;
    draws.reserve(static_cast<size_t>(resamples));
    for (int64_t b = 0; b < resamples; ++b) {
        std::fill(in_count.begin(), in_count.end(), 0u);
        std::fill(ood_count.begin(), ood_count.end(), 0u);
        for (size_t i = 0; i < in_scores.size(); ++i) ++in_count[draw_index(rng, in_scores.size())];
        for (size_t j = 0; j < ood_scores.size(); ++j) ++ood_count[draw_index(rng, ood_scores.size())];
        draws.push_back(auroc(in_count, ood_count));
    }
    return {estimate, quantile(draws, 0.5 * (1 - level)), quantile(draws, 0.5 * (1 + level))};
}

std::vector<double> midranks(const std::vector<double>& values) {
    std::vector<size_t> order(values.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
    std::vector<double> ranks(values.size());
    for (size_t start = 0; start < order.size();) {
        size_t end = start;
        while (end < order.size() && values[order[end]] == values[order[start]]) ++end;
        const double rank = 0.5 * static_cast<double>(start + 1 + end);  // mean of start+1..end
        for (size_t i = start; i < end; ++i) ranks[order[i]] = rank;
        start = end;
    }
    return ranks;
}

DelongResult delong_auroc(const std::vector<double>& in_scores,
                          const std::vector<double>& ood_scores, double level) {
    const size_t m = in_scores.size(), n = ood_scores.size();
    KELVIN_CHECK(m >= 2 && n >= 2, "delong_auroc: needs 2+ in-distribution and 2+ OOD scores, got " +
                                       std::to_string(m) + " and " + std::to_string(n));
    std::vector<double> all = in_scores;
    all.insert(all.end(), ood_scores.begin(), ood_scores.end());
    const std::vector<double> r_all = midranks(all), r_in = midranks(in_scores),
                              r_ood = midranks(ood_scores);
    // Placement values: the share of the other class an in (OOD) score beats (is beaten by).
    std::vector<double> v_in(m), v_ood(n);
    for (size_t i = 0; i < m; ++i) v_in[i] = (r_all[i] - r_in[i]) / static_cast<double>(n);
    for (size_t j = 0; j < n; ++j) v_ood[j] = 1.0 - (r_all[m + j] - r_ood[j]) / static_cast<double>(m);
    DelongResult d;
    d.auroc = mean(v_in);
    const double s_in = sample_sd(v_in), s_ood = sample_sd(v_ood);
    d.variance = s_in * s_in / static_cast<double>(m) + s_ood * s_ood / static_cast<double>(n);
    const double half = normal_quantile(0.5 * (1 + level)) * std::sqrt(d.variance);
    d.low = std::max(0.0, d.auroc - half);
    d.high = std::min(1.0, d.auroc + half);
    return d;
}

// ---- rank statistics ----------------------------------------------------------------------------

namespace {
double pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const double mx = mean(x), my = mean(y);
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNaN;
}
}  // namespace

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    KELVIN_CHECK(x.size() == y.size() && x.size() >= 2,
                 "spearman: needs two series of the same length >= 2, got " +
                     std::to_string(x.size()) + " and " + std::to_string(y.size()));
    return pearson(midranks(x), midranks(y));
}

std::vector<double> holm_adjust(const std::vector<double>& p_values) {
    std::vector<size_t> order;
    for (size_t i = 0; i < p_values.size(); ++i)
        if (!std::isnan(p_values[i])) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
    std::vector<double> adjusted(p_values.size(), kNaN);
    double running = 0;
    for (size_t k = 0; k < order.size(); ++k) {
        running = std::max(running, std::min(1.0, double(order.size() - k) * p_values[order[k]]));
        adjusted[order[k]] = running;
    }
    return adjusted;
}

}  // namespace kelvin::analysis
