#!/usr/bin/python3
"""Reference values for tests/test_statistics.cpp, written to tests/golden/stats_fixtures.json.

Everything is computed here by SciPy or by brute force from the definitions, independently of
kelvin's algorithms:
  t_quantile, normal_quantile  mpmath at 40 digits (root of the regularized incomplete beta /
                   erfinv), checked against scipy.stats to 1e-8: scipy's own t.ppf (cephes
                   stdtri) is only good to about 1e-9 relative, too coarse for the C++ check
  t_cdf, incomplete_beta                               scipy.stats / scipy.special
  summaries        mean, sample sd (ddof 1), mean -/+ t_quantile sd / sqrt(n) (checked against
                   scipy.stats.t.interval)
  midranks, spearman                                   scipy.stats.rankdata / spearmanr
  score_sets       AUROC from scipy.stats.mannwhitneyu (U / (m n)); FPR95 by its definition;
                   DeLong's variance from the pairwise kernel psi (O(m n), not midranks);
                   the stratified percentile bootstrap replayed with a Python mt19937_64 and
                   the same index map floor(x n / 2^64), quantiles by numpy (linear)
  trend            Page's L (ranks by rankdata), every within-block permutation enumerated
                   (itertools.product)
  sign_flip        every sign pattern enumerated

Run with Debian's interpreter (python3-scipy, python3-numpy):
    /usr/bin/python3 tests/golden/make_stats_fixtures.py
CI never runs this; it reads the committed JSON. Takes about 10 seconds.
"""
import itertools
import json
import math
import os

import mpmath
import numpy as np
from scipy import special, stats

HERE = os.path.dirname(os.path.abspath(__file__))
M64 = (1 << 64) - 1


class MT19937_64:
    """The 64-bit Mersenne Twister (Matsumoto & Nishimura 2004), as std::mt19937_64."""

    N, M = 312, 156
    MATRIX_A, UPPER, LOWER = 0xB5026F5AA96619E9, 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed):
        self.mt = [seed & M64]
        for i in range(1, self.N):
            prev = self.mt[-1]
            self.mt.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & M64)
        self.index = self.N

    def _twist(self):
        mt = self.mt
        for i in range(self.N):
            x = (mt[i] & self.UPPER) | (mt[(i + 1) % self.N] & self.LOWER)
            xa = (x >> 1) ^ (self.MATRIX_A if x & 1 else 0)
            mt[i] = mt[(i + self.M) % self.N] ^ xa
        self.index = 0

    def __call__(self):
        if self.index >= self.N:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & M64


mpmath.mp.dps = 40


