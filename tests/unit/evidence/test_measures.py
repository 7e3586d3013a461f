"""The measures of the non-rate claims (OI-turn exit against the barriers, liquidations after a
signal against their base rate) against hand computations and plain-Python oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.evidence import StudyConfig
from oiradar.evidence.claims import Claim, Verdict, judge_measure
from oiradar.evidence.measures import (
    EXIT_GAIN,
    LIQ_RATIO,
    MeasureArrays,
    barrier_exit,
    forward_liquidations,
    measure_part,
    oi_turn_exit,
    pool_measure,
    run_measure,
)
from oiradar.model import LONG, SHORT, Side


def test_oi_turn_exit_by_hand():
    close = np.array([100.0, 99, 98, 97, 99, 100, 101])
    streak = np.array([0.0, 0, 0, 1, 2, 0, 0])
    ret, held = oi_turn_exit(close, streak, SHORT, 2, 4)
    # t=0: the streak reaches 2 at bar 4 (h=4): out at 99, a short gains 1 %
    assert ret[0] == pytest.approx(0.01) and held[0] == 4
    # t=1: bar 4 again (h=3): 99 / 99 - 1 = 0
    assert ret[1] == pytest.approx(0.0) and held[1] == 3
    # t=2: bar 4 (h=2): -(99 / 98 - 1)
    assert ret[2] == pytest.approx(-(99 / 98 - 1)) and held[2] == 2
    # the last 4 bars have no full cap ahead: not measured
    assert np.isnan(ret[3:]).all() and (held[3:] == -1).all()
    # no turn within the cap: out at t + cap; a long gains what the short loses
    ret_l, held_l = oi_turn_exit(close, np.zeros(7), LONG, 2, 3)
    assert ret_l[0] == pytest.approx(97 / 100 - 1) and held_l[0] == 3


def _oi_turn_oracle(close, streak, side, turn, cap):
    n = len(close)
    out = [math.nan] * n
    for t in range(n - cap):
        h = next((h for h in range(1, cap + 1) if streak[t + h] >= turn), cap)
        out[t] = side * (close[t + h] / close[t] - 1)
    return np.array(out)


@given(seed=st.integers(0, 10_000), side=st.sampled_from([SHORT, LONG]), turn=st.integers(1, 3),
       cap=st.integers(1, 20))  # fmt: skip
@settings(max_examples=40, deadline=None)
def test_oi_turn_exit_equals_the_plain_loop(seed, side, turn, cap):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 80)))
    streak = rng.integers(0, 4, 80).astype(float)
    got, _ = oi_turn_exit(close, streak, side, turn, cap)
    np.testing.assert_allclose(got, _oi_turn_oracle(close, streak, side, turn, cap))


def test_barrier_exit_by_hand():
    # close 100, atr 1, width 2: barriers 98 / 102, horizon 2
    close = np.array([100.0, 100, 100, 100, 100])
    high = np.array([100.0, 101, 102.5, 101, 100])
    low = np.array([100.0, 99, 99.5, 97, 100])
    atr = np.ones(5)
    ret = barrier_exit(close, high, low, atr, SHORT, 2.0, 2)
    assert ret[0] == pytest.approx(-0.02)  # the upper barrier (bar 2) first: a short loses 2 ATR
    assert ret[1] == pytest.approx(-0.02)  # bar 2 touches 102 before bar 3's 97
    assert ret[2] == pytest.approx(0.02)  # bar 3 touches 98: a short wins 2 ATR
    assert np.isnan(ret[3:]).all()
    flat = barrier_exit(close, np.full(5, 100.5), np.full(5, 99.5), atr, LONG, 2.0, 2)
    assert flat[0] == pytest.approx(0.0)  # a timeout: the return at H


def test_forward_liquidations_by_hand():
    liq = np.array([5.0, 1, 2, 3, np.nan, 4, 6])
    oi_value = np.array([100.0, 50, 10, 0, 10, 10, 10])
    got = forward_liquidations(liq, oi_value, 2)
    assert got[0] == pytest.approx((1 + 2) / 100)
    assert got[1] == pytest.approx((2 + 3) / 50)
    assert np.isnan(got[2])  # bar 4 unknown in its window
    assert np.isnan(got[3])  # no OI value
    assert got[4] == pytest.approx((4 + 6) / 10)
    assert np.isnan(got[5:]).all()  # the window runs past the data


def _exit_data():
    close = np.array([100.0, 99, 98, 97, 99, 100, 101, 100, 99, 98, 97, 96])
    n = close.size
    high, low = close + 0.5, close - 0.5
    atr = np.ones(n)
    streak = np.array([0.0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 0])
    events = np.zeros(n, bool)
    events[[0, 1, 5]] = True
    return MeasureArrays(close=close, high=high, low=low, atr=atr, events=events, streak=streak,
                         ts=np.arange(n, dtype=np.int64) * 3_600_000)  # fmt: skip


def test_exit_gain_against_a_hand_computation():
    data = _exit_data()
    cfg = StudyConfig(horizon=2, width=2.0, cooldown=1, reps=200, min_events=1)
    res = run_measure(EXIT_GAIN, "entry", data, Side.SHORT, cfg, turn=2, hold_max=4)
    # OI-turn: t=0 -> bar 4 (99): +1 %; t=1 -> bar 4: 0; t=5 -> cap bar 9 (98): +2 %
    turn = [0.01, 0.0, -(98 / 100 - 1)]
    # barriers +-2 ATR within 2 bars: t=0 and t=1 touch the lower one (a win: 2 ATR over the close); t=5 touches
    # neither (a timeout: the return at bar 7, 100 -> 100)
    bars = barrier_exit(data.close, data.high, data.low, data.atr, SHORT, 2.0, 2)[[0, 1, 5]]
    assert list(bars) == pytest.approx([2 / 100, 2 / 99, 0.0])
    gain = np.mean(np.array(turn) - bars)
    assert res.n_events == 3
    assert res.estimate == pytest.approx(gain)
    assert res.event_mean == pytest.approx(np.mean(turn))
    assert res.reference == pytest.approx(np.mean(bars))
    assert res.held == pytest.approx((4 + 3 + 4) / 3)


def test_liq_ratio_against_a_hand_computation():
    n = 10
    liq = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    oi_value = np.full(n, 100.0)
    events = np.zeros(n, bool)
    events[[2, 5]] = True
    close = np.full(n, 10.0)
    data = MeasureArrays(close=close, high=close, low=close, atr=np.ones(n), events=events,
                         liquidations=liq, oi_value=oi_value)  # fmt: skip
    cfg = StudyConfig(horizon=3, cooldown=1, reps=100, min_events=1)
    res = run_measure(LIQ_RATIO, "oi_extreme", data, Side.SHORT, cfg)
    y = [(liq[t + 1 : t + 4].sum()) / 100 for t in range(n - 3)]  # every bar with a full window
    after = [y[2], y[5]]
    assert res.n_events == 2 and res.n_reference == len(y)
    assert res.event_mean == pytest.approx(np.mean(after))
    assert res.reference == pytest.approx(np.mean(y))
    assert res.estimate == pytest.approx(np.mean(after) / np.mean(y))


def test_pooling_copies_of_one_series_keeps_its_estimate():
    data = _exit_data()
    cfg = StudyConfig(horizon=2, cooldown=1, reps=200, min_events=1)
    one = run_measure(EXIT_GAIN, "entry", data, Side.SHORT, cfg, hold_max=4)
    parts = [measure_part(f"s{i}", EXIT_GAIN, "entry", data, Side.SHORT, cfg, 4 * 3_600_000,
                          hold_max=4) for i in range(3)]  # fmt: skip
    pooled = pool_measure(parts, cfg)
    assert pooled.n_events == 3 * one.n_events
    assert pooled.estimate == pytest.approx(one.estimate)
    assert pooled.pooled and pooled.series == 3


def test_judge_measure_verdicts():
    rng = np.random.default_rng(0)
    n = 3000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    liq = rng.exponential(1.0, n)
    events = rng.random(n) < 0.1
    boost = np.r_[False, events[:-1]] | np.r_[False, False, events[:-2]]
    liq = np.where(boost, liq * 5, liq)  # liquidations burst after the events
    data = MeasureArrays(close=close, high=close, low=close, atr=np.ones(n), events=events,
                         liquidations=liq, oi_value=np.full(n, 100.0))  # fmt: skip
    claim = Claim(name="t", text="t", signal="oi_extreme", metric="liq_ratio", value=1.0)
    cfg = StudyConfig(horizon=3, reps=300, min_events=80)
    res = run_measure(LIQ_RATIO, "oi_extreme", data, Side.SHORT, cfg)
    j = judge_measure(claim, res)
    assert res.n_events >= 80 and j.verdict is Verdict.SUPPORTED
    assert j.measured.startswith("ratio ") and j.q <= 0.05
    few = judge_measure(claim, run_measure(LIQ_RATIO, "oi_extreme", data, Side.SHORT,
                                           StudyConfig(horizon=3, reps=300, min_events=10_000)))
    assert few.verdict is Verdict.INSUFFICIENT
    higher = Claim(name="t2", text="t", signal="oi_extreme", metric="liq_ratio", value=50.0)
    assert judge_measure(higher, res).verdict is Verdict.NOT_SUPPORTED
