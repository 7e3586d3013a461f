"""Outcome kernels against numpy/pandas oracles and hand-made paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from oiradar.evidence import outcomes as oc
from oiradar.model import LONG, SHORT


def _random_bars(seed: int, n: int):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    atr = close * rng.uniform(0.002, 0.02, n)
    atr[:3] = np.nan
    return close, high, low, atr


def _barrier_oracle(close, high, low, atr, side, width, horizon):
    """numpy: hit masks over the next ``horizon`` bars, first hit by argmax."""
    n = close.size
    m = n - horizon
    hi = sliding_window_view(high[1:], horizon)[:m]
    lo = sliding_window_view(low[1:], horizon)[:m]
    up = (close[:m] + width * atr[:m])[:, None]
    dn = (close[:m] - width * atr[:m])[:, None]
    fav, adv = (lo <= dn, hi >= up) if side < 0 else (hi >= up, lo <= dn)
    any_hit = fav | adv
    first = np.where(any_hit.any(axis=1), any_hit.argmax(axis=1), -1)
    out = np.full(n, oc.INVALID, dtype=np.int8)
    rows = np.arange(m)
    res = np.where(first < 0, oc.TIMEOUT, np.where(adv[rows, first], oc.LOSS, oc.WIN))
    ok = np.isfinite(atr[:m]) & (atr[:m] > 0)
    out[:m][ok] = res[ok]
    return out


@given(seed=st.integers(0, 10_000), side=st.sampled_from([SHORT, LONG]), horizon=st.integers(1, 15),
       width=st.floats(0.2, 3.0))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_triple_barrier_equals_numpy_oracle(seed, side, horizon, width):
    close, high, low, atr = _random_bars(seed, 120)
    got, when = oc.triple_barrier(close, high, low, atr, side, width, horizon)
    np.testing.assert_array_equal(got, _barrier_oracle(close, high, low, atr, side, width, horizon))
    assert (when[got == oc.TIMEOUT] == horizon).all()
    assert (got[-horizon:] == oc.INVALID).all()


def test_triple_barrier_hand_cases():
    # close 100, atr 1, width 2: barriers 98 / 102.
    close = np.array([100.0, 100, 100, 100, 100])
    atr = np.ones(5)
    high = np.array([100.0, 101, 101, 101, 101])
    low = np.array([100.0, 99, 97.5, 99, 99])  # lower touched at bar 2
    out, when = oc.triple_barrier(close, high, low, atr, -1, 2.0, 3)
    assert (out[0], when[0]) == (oc.WIN, 2)  # a short wins: the reversal came first
    out_l, _ = oc.triple_barrier(close, high, low, atr, 1, 2.0, 3)
    assert out_l[0] == oc.LOSS
    both_high = high.copy()
    both_high[2] = 102.5  # both barriers in bar 2: adverse for either side
    assert oc.triple_barrier(close, both_high, low, atr, -1, 2.0, 3)[0][0] == oc.LOSS
    assert oc.triple_barrier(close, both_high, low, atr, 1, 2.0, 3)[0][0] == oc.LOSS
    flat = oc.triple_barrier(close, np.full(5, 101.0), np.full(5, 99.0), atr, -1, 2.0, 3)[0]
    assert flat[0] == oc.TIMEOUT and flat[1] == oc.TIMEOUT and flat[2] == oc.INVALID


def test_dedupe_keeps_first_of_each_cooldown():
    flags = np.array([1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1], dtype=bool)
    got = oc.dedupe_events(flags, 3)
    assert np.flatnonzero(got).tolist() == [0, 3, 6, 11]
    np.testing.assert_array_equal(oc.dedupe_events(flags, 1), flags)


@given(seed=st.integers(0, 1000), cooldown=st.integers(0, 20))
@settings(max_examples=40, deadline=None)
def test_dedupe_gaps_at_least_cooldown(seed, cooldown):
    flags = np.random.default_rng(seed).random(200) < 0.2
    kept = np.flatnonzero(oc.dedupe_events(flags, cooldown))
    assert (np.diff(kept) >= max(cooldown, 1)).all()
    assert set(kept) <= set(np.flatnonzero(flags))
    if flags.any():
        assert kept[0] == np.flatnonzero(flags)[0]


def test_forward_returns_equal_pandas():
    close, *_ = _random_bars(1, 60)
    got = oc.forward_returns(close, (1, 3, 24))
    s = pd.Series(close)
    for j, h in enumerate((1, 3, 24)):
        np.testing.assert_allclose(got[:, j], (s.shift(-h) / s - 1).to_numpy(), equal_nan=True)


@pytest.mark.parametrize("side", [SHORT, LONG])
def test_excursions_equal_pandas(side):
    close, high, low, _ = _random_bars(2, 80)
    h = 7
    mfe, mae = oc.excursions(close, high, low, side, h)
    fut_hi = pd.Series(high[::-1]).rolling(h).max()[::-1].shift(-1).to_numpy()
    fut_lo = pd.Series(low[::-1]).rolling(h).min()[::-1].shift(-1).to_numpy()
    up, down = fut_hi / close - 1, 1 - fut_lo / close
    want_mfe, want_mae = (down, up) if side < 0 else (up, down)
    np.testing.assert_allclose(mfe, want_mfe, equal_nan=True)
    np.testing.assert_allclose(mae, want_mae, equal_nan=True)


@pytest.mark.parametrize("n,cols,reps,k", [(1, 1, 1, 1), (50, 3, 7, 5), (997, 41, 20, 83), (10, 2, 0, 4)])
def test_replicate_sums_equal_the_gathered_sum_bit_for_bit(n, cols, reps, k):
    from oiradar.evidence.outcomes import replicate_sums

    rng = np.random.default_rng(n + cols)
    sums = rng.normal(size=(n, cols)) * 10.0 ** rng.integers(-3, 6, size=cols)
    starts = rng.integers(0, n, size=(reps, k), dtype=np.int64)
    got = replicate_sums(sums, starts)
    want = sums[starts].sum(axis=1)
    assert got.shape == (reps, cols)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
