"""The score on the real recordings in ../shared/data (skips cleanly when they are absent)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.liquidations.heatmap import MapSpec
from oiradar.liquidations.levels import parse_mix
from oiradar.liquidations.mapview import score_mixes, score_time_mixes, with_prices
from oiradar.liquidations.realdata import poll_bars
from oiradar.model import DAY_MS, SeriesKey, Timeframe

from ...conftest import shared_file


@pytest.fixture(scope="module")
def daily_catalog(tmp_path_factory):
    from oiradar.sources import import_paths
    from oiradar.store import Catalog

    folder = shared_file("btc_daily_multivenue")
    cat = Catalog(tmp_path_factory.mktemp("daily"))
    import_paths([folder], cat)
    return cat


def test_coinalyze_daily_score_is_computed_per_side(daily_catalog):
    """Coinalyze daily liquidations (no prices): the by-time score over 545 days, with the
    adverse-move baseline beside it. Whatever the numbers, they are finite and bracketed."""
    cat = daily_catalog
    px = cat.read_bars(SeriesKey(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.D1))
    key = SeriesKey(exchange="binanceusdm", symbol="BTC/USDT:USDT", timeframe=Timeframe.D1)
    bars = with_prices(cat.read_bars(key), px)
    liqs = cat.read_liquidations(key.exchange, key.symbol).filter(
        pl.col("ts") < bars["ts"][-1] + DAY_MS
    )
    spec = MapSpec(exchange=key.exchange, symbol=key.symbol, mix=parse_mix("default"))
    out = score_time_mixes(bars, liqs, spec, DAY_MS, n_boot=200)
    assert set(out["mix"]) == {"default", "clustered10x", "conservative", "baseline"}
    d = out.filter((pl.col("mix") == "default") & (pl.col("side") == "long")).row(0, named=True)
    assert d["events"] == bars.height == 545
    assert d["chance"] == pytest.approx(0.25, abs=0.01)
    assert d["score_lo"] <= d["score"] <= d["score_hi"]
    assert np.isfinite(d["rank_corr"])


def test_forceorder_window_poll_bars_and_score():
    """Binance BTCUSDT forceOrder: the OI polls overlap the price polls for about 30 minutes
    (2024-12-13 19:39 .. 20:08 UTC); the score is computed on the liquidations inside the bars."""
    from oiradar.sources import import_paths
    from oiradar.store import Catalog

    price = shared_file("liquidations", "binance_btcusdt_btc_price_history.csv")
    oi = shared_file("liquidations", "binance_btcusdt_open_interest_history.csv")
    bars = poll_bars(price, oi, 60_000)
    assert int(bars["ts"][0]) == 1734111540000  # 2024-12-13 23:09:52 IST = 17:39:52 UTC
    assert bars["oi"].drop_nulls().len() == 30
    assert (bars["low"] <= bars["high"]).all()
    import tempfile

    cat = Catalog(tempfile.mkdtemp())
    import_paths([shared_file("liquidations", "binance_btcusdt_liquidation_orders_history.csv"),
                  shared_file("liquidations", "binance_btcusdt_liquidation_orders.csv")], cat)  # fmt: skip
    liqs = cat.read_liquidations("binanceusdm", "BTC/USDT:USDT")
    liqs = liqs.filter(
        pl.col("ts").is_between(bars["ts"][0], bars["ts"][-1] + 60_000, closed="left")
    )
    spec = MapSpec(
        exchange="binanceusdm", symbol="BTC/USDT:USDT", mix=parse_mix("default"), bins=2000
    )
    out = score_mixes(bars, liqs, spec, 60_000, n_boot=200, block_ms=300_000)
    row = out.filter((pl.col("mix") == "default") & (pl.col("side") == "all")).row(0, named=True)
    assert row["events"] == liqs.height == 39
