"""The simulator's invariants, checked against its own ground truth.

- OI at every bar close equals the sum of open long quantities, and of open short quantities;
- every liquidation fills at its position's liquidation price, recomputed with
  ``liq_price_linear``, inside its bar's range; no position outlives a touch of its liq price;
- bars are internally consistent; funding settles at 00:00, 08:00 and 16:00 UTC only.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.liquidations.prices import liq_price_linear
from oiradar.model import BAR_SCHEMA, HOUR_MS, LIQUIDATION_SCHEMA, LONG, SHORT, Side
from oiradar.sim import SimResult


def open_qty_at(pos: pl.DataFrame, side: str, t: np.ndarray) -> np.ndarray:
    """Sum of qty of ``side`` positions open at each instant t: entry_ts < t <= exit_ts (or open)."""
    p = pos.filter(pl.col("side") == side)
    entry = p["entry_ts"].to_numpy()
    qty = p["qty"].to_numpy()
    order = np.argsort(entry, kind="stable")
    entered = np.concatenate([[0.0], np.cumsum(qty[order])])[
        np.searchsorted(entry[order], t, "left")
    ]
    closed = p.filter(pl.col("exit_ts").is_not_null())
    ex = closed["exit_ts"].to_numpy()
    eq = closed["qty"].to_numpy()
    o2 = np.argsort(ex, kind="stable")
    exited = np.concatenate([[0.0], np.cumsum(eq[o2])])[np.searchsorted(ex[o2], t, "left")]
    return entered - exited


def bar_index(res: SimResult, ts: np.ndarray) -> np.ndarray:
    return (ts - res.params["start"]) // res.timeframe.ms


@pytest.mark.parametrize("fixture", ["ksm_small", "btc_small"])
def test_oi_equals_open_positions_at_every_bar_close(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    res: SimResult = request.getfixturevalue(fixture)
    close_t = res.bars["ts"].to_numpy() + res.timeframe.ms
    longs = open_qty_at(res.positions, "long", close_t)
    shorts = open_qty_at(res.positions, "short", close_t)
    oi = res.bars["oi"].to_numpy()
    if fixture == "ksm_small":  # integer lots: sums are exact
        assert np.array_equal(oi, longs) and np.array_equal(oi, shorts)
    else:
        np.testing.assert_allclose(oi, longs, rtol=1e-9)
        np.testing.assert_allclose(oi, shorts, rtol=1e-9)
    assert oi.min() > 0


@pytest.mark.parametrize("fixture", ["ksm_small", "btc_small"])
def test_every_liquidation_fills_at_its_positions_liquidation_price(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    res: SimResult = request.getfixturevalue(fixture)
    liq, pos = res.liquidations, res.positions
    assert liq.filter(pl.col("side") == "long").height > 0
    assert liq.filter(pl.col("side") == "short").height > 0
    dead = pos.filter(pl.col("exit_reason") == "liquidated")
    joined = liq.join(dead, left_on=["ts", "side"], right_on=["exit_ts", "side"], how="left")
    assert joined.height == liq.height == dead.height  # one position per event, none unlogged
    assert joined["entry_ts"].null_count() == 0
    sign = np.where(joined["side"].to_numpy() == Side.LONG, LONG, SHORT)
    expected = liq_price_linear(
        sign, joined["entry_price"].to_numpy(), joined["leverage"].to_numpy(),
        joined["mmr"].to_numpy(), joined["cum"].to_numpy(), joined["qty"].to_numpy(),
    )  # fmt: skip
    price = joined["price"].to_numpy()
    assert np.array_equal(price, expected)
    assert np.array_equal(price, joined["exit_price"].to_numpy())
    assert np.array_equal(joined["qty"].to_numpy(), joined["qty_right"].to_numpy())
    np.testing.assert_allclose(joined["quote_qty"].to_numpy(), price * joined["qty"].to_numpy())
    # The price path touched it: the fill lies inside its bar's range.
    b = res.bars[bar_index(res, joined["ts"].to_numpy())]
    assert (b["low"].to_numpy() <= price).all() and (price <= b["high"].to_numpy()).all()
    if fixture == "btc_small":
        assert (joined["cum"] > 0).any()  # the tiered case is exercised


def _sparse(a: np.ndarray, op: np.ufunc) -> list[np.ndarray]:
    levels = [a]
    while 2 ** len(levels) <= a.size:
        prev, half = levels[-1], 2 ** (len(levels) - 1)
        levels.append(op(prev[:-half], prev[half:]))
    return levels


def _range_query(
    levels: list[np.ndarray], op: np.ufunc, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """op over a[lo..hi] inclusive (vectorised sparse table; lo <= hi)."""
    k = np.floor(np.log2(hi - lo + 1)).astype(int)
    out = np.empty(lo.size)
    for j in np.unique(k):
        m = k == j
        out[m] = op(levels[j][lo[m]], levels[j][hi[m] - 2**j + 1])
    return out


def test_no_position_survives_a_touch_of_its_liquidation_price(ksm_small: SimResult) -> None:
    """Over the bars strictly between entry and exit, price never reached the liq price."""
    res, pos = ksm_small, ksm_small.positions
    n = res.bars.height
    first = np.maximum(bar_index(res, pos["entry_ts"].to_numpy()) + 1, 0)
    exit_ts = pos["exit_ts"].fill_null(res.params["start"] + n * res.timeframe.ms).to_numpy()
    last = np.minimum(bar_index(res, exit_ts) - 1, n - 1)
    ok = first <= last
    lows = _sparse(res.bars["low"].to_numpy(), np.minimum)
    highs = _sparse(res.bars["high"].to_numpy(), np.maximum)
    liq = pos["liq_price"].to_numpy()[ok]
    is_long = (pos["side"] == "long").to_numpy()[ok]
    lo, hi = first[ok], last[ok]
    assert ok.sum() > 1_000
    assert (_range_query(lows, np.minimum, lo[is_long], hi[is_long]) > liq[is_long]).all()
    assert (_range_query(highs, np.maximum, lo[~is_long], hi[~is_long]) < liq[~is_long]).all()


def test_positions_ground_truth_is_consistent(ksm_small: SimResult) -> None:
    pos = ksm_small.positions
    assert set(pos["exit_reason"].unique()) == {"open", "closed", "liquidated"}
    open_ = pos.filter(pl.col("exit_reason") == "open")
    assert open_["exit_ts"].null_count() == open_.height
    done = pos.filter(pl.col("exit_reason") != "open")
    assert (done["exit_ts"] >= done["entry_ts"]).all()
    sign = np.where(pos["side"].to_numpy() == Side.LONG, LONG, SHORT)
    expected = liq_price_linear(
        sign, pos["entry_price"].to_numpy(), pos["leverage"].to_numpy(), pos["mmr"].to_numpy(),
        pos["cum"].to_numpy(), pos["qty"].to_numpy(),
    )  # fmt: skip
    assert np.array_equal(pos["liq_price"].to_numpy(), expected)
    assert set(pos["leverage"].unique()) == {5.0, 10.0, 25.0, 50.0, 100.0}
    # Leverage brackets: big positions never carry the high tiers.
    big = pos.filter(pl.col("qty") * pl.col("entry_price") > 50_000)
    assert big.height > 0 and big["leverage"].max() <= 10.0


def test_bars_are_consistent(ksm_small: SimResult) -> None:
    b = ksm_small.bars
    assert b.columns == list(BAR_SCHEMA)
    assert (b["source"] == "sim").all() and (b["oi_unit"] == "base").all()
    checks = b.select(
        hi=(pl.col("high") >= pl.max_horizontal("open", "close")).all(),
        lo=(pl.col("low") <= pl.min_horizontal("open", "close")).all(),
    )
    assert checks.row(0) == (True, True)
    assert (b["taker_buy_volume"] >= 0).all()
    assert (b["taker_buy_volume"] <= b["volume"]).all()
    vwap = b["quote_volume"] / b["volume"]
    assert ((vwap >= b["low"] * (1 - 1e-12)) & (vwap <= b["high"] * (1 + 1e-12))).all()
    assert np.array_equal(b["open"][1:].to_numpy(), b["close"][:-1].to_numpy())
    np.testing.assert_allclose(b["oi_value"].to_numpy(), (b["oi"] * b["close"]).to_numpy())
    assert np.all(np.diff(b["ts"].to_numpy()) == ksm_small.timeframe.ms)


def test_funding_settles_every_8h_and_is_capped(ksm_small: SimResult) -> None:
    b = ksm_small.bars
    settled = b.filter(pl.col("funding_rate").is_not_null())
    assert (settled["ts"] % (8 * HOUR_MS) == 0).all()
    assert settled.height == 3 * ksm_small.params["days"]
    assert (settled["funding_rate"].abs() <= 0.0075).all()
    assert settled["funding_rate"].n_unique() > 3  # it follows the premium, not a constant


def test_liquidations_frame_schema(ksm_small: SimResult) -> None:
    liq = ksm_small.liquidations
    assert liq.columns == list(LIQUIDATION_SCHEMA)
    assert set(liq["side"].unique()) <= {"long", "short"}
    assert (liq["source"] == "sim").all() and (liq["exchange"] == "sim").all()
    assert (liq["ts"] >= ksm_small.params["start"]).all()
    assert liq["ts"].is_sorted()
