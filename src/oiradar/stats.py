"""Statistics for testing claims: intervals, one-sided tests, FDR control, the deflated Sharpe ratio.

Below every analysis layer (it imports nothing of oiradar): the event study (``evidence``) and the
parameter sweep (``backtest``) both test against it, and neither imports the other
(``docs/decisions/0604-evidence-backtest-layers.md``).

Every formula is written out here (standard library + numpy only) so that it can be read, run inside
worker processes without SciPy, and checked against an independent implementation: the unit tests
compare each function with SciPy where SciPy has it, and with published worked examples.

References
- Lachin (1981), "Introduction to sample size determination and power analysis for clinical
  trials", Controlled Clinical Trials 2 (events needed at a given power).
- Wilson (1927), "Probable inference, the law of succession, and statistical inference", JASA 22.
- Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57.
- Bailey & López de Prado (2012), "The Sharpe ratio efficient frontier", J. of Risk 15 (PSR).
- Bailey & López de Prado (2014), "The deflated Sharpe ratio", J. of Portfolio Management 40 (DSR).
- Politis & Romano (1992), circular block bootstrap; Künsch (1989), moving block bootstrap.
- Press et al., Numerical Recipes, 3rd ed., section 6.4 (incomplete beta by continued fraction).
- Owen (2007), "The pigeonhole bootstrap", Annals of Applied Statistics 1 (weights on rows and
  columns, multiplied).
- Cameron, Gelbach & Miller (2011), "Robust inference with multiway clustering", J. of Business &
  Economic Statistics 29 (two-way variance = one-way + one-way - intersection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

_NORMAL = NormalDist()
EULER_GAMMA = 0.5772156649015329


def norm_cdf(x: float) -> float:
    """Standard normal CDF (``scipy.stats.norm.cdf``)."""
    return _NORMAL.cdf(x)


def norm_ppf(p: float) -> float:
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    return _NORMAL.inv_cdf(p)


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a two-sided interval at ``conf``."""

    estimate: float
    low: float
    high: float
    conf: float = 0.95

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def wilson_interval(k: int, n: int, conf: float = 0.95) -> Interval:
    """Wilson score interval for a binomial rate ``k / n``.

    Equals ``scipy.stats.binomtest(k, n).proportion_ci(conf, method="wilson")``. With ``n == 0`` the
    interval is the whole ``[0, 1]`` and the estimate is NaN: nothing was observed.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Interval(math.nan, 0.0, 1.0, conf)
    z = norm_ppf(0.5 + conf / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), conf)


def binom_sf(k: int, n: int, p: float) -> float:
    """One-sided p-value ``P(X >= k)`` for ``X ~ Binomial(n, p)``.

    Equals ``scipy.stats.binomtest(k, n, p, alternative="greater").pvalue`` (and
    ``scipy.stats.binom.sf(k - 1, n, p)``). Summed in log space so large ``n`` cannot overflow.
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if k == 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    lg_n = math.lgamma(n + 1)
    terms = [
        lg_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def events_needed(p1: float, p0: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Events needed before a true rate ``p1`` is told from a base rate ``p0``: the smallest ``n``
    at which a one-sided test of ``rate > p0`` at level ``alpha`` rejects with probability
    ``power`` when the rate is ``p1``.

    Normal approximation of the binomial test, without continuity correction (Lachin 1981, the
    one-sample case of eq. 2): ``n = ((z(1-alpha) sqrt(p0 q0) + z(power) sqrt(p1 q1)) / (p1 - p0))²``, rounded up.
    ``p1 = 0.7`` against ``p0 = 0.5`` at 5 % and 80 % gives 37. ``None`` when ``p1 <= p0``: no
    number of events tells a rate from one it does not exceed.
    """
    for name, v in (("p1", p1), ("p0", p0)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a rate in [0, 1], got {v!r}")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"need 0 < alpha < 1 and 0 < power < 1, got {alpha!r}, {power!r}")
    if p1 <= p0:
        return None
    za, zb = norm_ppf(1.0 - alpha), norm_ppf(power)
    root = za * math.sqrt(p0 * (1.0 - p0)) + zb * math.sqrt(p1 * (1.0 - p1))
    return max(1, math.ceil((root / (p1 - p0)) ** 2 - 1e-9))


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` (``scipy.special.betainc``), Lentz continued fraction."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):  # fmt: skip
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")


def t_sf(t: float, df: float) -> float:
    """Upper tail ``P(T > t)`` of Student's t (``scipy.stats.t.sf``)."""
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    t2 = t * t
    # I_x(a, b) = 1 - I_{1-x}(b, a): take the form whose argument is not a rounded 1 - tiny.
    if t2 < df:
        tail = 0.5 * (1.0 - betainc(0.5, df / 2, t2 / (df + t2)))
    else:
        tail = 0.5 * betainc(df / 2, 0.5, df / (df + t2))
    return tail if t > 0 else 1.0 - tail


def ttest_greater(x: ArrayLike, mu: float = 0.0) -> tuple[float, float]:
    """One-sided one-sample t test of ``mean(x) > mu``: ``(t, p)``.

    Equals ``scipy.stats.ttest_1samp(x, mu, alternative="greater")``. Fewer than 2 values or zero
    spread give ``(nan, nan)``: no test is possible.
    """
    a = np.asarray(x, dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size < 2:
        return math.nan, math.nan
    sd = float(a.std(ddof=1))
    if sd == 0.0:
        return math.nan, math.nan
    t = (float(a.mean()) - mu) / (sd / math.sqrt(a.size))
    return t, t_sf(t, a.size - 1)


def benjamini_hochberg(
    pvalues: ArrayLike, q: float = 0.05
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Benjamini-Hochberg step-up: ``(rejected, adjusted p)``.

    The adjusted p-values equal ``scipy.stats.false_discovery_control(p, method="bh")``; a hypothesis
    is rejected when its adjusted p-value is ``<= q``. NaN p-values (no test possible) are never
    rejected and do not count towards ``m``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    adj = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        pv = p[ok]
        order = np.argsort(pv, kind="stable")
        scaled = pv[order] * (m / np.arange(1, m + 1))  # m / i first, as SciPy and R do
        stepped = np.minimum.accumulate(scaled[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.minimum(stepped, 1.0)
        adj[ok] = out
    rejected = np.zeros(p.shape, dtype=bool)
    rejected[ok] = adj[ok] <= q
    return rejected, adj


def sample_moments(x: ArrayLike) -> tuple[float, float, int]:
    """``(skewness, kurtosis, n)`` with population (biased) moments; kurtosis is Pearson (normal = 3).

    Equals ``scipy.stats.skew(x)`` and ``scipy.stats.kurtosis(x, fisher=False)``, the estimators
    Bailey & López de Prado use in the PSR/DSR.
    """
    a = np.asarray(x, dtype=np.float64)
    a = a[np.isfinite(a)]
    d = a - a.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0.0:
        return 0.0, 3.0, a.size
    return float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2, a.size


def sharpe_ratio(returns: ArrayLike) -> float:
    """Per-period Sharpe ratio ``mean / std(ddof=1)`` (no annualisation, zero risk-free rate)."""
    a = np.asarray(returns, dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size < 2:
        return math.nan
    sd = float(a.std(ddof=1))
    return float(a.mean()) / sd if sd > 0 else math.nan


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n: int, skew: float = 0.0, kurt: float = 3.0
) -> float:
    """PSR: the probability that the true Sharpe ratio exceeds ``sr_benchmark``.

    ``Φ((SR - SR*) sqrt(n - 1) / sqrt(1 - γ3 SR + (γ4 - 1)/4 SR²))`` with per-period (not annualised)
    ratios, skewness ``γ3`` and Pearson kurtosis ``γ4`` (Bailey & López de Prado 2012, eq. 10).
    """
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if n < 2 or denom <= 0 or not math.isfinite(sr):
        return math.nan
    return norm_cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(denom))


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` unskilled trials (DSR's ``SR0``).

    ``sqrt(V) ((1 - γ) Z⁻¹(1 - 1/N) + γ Z⁻¹(1 - 1/(N e)))``, γ the Euler-Mascheroni constant
    (Bailey & López de Prado 2014, eq. 2). One trial needs no deflation: ``SR0 = 0``.
    """
    if n_trials <= 1 or sr_variance <= 0:
        return 0.0
    a = norm_ppf(1.0 - 1.0 / n_trials)
    b = norm_ppf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sr_variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b)


def deflated_sharpe_ratio(
    sr: float, n: int, n_trials: int, sr_variance: float, skew: float = 0.0, kurt: float = 3.0
) -> float:
    """DSR: the PSR of the best of ``n_trials`` configurations against the expected maximum of
    ``n_trials`` unskilled ones (``sr_variance`` = variance of the trials' per-period Sharpe ratios).

    The paper's worked example (annual SR 2.5, 1250 daily returns, skew -3, kurtosis 10, 100 trials,
    annualised variance 0.5) gives ``SR0 = 0.1132`` per day and ``DSR = 0.9004``; a test checks it.
    """
    sr0 = expected_max_sharpe(sr_variance, n_trials)
    return probabilistic_sharpe_ratio(sr, sr0, n, skew, kurt)


def block_bootstrap_starts(
    n: int, block: int, reps: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Start indices ``(reps, ceil(n / block))`` of a circular block bootstrap of a length-``n`` series.

    Each replicate concatenates blocks ``[s, s + block)`` (indices mod ``n``) and keeps the first
    ``n``; resampling whole blocks keeps the serial dependence inside a block, which overlapping
    triple-barrier outcomes have.
    """
    if n <= 0 or block <= 0:
        raise ValueError(f"need n > 0 and block > 0, got n={n}, block={block}")
    k = -(-n // block)
    return rng.integers(0, n, size=(reps, k), dtype=np.int64)


def block_bootstrap_indices(
    n: int, block: int, reps: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """The bar indices ``(reps, n)`` of :func:`block_bootstrap_starts` (circular, blocks concatenated)."""
    starts = block_bootstrap_starts(n, block, reps, rng)
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(reps, -1)[:, :n]


def block_sums(values: NDArray[np.float64], block: int) -> NDArray[np.float64]:
    """``out[s] = sum(values[(s + j) % n] for j in range(block))`` for each column of ``values``.

    Lets a bootstrap of sums/ratios be computed from block starts alone (no ``(reps, n)`` gather).
    """
    n = values.shape[0]
    ext = np.concatenate([values, values[: block - 1 if block > 1 else 0]], axis=0)
    csum = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(ext, axis=0)], axis=0)
    return csum[block : block + n] - csum[:n]


def percentile_interval(estimate: float, replicates: ArrayLike, conf: float = 0.95) -> Interval:
    """Percentile bootstrap interval (NaN replicates, e.g. a resample without events, are dropped)."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return Interval(estimate, math.nan, math.nan, conf)
    lo, hi = np.quantile(r, [(1 - conf) / 2, (1 + conf) / 2])
    return Interval(estimate, float(lo), float(hi), conf)


def multinomial_weights(n: int, reps: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``(reps, n)`` bootstrap weights: how often each of ``n`` units is drawn when ``n`` are drawn
    with replacement (each row sums to ``n``; a unit's weight is Binomial(n, 1/n))."""
    if n <= 0 or reps < 0:
        raise ValueError(f"need n > 0 and reps >= 0, got n={n}, reps={reps}")
    return rng.multinomial(n, np.full(n, 1.0 / n), size=reps).astype(np.float64)


@dataclass(frozen=True, slots=True)
class TwoWay:
    """A two-way bootstrap interval and the variances it is built from (:func:`two_way_interval`)."""

    interval: Interval
    variance: float  # the two-way variance the interval is scaled to
    rows: float  # variance of the rows-only replicates
    cols: float  # of the columns-only replicates
    cells: float  # of their interaction (what the product weights add on top of both)


def two_way_interval(
    estimate: float, rows: ArrayLike, cols: ArrayLike, both: ArrayLike, conf: float = 0.95
) -> TwoWay:
    """Interval for a statistic of data clustered two ways (series x time blocks), from replicates
    drawn with the same weights: ``rows`` (row weights only), ``cols`` (column weights only) and
    ``both`` (their product: Owen's pigeonhole bootstrap).

    With deviations ``dr, dc, db`` from ``estimate``, the interaction is ``di = db - dr - dc``. The
    product replicates' variance is about ``Vr + Vc + Vi``: on independent data each term alone is
    the whole sampling variance, so the pigeonhole interval is then about sqrt(3) too wide. The
    two-way cluster-robust variance is ``V = Vr + Vc - Vi`` (Cameron, Gelbach & Miller 2011),
    floored at ``max(Vr, Vc)`` (clustering two ways is never tighter than either one way). The
    interval is the percentile interval of ``estimate + s x db``, ``s = sqrt(V / Vb)``: the
    product replicates' shape, scaled to ``V``. Replicates where any of the three is NaN are
    dropped; none left gives a NaN interval.
    """
    r, c, b = (np.asarray(x, dtype=np.float64) for x in (rows, cols, both))
    ok = np.isfinite(r) & np.isfinite(c) & np.isfinite(b)
    if ok.sum() < 2 or not math.isfinite(estimate):
        return TwoWay(Interval(estimate, math.nan, math.nan, conf), math.nan, math.nan, math.nan,
                      math.nan)  # fmt: skip
    dr, dc, db = r[ok] - estimate, c[ok] - estimate, b[ok] - estimate
    vr, vc, vb = float(dr.var()), float(dc.var()), float(db.var())
    vi = float((db - dr - dc).var())
    v = max(vr + vc - vi, vr, vc)
    scale = math.sqrt(v / vb) if vb > 0 else 0.0
    lo, hi = np.quantile(estimate + scale * db, [(1 - conf) / 2, (1 + conf) / 2])
    return TwoWay(Interval(estimate, float(lo), float(hi), conf), v, vr, vc, vi)


def z_test_greater(estimate: float, h0: float, variance: float) -> float:
    """One-sided p-value of ``estimate > h0`` for a normal estimate with ``variance``:
    ``1 - Φ((estimate - h0) / sqrt(variance))`` (``scipy.stats.norm.sf``). NaN when either is not
    finite; a zero variance gives 0 above ``h0`` and 1 otherwise."""
    if not (math.isfinite(estimate) and math.isfinite(h0) and math.isfinite(variance)):
        return math.nan
    if variance <= 0:
        return 0.0 if estimate > h0 else 1.0
    return norm_cdf(-(estimate - h0) / math.sqrt(variance))
