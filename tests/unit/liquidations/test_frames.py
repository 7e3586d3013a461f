"""Frame wrappers: heatmap and estimates frames, price borrowing, realized per bar."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.liquidations.heatmap import MapSpec, build_heatmap, estimates_frame, heatmap_frame
from oiradar.liquidations.levels import parse_mix
from oiradar.liquidations.mapview import realized_per_bar, with_prices

from .helpers import random_bars


def test_heatmap_frame_matches_the_arrays_and_is_labelled_estimated():
    bars = random_bars(40, 9, nan_oi=False)
    spec = MapSpec(
        exchange="binanceusdm", symbol="BTC/USDT:USDT", mix=parse_mix("default"), bins=50
    )
    run = build_heatmap(bars, spec)
    frame = heatmap_frame(run, last_rows=1, nonzero=False)
    assert frame.height == 50
    assert frame["long_usd"].sum() == pytest.approx(float(run.heat_long[-1].sum()), rel=1e-6)
    assert set(frame["kind"]) == {"estimated"}
    assert (frame["price_hi"] > frame["price_lo"]).all()
    est = estimates_frame(run)
    assert est["est_liq_long_usd"].to_numpy() == pytest.approx(run.liq_long)
    assert set(est["kind"]) == {"estimated"}


def test_with_prices_fills_ohlc_and_derives_base_oi_from_usd():
    oi_bars = pl.DataFrame({"ts": [0, 1, 2], "open": [None] * 3, "high": [None] * 3, "low": [None] * 3,
                            "close": [None] * 3, "oi": [None] * 3, "oi_value": [100.0, 200.0, 300.0]},
                           schema_overrides={c: pl.Float64 for c in ("open", "high", "low", "close", "oi")})  # fmt: skip
    px = pl.DataFrame({"ts": [1, 2, 3], "open": [9.0, 10.0, 11.0], "high": [11.0, 12.0, 13.0],
                       "low": [8.0, 9.0, 10.0], "close": [10.0, 20.0, 30.0]})  # fmt: skip
    out = with_prices(oi_bars, px)
    assert out["ts"].to_list() == [1, 2]
    assert out["oi"].to_list() == [20.0, 15.0]
    assert out["high"].to_list() == [11.0, 12.0]


def test_realized_per_bar_sums_by_side_and_marks_bars_outside_the_record():
    liqs = pl.DataFrame({"ts": [5, 7, 15, 25], "side": ["long", "long", "short", "long"],
                         "quote_qty": [1.0, 2.0, 4.0, 8.0]})  # fmt: skip
    out = realized_per_bar(liqs, np.array([0, 10, 20, 30], np.int64), 10)
    assert out["long"][:3].tolist() == [3.0, 0.0, 8.0]
    assert out["short"][:3].tolist() == [0.0, 4.0, 0.0]
    assert np.isnan(out["long"][3])
