"""Oracle tests for the statistics: SciPy where it has the function, published examples otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar import stats


@given(n=st.integers(1, 400), data=st.data(), conf=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=150, deadline=None)
def test_wilson_equals_scipy(n, data, conf):
    k = data.draw(st.integers(0, n))
    ci = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
    got = stats.wilson_interval(k, n, conf)
    assert got.estimate == pytest.approx(k / n)
    assert got.low == pytest.approx(ci.low, abs=1e-12)
    assert got.high == pytest.approx(ci.high, abs=1e-12)


def test_wilson_published_value():
    # Wilson interval for 81 successes of 263 trials (Wikipedia, "Binomial proportion confidence
    # interval"), 95 %: [0.2553, 0.3662] to four places.
    got = stats.wilson_interval(81, 263)
    assert (round(got.low, 4), round(got.high, 4)) == (0.2553, 0.3662)


def test_spec_eighty_events_needed_for_seventy_percent():
    # SPEC section 5: about 80 events before a 70 % rate has a lower bound above 60 %.
    assert stats.wilson_interval(56, 80).low > 0.59
    assert stats.wilson_interval(28, 40).low < 0.55


def test_wilson_rejects_bad_counts_and_handles_empty():
    with pytest.raises(ValueError):
        stats.wilson_interval(5, 3)
    empty = stats.wilson_interval(0, 0)
    assert math.isnan(empty.estimate) and (empty.low, empty.high) == (0.0, 1.0)


@given(n=st.integers(1, 300), data=st.data(), p=st.floats(0.01, 0.99))
@settings(max_examples=150, deadline=None)
def test_binom_sf_equals_scipy(n, data, p):
    k = data.draw(st.integers(0, n))
    want = scipy.stats.binomtest(k, n, p, alternative="greater").pvalue
    assert math.isclose(stats.binom_sf(k, n, p), want, rel_tol=1e-9, abs_tol=1e-290)


def test_binom_sf_large_n_no_overflow():
    want = scipy.stats.binom.sf(5199, 10_000, 0.5)
    assert stats.binom_sf(5200, 10_000, 0.5) == pytest.approx(want, rel=1e-9)


@given(a=st.floats(0.2, 200), b=st.floats(0.2, 200), x=st.floats(0.0, 1.0, exclude_min=False))
@settings(max_examples=200, deadline=None)
def test_betainc_equals_scipy(a, b, x):
    assert stats.betainc(a, b, x) == pytest.approx(scipy.special.betainc(a, b, x), abs=1e-11)


@given(t=st.floats(-30, 30), df=st.integers(1, 500))
@settings(max_examples=150, deadline=None)
def test_t_sf_equals_scipy(t, df):
    # abs 1e-9: for df=1 and |t| ~ 1e-7 SciPy itself is off by ~4e-11 (see the closed forms below)
    assert stats.t_sf(t, df) == pytest.approx(scipy.stats.t.sf(t, df), abs=1e-9)


@given(t=st.floats(-50, 50))
def test_t_sf_closed_forms(t):
    # df=1 is Cauchy: 1/2 - atan(t)/pi; df=2: 1/2 - t / (2 sqrt(2 + t^2))
    assert stats.t_sf(t, 1) == pytest.approx(0.5 - math.atan(t) / math.pi, abs=1e-14)
    assert stats.t_sf(t, 2) == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)), abs=1e-14)


def test_ttest_greater_equals_scipy():
    rng = np.random.default_rng(3)
    for loc in (-0.2, 0.0, 0.1, 0.5):
        x = rng.normal(loc, 1.0, size=57)
        res = scipy.stats.ttest_1samp(x, 0.0, alternative="greater")
        t, p = stats.ttest_greater(x)
        assert t == pytest.approx(res.statistic, rel=1e-12)
        assert p == pytest.approx(res.pvalue, rel=1e-9)
    assert all(math.isnan(v) for v in stats.ttest_greater([1.0]))


@given(p=st.lists(st.one_of(st.just(0.0), st.floats(1e-300, 1.0)), min_size=1, max_size=60))
@settings(max_examples=150, deadline=None)
def test_bh_equals_scipy(p):
    rejected, adj = stats.benjamini_hochberg(p, q=0.1)
    want = scipy.stats.false_discovery_control(np.array(p), method="bh")
    with np.errstate(under="ignore"):
        np.testing.assert_allclose(adj, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(rejected, want <= 0.1)


def test_bh_published_example():
    # Benjamini & Hochberg (1995) section 3.2: 15 p-values, q = 0.05 rejects the four smallest.
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
         0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000]  # fmt: skip
    rejected, _ = stats.benjamini_hochberg(p, q=0.05)
    assert rejected.sum() == 4 and rejected[:4].all()


def test_bh_ignores_nan():
    rejected, adj = stats.benjamini_hochberg([0.01, np.nan, 0.02], q=0.05)
    assert rejected.tolist() == [True, False, True]
    assert math.isnan(adj[1]) and adj[0] == pytest.approx(0.02)


def test_moments_equal_scipy():
    x = np.random.default_rng(1).standard_t(5, size=500)
    skew, kurt, n = stats.sample_moments(x)
    assert skew == pytest.approx(scipy.stats.skew(x), rel=1e-10)
    assert kurt == pytest.approx(scipy.stats.kurtosis(x, fisher=False), rel=1e-10)
    assert n == 500


def test_deflated_sharpe_published_example():
    # Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example: annualised SR
    # 2.5 over 5 years of daily returns (T=1250), skew -3, kurtosis 10, N=100 trials whose
    # annualised Sharpe ratios have variance 0.5 -> SR0 = 0.1132 per day and DSR = 0.9004.
    days = 250
    sr0 = stats.expected_max_sharpe(0.5 / days, 100)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = stats.deflated_sharpe_ratio(2.5 / math.sqrt(days), 1250, 100, 0.5 / days, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


def test_psr_reduces_to_normal_test_for_gaussian_returns():
    # With skew 0 and kurtosis 3, PSR(SR* = 0) = Φ(SR sqrt(n-1) / sqrt(1 + SR²/2)).
    sr, n = 0.1, 400
    want = scipy.stats.norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(1 + sr * sr / 2))
    assert stats.probabilistic_sharpe_ratio(sr, 0.0, n) == pytest.approx(want, rel=1e-12)
    assert stats.expected_max_sharpe(1.0, 1) == 0.0


def test_norm_matches_scipy():
    for x in (-3.1, -0.5, 0.0, 1.96):
        assert stats.norm_cdf(x) == pytest.approx(scipy.stats.norm.cdf(x), rel=1e-12)
    for p in (0.01, 0.5, 0.975):
        assert stats.norm_ppf(p) == pytest.approx(scipy.stats.norm.ppf(p), rel=1e-10)


def test_block_bootstrap_indices_are_circular_blocks():
    idx = stats.block_bootstrap_indices(10, 4, 50, np.random.default_rng(0))
    assert idx.shape == (50, 10)
    steps = (np.diff(idx, axis=1) % 10)[:, :3]  # inside the first block: consecutive, mod n
    assert (steps == 1).all()


def test_block_sums_equal_explicit_loop():
    v = np.random.default_rng(2).normal(size=(13, 2))
    got = stats.block_sums(v, 5)
    want = np.array([[v[(s + j) % 13, c] for j in range(5)] for s in range(13) for c in range(2)])
    np.testing.assert_allclose(got, want.reshape(13, 2, 5).sum(axis=2))


def test_block_bootstrap_sees_serial_dependence():
    # AR(1) with phi=0.8: the iid standard error of the mean is far too small; blocks of 50 recover
    # most of the true long-run standard error sd / sqrt(n) * sqrt((1+phi)/(1-phi)) = 3x the iid one.
    rng = np.random.default_rng(5)
    n, phi = 4000, 0.8
    e = rng.normal(size=n)
    x = np.empty(n)
    x[0] = e[0]
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    iid = stats.block_bootstrap_indices(n, 1, 400, rng)
    blk = stats.block_bootstrap_indices(n, 50, 400, rng)
    se_iid, se_blk = x[iid].mean(axis=1).std(), x[blk].mean(axis=1).std()
    true_se = x.std() / math.sqrt(n) * math.sqrt((1 + phi) / (1 - phi))
    assert se_iid < 0.5 * true_se
    assert 0.7 * true_se < se_blk < 1.3 * true_se


def test_percentile_interval_drops_nan():
    iv = stats.percentile_interval(1.0, [np.nan, *np.arange(101.0)], conf=0.9)
    assert (iv.low, iv.high) == (pytest.approx(5.0), pytest.approx(95.0))


def test_events_needed_hand_calculation():
    # 0.7 against 0.5, one-sided 5 %, 80 % power:
    # ((1.6449 x 0.5 + 0.8416 x sqrt(0.21)) / 0.2)^2 = (1.2081 / 0.2)^2 = 36.49 -> 37
    assert stats.events_needed(0.7, 0.5) == 37
    # the base rates: 29 % (timeouts as failures) and 41 % (timeouts left out)
    assert stats.events_needed(0.7, 0.29) == 8
    assert stats.events_needed(0.7, 0.41) == 17
    assert stats.events_needed(0.5, 0.5) is None  # no n tells a rate from itself
    assert stats.events_needed(0.4, 0.5) is None
    with pytest.raises(ValueError):
        stats.events_needed(1.2, 0.5)


@given(p0=st.floats(0.02, 0.9), d=st.floats(0.03, 0.3), power=st.sampled_from([0.8, 0.9]),
       alpha=st.sampled_from([0.01, 0.05, 0.1]))  # fmt: skip
@settings(max_examples=150, deadline=None)
def test_events_needed_is_the_smallest_n_with_the_power(p0, d, power, alpha):
    """Oracle: the power of the normal-approximation test, written with SciPy, reaches ``power``
    at the returned n and not one event earlier."""
    p1 = min(0.999, p0 + d)
    n = stats.events_needed(p1, p0, alpha, power)

    def achieved(m: int) -> float:
        crit = p0 + scipy.stats.norm.ppf(1 - alpha) * math.sqrt(p0 * (1 - p0) / m)
        return scipy.stats.norm.sf((crit - p1) / math.sqrt(p1 * (1 - p1) / m))

    assert n is not None
    assert achieved(n) >= power - 1e-9
    if n > 1:
        assert achieved(n - 1) < power


def test_events_needed_is_close_to_the_exact_binomial_power():
    # "about N needed": at N the exact one-sided binomial test has roughly the asked power
    for p1, p0 in [(0.7, 0.5), (0.6, 0.41), (0.45, 0.29)]:
        n = stats.events_needed(p1, p0)
        k = int(scipy.stats.binom.isf(0.05, n, p0)) + 1  # smallest k with P(X >= k | p0) <= 5 %
        exact = scipy.stats.binom.sf(k - 1, n, p1)
        assert 0.65 < exact < 0.95, (p1, p0, n, exact)