def t_quantile(p, df):
    """The p-quantile of Student's t to 40 digits: the root of cdf(t) - p."""
    df, p = mpmath.mpf(df), mpmath.mpf(p)
    def cdf(t):
        tail = mpmath.betainc(df / 2, mpmath.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
        return 1 - tail if t >= 0 else tail
    t = mpmath.findroot(lambda t: cdf(t) - p, mpmath.mpf(float(stats.t.ppf(float(p), float(df)))))
    assert abs(float(t) - stats.t.ppf(float(p), float(df))) <= 1e-8 * max(1.0, abs(float(t)))
    return float(t)


def normal_quantile(p):
    z = mpmath.sqrt(2) * mpmath.erfinv(2 * mpmath.mpf(p) - 1)
    assert abs(float(z) - stats.norm.ppf(p)) <= 1e-10 * max(1.0, abs(float(z)))
    return float(z)


def check_mt():
    rng = MT19937_64(5489)
    for _ in range(9999):
        rng()
    assert rng() == 9981545732273789042, "the Python mt19937_64 is not the standard one"


def draw_index(rng, n):
    return (rng() * n) >> 64


def auroc(inn, ood):
    u = stats.mannwhitneyu(inn, ood, alternative="two-sided").statistic
    return float(u) / (len(inn) * len(ood))


def fpr95(inn, ood):
    k = (95 * len(inn) + 99) // 100
    threshold = sorted(inn, reverse=True)[k - 1]
    return sum(1 for s in ood if s >= threshold) / len(ood)


def delong(inn, ood, level=0.95):
    x, y = np.asarray(inn)[:, None], np.asarray(ood)[None, :]
    psi = (x > y) + 0.5 * (x == y)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    auc = float(v10.mean())
    var = float(v10.var(ddof=1) / len(inn) + v01.var(ddof=1) / len(ood))
    z = stats.norm.ppf(0.5 * (1 + level))
    return {"auroc": auc, "variance": var,
            "low": max(0.0, auc - z * math.sqrt(var)), "high": min(1.0, auc + z * math.sqrt(var))}


def bootstrap(inn, ood, metric, resamples, seed, level=0.95):
    rng = MT19937_64(seed)
    draws = []
    for _ in range(resamples):
        a = [inn[draw_index(rng, len(inn))] for _ in inn]
        b = [ood[draw_index(rng, len(ood))] for _ in ood]
        draws.append(metric(a, b))
    return [float(np.quantile(draws, 0.5 * (1 - level))), float(np.quantile(draws, 0.5 * (1 + level)))]


def score_set(inn, ood, seed):
    inn, ood = [float(v) for v in inn], [float(v) for v in ood]
    return {"in": inn, "ood": ood, "auroc": auroc(inn, ood), "fpr95": fpr95(inn, ood),
            "delong": delong(inn, ood),
            "bootstrap": {"seed": seed, "resamples": 400,
                          "auroc": bootstrap(inn, ood, auroc, 400, seed),
                          "fpr95": bootstrap(inn, ood, fpr95, 400, seed)}}


def page_term(levels, values):
    """Page's term of a block: sum_i rank(level_i) * midrank(value_i)."""
    return float(np.dot(stats.rankdata(levels), stats.rankdata(values)))


def trend(blocks):
    observed = sum(page_term(b["levels"], b["values"]) for b in blocks)
    per_block = [[page_term(b["levels"], list(p)) for p in itertools.permutations(b["values"])]
                 for b in blocks]
    total = greater = less = 0
    for combo in itertools.product(*per_block):
        s = sum(combo)
        total += 1
        greater += s >= observed - 1e-9
        less += s <= observed + 1e-9
    return {"blocks": blocks, "statistic": observed, "p_greater": greater / total,
            "p_less": less / total, "permutations": total}


def sign_flip(d):
    observed = sum(d)
    greater = less = 0
    for signs in itertools.product([1, -1], repeat=len(d)):
        s = sum(si * di for si, di in zip(signs, d))
        greater += s >= observed - 1e-9
        less += s <= observed + 1e-9
    n = 2 ** len(d)
    return {"differences": d, "statistic": observed, "p_greater": greater / n, "p_less": less / n}


def summary(values):
    v = np.asarray(values, dtype=float)
    n = len(v)
    half = t_quantile(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n)
    low, high = v.mean() - half, v.mean() + half
    scipy_low, _ = stats.t.interval(0.95, n - 1, loc=v.mean(), scale=v.std(ddof=1) / math.sqrt(n))
    assert abs(scipy_low - low) <= 1e-8 * max(1.0, abs(low))
    return {"values": values, "mean": float(v.mean()), "sd": float(v.std(ddof=1)),
            "ci_low": float(low), "ci_high": float(high)}


def main():
    check_mt()
    rng = np.random.default_rng(20261201)
    out = {}
    ps = [0.5000001, 0.6, 0.9, 0.95, 0.975, 0.995, 0.9995, 0.025, 1e-6, 0.3]
    dfs = [0.5, 1, 2, 2.5, 3, 4, 5, 7, 9, 19, 29, 99, 1000]
    out["t_quantile"] = [{"p": p, "df": df, "value": t_quantile(p, df)} for p in ps for df in dfs]
    ts = [-40.0, -3.2, -1.0, -0.1, 0.0, 0.7, 2.0, 4.5, 12.7, 300.0]
    out["t_cdf"] = [{"t": t, "df": df, "value": float(stats.t.cdf(t, df))} for t in ts for df in dfs]
    out["normal_quantile"] = [{"p": p, "value": normal_quantile(p)}
                              for p in [1e-12, 1e-6, 0.001, 0.025, 0.2, 0.5000001, 0.8, 0.975, 0.999999]]
    out["incomplete_beta"] = [{"a": a, "b": b, "x": x, "value": float(special.betainc(a, b, x))}
                              for a, b in [(0.5, 0.5), (1, 1), (2, 3), (0.25, 8), (15, 0.5), (50, 70)]
                              for x in [1e-5, 0.1, 0.37, 0.5, 0.9, 0.999]]
    out["summaries"] = [summary(v) for v in
                        [[2, 4, 4, 4, 5, 5, 7, 9], [0.905, 0.899, 0.866], [1.5, 2.5],
                         list(rng.normal(10, 3, 7).round(4))]]
    tie_values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    out["midranks"] = [{"values": tie_values, "ranks": list(stats.rankdata(tie_values))}]
    xs = list(rng.normal(0, 1, 12).round(3))
    ys = [x + e for x, e in zip(xs, rng.normal(0, 1, 12).round(3))]
    out["spearman"] = [{"x": x, "y": y, "rho": float(stats.spearmanr(x, y).correlation)} for x, y in
                       [(xs, ys), ([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), ([1, 10, 100], [5, 5, 4]),
                        (tie_values, list(range(len(tie_values))))]]
    out["score_sets"] = [
        score_set(rng.normal(1, 1, 60).round(2), rng.normal(0, 1, 50).round(2), 7),
        score_set(rng.integers(0, 5, 40) + 1, rng.integers(0, 5, 35), 11),
        score_set([0.9, 0.8, 0.75, 0.7, 0.6, 0.55, 0.3, 0.2], [0.65, 0.5, 0.4, 0.35, 0.3, 0.1], 3),
    ]
    levels3 = [1.0, 10.0, 100.0]
    noisy = [{"levels": levels3, "values": [float(v) for v in (np.arange(3) * 0.4 + rng.normal(0, 1, 3)).round(3)]}
             for _ in range(5)]
    out["trend"] = [
        trend([{"levels": levels3, "values": [5.0, 4.0, 4.0]}, {"levels": levels3, "values": [5.0, 5.0, 4.0]},
               {"levels": levels3, "values": [5.0, 5.0, 5.0]}, {"levels": levels3, "values": [4.0, 5.0, 3.0]}]),
        trend([{"levels": [0.5, 1.0], "values": [0.29, 0.13]},
               {"levels": [0.5, 1.0, 2.0], "values": [0.3, 0.2, 0.2]},
               {"levels": [1.0, 10.0, 50.0, 100.0], "values": [0.1, 0.3, 0.2, 0.4]}]),
        trend(noisy),  # the Monte Carlo check's reference: p well inside (0, 1)
    ]
    out["sign_flip"] = [
        sign_flip([0.4, -0.1, 0.25, 0.0, 0.3, 0.3, -0.05, 0.6, 0.15, -0.2]),
        sign_flip([1.0, 1.0, 1.0, 1.0, 1.0]),
        sign_flip([float(v) for v in rng.normal(0.2, 1, 12).round(3)]),
    ]
    rng64 = MT19937_64(42)
    out["mt19937_64"] = {"seed": 42, "first": [str(rng64()) for _ in range(3)],
                         "draw_index": {"seed": 5, "n": 7, "values": [draw_index(MT19937_64(5), 7)]}}
    with open(os.path.join(HERE, "stats_fixtures.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
