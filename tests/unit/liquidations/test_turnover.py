"""The level model's optional turnover (entry ageing and churn): worked cases, the oracle, no
look-ahead, and the default leaving the three rules unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.errors import InputError
from oiradar.liquidations.levels import (
    PriceGrid,
    Turnover,
    level_factors,
    level_inputs,
    levels_oracle,
    parse_mix,
    run_levels,
)
from oiradar.liquidations.prices import liq_price_linear
from oiradar.liquidations.tiers import load_tiers

from .helpers import bars, flat_tiers, random_bars

GRID = PriceGrid(50.0, 150.0, 100)


def _run(frame, turnover: Turnover, mix: str = "10:1"):
    inp = level_inputs(frame)
    fac = level_factors(parse_mix(mix), flat_tiers(), position_notional=1_000.0)
    return run_levels(inp, fac, GRID, turnover=turnover)


def _flat(oi, taker=0.6):
    n = len(oi)
    return bars([100] * n, [101] * n, [99] * n, [100] * n, oi, taker=[taker] * n)


def test_half_life_of_one_bar_halves_every_level_each_bar():
    """OI +100 at bar 1 (60 long at 10x); with a half-life of one bar the level holds 60, 30, 15
    after bars 1, 2, 3 (the flat OI creates nothing more)."""
    lp = float(liq_price_linear(1, 100.0, 10, 0.005))
    run = _run(_flat([1000, 1100, 1100, 1100]), Turnover(half_life=1.0))
    b = GRID.bin_of(np.array([lp]))[0]
    assert run.heat_long[1:, b] == pytest.approx([60 * lp, 30 * lp, 15 * lp], rel=1e-6)


def test_churn_closes_a_share_and_opens_it_again_at_the_bar():
    """Churn 0.5 a bar: at bar 2 (OI flat at 1,100) half of the open levels close and 550 base
    open again at the bar's VWAP, split 60/40 like an increase."""
    frame = _flat([1000, 1100, 1100])
    run = _run(frame, Turnover(churn=0.5))
    lp = float(liq_price_linear(1, 100.0, 10, 0.005))
    b = GRID.bin_of(np.array([lp]))[0]
    # bar 1: 0.5 x 1000 re-opened + the increase of 100; bar 2: half of that kept + 0.5 x 1100
    after_1 = 0.6 * (500 + 100)
    assert run.heat_long[1, b] == pytest.approx(after_1 * lp, rel=1e-6)
    assert run.heat_long[2, b] == pytest.approx((after_1 / 2 + 0.6 * 550) * lp, rel=1e-6)


def test_the_default_turnover_is_the_model_without_it():
    frame = random_bars(120, 4)
    inp = level_inputs(frame)
    fac = level_factors(parse_mix("default"), flat_tiers(), position_notional=1_000.0)
    plain = run_levels(inp, fac, GRID)
    given_ = run_levels(inp, fac, GRID, turnover=Turnover(half_life=math.inf, churn=0.0))
    np.testing.assert_array_equal(plain.heat_long, given_.heat_long)
    np.testing.assert_array_equal(plain.liq_short, given_.liq_short)
    assert Turnover().is_default and Turnover().decay == 1.0


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 60),
    seed=st.integers(0, 10_000),
    half_life=st.sampled_from([math.inf, 0.5, 3.0, 40.0]),
    churn=st.sampled_from([0.0, 0.05, 0.5, 0.9]),
)
def test_kernel_with_turnover_equals_the_python_oracle(n, seed, half_life, churn):
    frame = random_bars(n, seed)
    inp = level_inputs(frame)
    fac = level_factors(
        parse_mix("default"), load_tiers("binanceusdm", "BTC/USDT:USDT"), position_notional=5_000.0
    )
    grid = PriceGrid.around(inp.low, inp.high, 37, 0.3)
    tv = Turnover(half_life=half_life, churn=churn)
    run = run_levels(inp, fac, grid, turnover=tv)
    hl, hs, ll, ls = levels_oracle(inp, fac, grid, tv)
    np.testing.assert_allclose(run.heat_long, hl, rtol=1e-5, atol=1e-6 * max(1.0, hl.max()))
    np.testing.assert_allclose(run.heat_short, hs, rtol=1e-5, atol=1e-6 * max(1.0, hs.max()))
    np.testing.assert_allclose(run.liq_long, ll, rtol=1e-9, atol=1e-9 * max(1.0, ll.max()))
    np.testing.assert_allclose(run.liq_short, ls, rtol=1e-9, atol=1e-9 * max(1.0, ls.max()))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(3, 80), seed=st.integers(0, 10_000), data=st.data())
def test_no_look_ahead_with_turnover(n, seed, data):
    t = data.draw(st.integers(0, n - 1))
    frame = random_bars(n, seed)
    tv = Turnover(half_life=5.0, churn=0.2)
    full = _run(frame, tv, "default")
    part = _run(frame.head(t + 1), tv, "default")
    np.testing.assert_array_equal(full.heat_long[t], part.heat_long[t])
    np.testing.assert_array_equal(full.liq_long[: t + 1], part.liq_long)


@pytest.mark.parametrize("kw", [{"half_life": 0.0}, {"half_life": -1.0}, {"churn": 1.0},
                                {"churn": -0.1}])  # fmt: skip
def test_bad_turnover_is_refused(kw):
    with pytest.raises(InputError):
        Turnover(**kw)


def test_lognormal_mix_peaks_at_its_median():
    mix = parse_mix("lognormal:10:0.5")
    assert mix.name == "lognormal:10:0.5"
    assert sum(mix.weight) == pytest.approx(1.0)
    assert mix.leverage[int(np.argmax(mix.weight))] == 10.0
    assert min(mix.weight) >= 0.01
    assert parse_mix("lognormal:1000:0.1").leverage == (125.0,)  # outside the family: the nearest


@pytest.mark.parametrize("text", ["lognormal:10", "lognormal:x:1", "lognormal:10:0",
                                  "lognormal:0.5:1"])  # fmt: skip
def test_bad_lognormal_mix_names_the_forms(text):
    with pytest.raises(InputError, match="lognormal:MEDIAN:SPREAD"):
        parse_mix(text)
