"""The level model: hand-made cases, the plain-Python oracle, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oiradar.errors import InputError
from oiradar.liquidations.levels import (
    PriceGrid,
    level_factors,
    level_inputs,
    levels_oracle,
    parse_mix,
    run_levels,
)
from oiradar.liquidations.prices import liq_price_linear
from oiradar.liquidations.tiers import load_tiers

from .helpers import bars, flat_tiers, random_bars


def _run(frame, mix="10:1", grid=None, **kw):
    inp = level_inputs(frame)
    fac = level_factors(parse_mix(mix), flat_tiers(), position_notional=1_000.0)
    grid = grid or PriceGrid(50.0, 150.0, 100)
    return inp, fac, grid, run_levels(inp, fac, grid, **kw)


def test_worked_example_create_reduce_consume():
    """Bar 1: OI +100 at VWAP 100 with 60 % taker buys, 10x: 60 long at LP = 100 x 0.9 / 0.995 and
    40 short at 100 x 1.1 / 1.005. Bar 2: OI falls by half: every level halves. Bar 3: the low
    touches the long level: 30 x LP is estimated liquidated; the short level stays."""
    lp_long = float(liq_price_linear(1, 100.0, 10, 0.005))
    lp_short = float(liq_price_linear(-1, 100.0, 10, 0.005))
    frame = bars(
        open_=[100, 100, 100, 95],
        high=[101, 101, 101, 96],
        low=[99, 99, 99, lp_long - 0.5],
        close=[100, 100, 100, 95],
        oi=[1000, 1100, 550, 550],
        taker=[0.5, 0.6, 0.5, 0.5],
    )
    _, _, grid, run = _run(frame)
    b_long, b_short = grid.bin_of(np.array([lp_long, lp_short]))
    assert run.heat_long[1, b_long] == pytest.approx(60 * lp_long, rel=1e-6)
    assert run.heat_short[1, b_short] == pytest.approx(40 * lp_short, rel=1e-6)
    # the fall of 550 is half of the 1,100 open: levels halve
    assert run.heat_long[2, b_long] == pytest.approx(30 * lp_long, rel=1e-6)
    assert run.liq_long[3] == pytest.approx(30 * lp_long)
    assert run.heat_long[3].sum() == 0.0
    assert run.heat_short[3, b_short] == pytest.approx(20 * lp_short, rel=1e-6)
    assert run.liq_short.sum() == 0.0


def test_liquidations_explain_part_of_an_oi_fall():
    """When the bar's modelled liquidations (30 base) match the OI fall (30), nothing else closes."""
    lp = float(liq_price_linear(1, 100.0, 10, 0.005))
    frame = bars(
        open_=[100] * 4,
        high=[101] * 4,
        low=[99, 99, 99, lp - 0.1],
        close=[100, 100, 100, 92],
        oi=[1000, 1100, 1100, 1070],
        taker=[0.5, 0.3, 0.5, 0.5],
    )
    _, _, grid, run = _run(frame)
    b = grid.bin_of(np.array([float(liq_price_linear(-1, 100.0, 10, 0.005))]))[0]
    assert run.liq_long[3] == pytest.approx(30 * lp)
    assert run.heat_short[3, b] == pytest.approx(run.heat_short[2, b], rel=1e-6)


def test_candle_colour_fallback_and_vwap_fallback():
    frame = bars([100, 100, 100], [102, 102, 102], [98, 98, 98], [100, 101, 99], [10, 20, 30]).drop(
        "quote_volume"
    )
    inp = level_inputs(frame, colour_long_share=0.7)
    assert list(inp.long_share) == pytest.approx([0.5, 0.7, 0.3])
    assert not inp.share_from_taker.any()
    assert inp.vwap[1] == pytest.approx((102 + 98 + 101) / 3)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 60),
    seed=st.integers(0, 10_000),
    mix=st.sampled_from(["default", "10:1", "2:0.5,50:0.5"]),
)
def test_kernel_equals_the_python_oracle(n, seed, mix):
    frame = random_bars(n, seed)
    inp = level_inputs(frame)
    fac = level_factors(
        parse_mix(mix), load_tiers("binanceusdm", "BTC/USDT:USDT"), position_notional=5_000.0
    )
    grid = PriceGrid.around(inp.low, inp.high, 37, 0.3)
    run = run_levels(inp, fac, grid)
    hl, hs, ll, ls = levels_oracle(inp, fac, grid)
    np.testing.assert_allclose(run.heat_long, hl, rtol=1e-5, atol=1e-6 * max(1.0, hl.max()))
    np.testing.assert_allclose(run.heat_short, hs, rtol=1e-5, atol=1e-6 * max(1.0, hs.max()))
    np.testing.assert_allclose(run.liq_long, ll, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(run.liq_short, ls, rtol=1e-9, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(3, 80), seed=st.integers(0, 10_000), data=st.data())
def test_no_look_ahead(n, seed, data):
    """The map after bar t computed on bars[:t+1] equals the one computed on the whole history."""
    t = data.draw(st.integers(0, n - 1))
    frame = random_bars(n, seed)
    grid = PriceGrid(60.0, 160.0, 64)
    full = _run(frame, "default", grid)[3]
    part = _run(frame.head(t + 1), "default", grid)[3]
    np.testing.assert_array_equal(full.heat_long[t], part.heat_long[t])
    np.testing.assert_array_equal(full.heat_short[t], part.heat_short[t])
    np.testing.assert_array_equal(full.liq_long[: t + 1], part.liq_long)


def test_record_every_keeps_the_last_bar_of_each_block():
    frame = random_bars(50, 3)
    _, _, _, every = _run(frame, "default")
    _, _, _, sparse = _run(frame, "default", record_every=7)
    assert sparse.heat_long.shape[0] == 8
    np.testing.assert_array_equal(sparse.heat_long, every.heat_long[sparse.row_bar])
    assert sparse.row_bar[-1] == 49


def test_levels_outside_the_grid_still_count_as_liquidated():
    frame = random_bars(80, 5, nan_oi=False)
    _, _, _, narrow = _run(frame, "default", PriceGrid(99.0, 101.0, 4))
    _, _, _, wide = _run(frame, "default", PriceGrid(1.0, 1000.0, 4))
    np.testing.assert_allclose(narrow.liq_long, wide.liq_long)
    assert narrow.liq_bin_long.sum() < wide.liq_bin_long.sum()


def test_leverage_capped_at_the_venues_maximum():
    """KSM allows 50x in its first bracket: a 100x assumption becomes 50x."""
    f = level_factors(
        parse_mix("100:1"), load_tiers("binanceusdm", "KSM/USDT:USDT"), position_notional=1_000.0
    )
    assert list(f.leverage) == [50.0]
    assert list(f.requested) == [100.0]


def test_mix_parsing_and_errors():
    m = parse_mix("5:1,10:3")
    assert m.leverage == (5.0, 10.0)
    assert m.weight == pytest.approx((0.25, 0.75))
    assert parse_mix("clustered10x").leverage == (10.0,)
    with pytest.raises(InputError, match="preset"):
        parse_mix("tenx")
    with pytest.raises(InputError, match=">= 1"):
        parse_mix("0.5:1")


def test_missing_columns_are_named():
    with pytest.raises(InputError, match="oi"):
        level_inputs(random_bars(5, 1).drop("oi"))
