"""Each numeric kernel equals the plain pandas expression named in its docstring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oiradar.features import kernels as k
from oiradar.features import oracle

WINDOWS = [1, 2, 3, 7, 30]


def _series(seed: int, m: int = 400, nan: float = 0.08, level: float = 1e5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = level * np.exp(np.cumsum(rng.normal(0, 0.01, m)))
    x[rng.random(m) < nan] = np.nan
    x[50:60] = x[49]  # a flat run: the std must be exactly 0, as in pandas
    return x


def _close(a, b, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(a, np.asarray(b, dtype=float), rtol=1e-9, atol=atol, equal_nan=True)


@pytest.mark.parametrize("n", WINDOWS)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("coverage", [1.0, 0.8, 0.01])
def test_rolling_mean_std_sum_max_min(n: int, seed: int, coverage: float) -> None:
    x = _series(seed, nan=0.15 if coverage < 1 else 0.08)
    s = pd.Series(x)
    q = max(1, int(np.ceil(coverage * n - 1e-9)))
    r = s.rolling(n, min_periods=q)
    mean, sd = k.rolling_mean_std(x, n, q)
    _close(mean, r.mean())
    # pandas leaves a rounding residue of ~1e-8 of the level on flat windows (ours is exactly 0)
    _close(sd, r.std(ddof=1), atol=1e-7 * np.nanmedian(x))
    _close(k.rolling_sum(x, n, q), r.sum())
    _close(k.rolling_mean(x, n, q), r.mean())
    _close(k.rolling_max(x, n, q), r.max())
    _close(k.rolling_min(x, n, q), r.min())
    assert np.isfinite(mean).sum() > 20


def test_flat_window_has_zero_std_not_a_rounding_residue() -> None:
    x = np.r_[np.linspace(1e5, 2e5, 20), np.full(10, 123456.789)]
    _mean, sd = k.rolling_mean_std(x, 5, 5)
    assert sd[-1] == 0.0
    assert pd.Series(x).rolling(5).std().iloc[-1] == 0.0


@pytest.mark.parametrize("lag", [1, 3, 42])
def test_pct_change_lag(lag: int) -> None:
    x = _series(2)
    x[100] = 0.0  # a zero base is missing, not inf
    s = pd.Series(x)
    with np.errstate(all="ignore"):
        expected = (s / s.shift(lag) - 1).replace([np.inf, -np.inf], np.nan)
    _close(k.pct_change_lag(x, lag), expected)


def test_safe_div_and_streaks() -> None:
    a, b = _series(3), _series(4)
    b[7] = 0.0
    with np.errstate(all="ignore"):
        _close(k.safe_div(a, b), (pd.Series(a) / pd.Series(b)).replace([np.inf, -np.inf], np.nan))
    s = pd.Series(np.round(a, -3))  # ties: equal values are neither up nor down
    dn, up = k.streaks(s.to_numpy())
    _close(dn, oracle.streak(s < s.shift(), s.notna()))
    _close(up, oracle.streak(s > s.shift(), s.notna()))
    assert np.nanmax(dn) >= 3  # the test exercises real streaks


def _ohlc(seed: int, m: int = 500, nan: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, m)))
    o = np.r_[c[0], c[:-1]] * (1 + rng.normal(0, 0.003, m))
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.004, m)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.004, m)))
    df = pd.DataFrame({"open": o, "high": h, "low": lo, "close": c})
    df.loc[rng.random(m) < nan, :] = np.nan
    return df


@pytest.mark.parametrize("n", [1, 2, 14, 30])
def test_wilder_atr(n: int) -> None:
    df = _ohlc(5)
    got = k.wilder_atr(*(df[c].to_numpy() for c in ("high", "low", "close")), n)
    _close(got, oracle.wilder_atr(df["high"], df["low"], df["close"], n))
    assert np.isfinite(got).sum() > 50


def test_wilder_atr_known_values() -> None:
    """Hand-computed: TRs 2, 3, 4 -> seed ATR(2) = 2.5 at bar 1, then (2.5 + 4) / 2 = 3.25."""
    h, lo, c = (
        np.array([12.0, 13.0, 15.0]),
        np.array([10.0, 11.0, 12.0]),
        np.array([11.0, 10.0, 14.0]),
    )
    # TR0 = 2; TR1 = max(2, |13-11|, |11-11|) = 2 ... use a previous close that widens it
    c[0] = 10.0  # TR1 = max(2, 3, 1) = 3; TR2 = max(3, |15-10|, |12-10|) = 5
    np.testing.assert_allclose(k.wilder_atr(h, lo, c, 2), [np.nan, 2.5, 3.75], equal_nan=True)


@pytest.mark.parametrize("lookback", [1, 3, 20])
def test_breakout_and_near_level(lookback: int) -> None:
    df = _ohlc(6)
    h, lo, c = df["high"], df["low"], df["close"]
    prior = h.shift(1).rolling(lookback, min_periods=lookback).max()
    _close(
        k.breakout(h.to_numpy(), lookback, lookback, 1.0),
        (h > prior).astype(float).where(prior.notna() & h.notna()),
    )
    prior_l = lo.shift(1).rolling(lookback, min_periods=lookback).min()
    expected_l = (lo < prior_l).astype(float).where(prior_l.notna() & lo.notna())
    _close(k.breakout(lo.to_numpy(), lookback, lookback, -1.0), expected_l)
    ph = h.rolling(lookback, min_periods=lookback).max()
    expected = (c >= 0.97 * ph).astype(float).where(c.notna() & ph.notna())
    _close(k.near_level(c.to_numpy(), ph.to_numpy(), 0.03, 1.0), expected)


@pytest.mark.parametrize("m", [0, 1, 5, 19, 20, 21, 39, 40, 41, 400])
@pytest.mark.parametrize("n", [1, 2, 5, 20])
@pytest.mark.parametrize("coverage", [1.0, 0.5, 0.01])
@pytest.mark.parametrize("lead", [0, 3])
def test_gap_free_paths(m: int, n: int, coverage: float, lead: int) -> None:
    """Without a missing value after the first value (``lead`` missing ones before it), the sums,
    means, deviations, maxima and breakouts take their block paths: same pandas result at every
    length around the window and its multiples (shorter, equal, one more)."""
    x = _series(3, m=400, nan=0.0)[:m]
    x[:lead] = np.nan
    s = pd.Series(x, dtype=float)
    q = max(1, int(np.ceil(coverage * n - 1e-9)))
    r = s.rolling(n, min_periods=q)
    mean, sd = k.rolling_mean_std(x, n, q)
    _close(mean, r.mean())
    _close(sd, r.std(ddof=1), atol=1e-7 * np.nanmedian(x) if m > lead else 1e-9)
    _close(k.rolling_sum(x, n, q), r.sum())
    _close(k.rolling_mean(x, n, q), r.mean())
    if lead == 0:  # the maxima's block path needs no missing value at all
        _close(k.rolling_max(x, n, q), r.max())
        _close(k.rolling_min(x, n, q), r.min())
        for sign, prior in ((1.0, s.shift(1).rolling(n, min_periods=q).max()),
                            (-1.0, s.shift(1).rolling(n, min_periods=q).min())):  # fmt: skip
            hit = (s > prior) if sign > 0 else (s < prior)
            _close(k.breakout(x, n, q, sign), hit.astype(float).where(prior.notna() & s.notna()))


def test_block_sums_carry_no_drift_and_flat_windows_stay_exactly_flat() -> None:
    """A long series whose level dwarfs its moves: the block sums stay at rounding level of the
    window (no add/remove drift along the series), and a flat run has a deviation of exactly 0."""
    rng = np.random.default_rng(7)
    x = 1e9 + np.cumsum(rng.normal(0, 1e5, 30_000))
    x[12_000:13_000] = x[11_999]
    n = 500
    mean, sd = k.rolling_mean_std(x, n, n)
    exp_mean = np.array([x[max(0, i - n + 1) : i + 1].mean() for i in range(x.size)])
    # two-pass deviation of the values less the window's first one: exact 0 on a flat window
    win = [x[i - n + 1 : i + 1] for i in range(n - 1, x.size)]
    exp_sd = np.r_[np.full(n - 1, np.nan), [np.std(w - w[0], ddof=1) for w in win]]
    exp_mean[: n - 1] = np.nan
    np.testing.assert_allclose(mean, exp_mean, rtol=1e-14, equal_nan=True)
    np.testing.assert_allclose(sd, exp_sd, rtol=1e-8, equal_nan=True)
    assert (sd[12_498:13_000] == 0.0).all() and sd[12_497] > 0 and sd[13_000] > 0
    sums = k.rolling_sum(x, n, n)
    exp_sum = np.array([np.sum(x[i - n + 1 : i + 1]) for i in range(n - 1, x.size)])
    np.testing.assert_allclose(sums[n - 1 :], exp_sum, rtol=1e-12)


@pytest.mark.parametrize("gaps", [(150,), (20, 21, 22), (5, 120, 121, 260)])
@pytest.mark.parametrize("n", [1, 7, 30, 400])
def test_a_later_gap_changes_no_earlier_value(gaps: tuple[int, ...], n: int) -> None:
    """The sums, means and deviations take their block path up to the first gap and the chain
    from it: the value at ``t`` is the same, to the last bit, whatever follows ``t``."""
    x = _series(5, m=300, nan=0.0)
    x[list(gaps)] = np.nan
    full = (k.rolling_sum(x, n, n), k.rolling_mean(x, n, n), *k.rolling_mean_std(x, n, 1))
    for t in (gaps[0] - 1, gaps[0], gaps[-1] + 3, 200, 299):
        part = (k.rolling_sum(x[: t + 1], n, n), k.rolling_mean(x[: t + 1], n, n),
                *k.rolling_mean_std(x[: t + 1], n, 1))  # fmt: skip
        for a, b in zip(full, part, strict=True):
            np.testing.assert_array_equal(a[: t + 1], b)
    s = pd.Series(x)
    _close(full[0], s.rolling(n, min_periods=n).sum())
    _close(full[3], s.rolling(n, min_periods=1).std(ddof=1), atol=1e-7 * np.nanmedian(x))


def test_a_flat_run_across_a_gap_has_zero_std() -> None:
    x = np.r_[np.linspace(1e5, 2e5, 40), np.full(6, 123456.789), np.nan, np.full(6, 123456.789)]
    _mean, sd = k.rolling_mean_std(x, 10, 1)
    assert (sd[-4:] == 0.0).all() and sd[-5] > 0


@pytest.mark.parametrize("at", [0, 1, 150, 299])
def test_one_missing_value_switches_to_the_general_path(at: int) -> None:
    x = _series(4, m=300, nan=0.0)
    x[at] = np.nan
    s = pd.Series(x)
    r = s.rolling(20, min_periods=20)
    _close(k.rolling_max(x, 20, 20), r.max())
    _close(k.rolling_sum(x, 20, 20), r.sum())
    _close(k.rolling_mean(x, 20, 20), r.mean())
    mean, sd = k.rolling_mean_std(x, 20, 20)
    _close(mean, r.mean())
    _close(sd, r.std(ddof=1), atol=1e-7 * np.nanmedian(x))
    if 0 < at < 280:
        assert np.isnan(k.rolling_max(x, 20, 20)[at : at + 20]).all()
        assert np.isnan(mean[at : at + 20]).all()
    prior = s.shift(1).rolling(20, min_periods=20).max()
    _close(k.breakout(x, 20, 20, 1.0), (s > prior).astype(float).where(prior.notna() & s.notna()))


RULE_SETS = [
    ("wick", "engulfing", "close_below_low"),
    ("wick",),
    ("engulfing",),
    ("close_below_low",),
]


@pytest.mark.parametrize("rules", RULE_SETS)
@pytest.mark.parametrize("bullish", [False, True])
def test_rejection(rules: tuple[str, ...], bullish: bool) -> None:
    df = _ohlc(7, m=3000, nan=0.02)
    cols = [df[c].to_numpy() for c in ("open", "high", "low", "close")]
    flags = [r in rules for r in ("wick", "engulfing", "close_below_low")]
    got = k.rejection(*cols, *flags, -1.0 if bullish else 1.0)
    expected = oracle.rejection(df, rules, bullish=bullish)
    _close(got, expected)
    assert np.nansum(got) > 5  # each rule fires somewhere in 3000 random candles


def test_rejection_rules_by_hand() -> None:
    #              wick (a)         engulfing (b) after a green bar       close below prior low (c)
    o = np.array([100.0, 100.0, 100.0, 103.0, 100.0, 99.0])
    h = np.array([110.0, 100.5, 104.0, 103.5, 101.0, 99.5])
    lo = np.array([99.5, 99.0, 99.8, 98.0, 99.6, 99.2])
    c = np.array([101.0, 99.9, 103.0, 99.0, 100.2, 99.4])
    got = k.rejection(o, h, lo, c, True, True, True, 1.0)
    # bar0 long upper wick; bar3 engulfs bar2 (green); bar5 closes below bar4's low
    np.testing.assert_array_equal(got, [1, 0, 0, 1, 0, 1])
