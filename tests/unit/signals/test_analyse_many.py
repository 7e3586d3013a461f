"""``analyse_many`` (one fused parallel kernel pass, events listed by numba) equals the per-series
path: ``compute_features`` then ``detect_signals``, series by series, rows put in order by a plain
polars string sort. Enough rows to take the parallel path, gaps, per-symbol settings, and keys
whose order differs from their sorted order."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from oiradar.config import Settings
from oiradar.features import PARALLEL_MIN_ROWS, compute_features, oracle
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import analyse_many, detect_signals

FAST = {
    "features": {"z_window": "2d", "chg_window": "12h", "turnover_window": "6h",
                 "peak_window": "1d", "vol_window": "2d", "new_high_bars": 5, "atr_bars": 5},
    "signals": {"oi_z_alert": 1.5, "watch_chg_7d": 0.02, "divergence_dd": 0.03},
}  # fmt: skip


def _settings(long_side: bool, z: float) -> Settings:
    data = {k: dict(v) for k, v in FAST.items()}
    data["signals"].update(long_side=long_side, oi_z_alert=z)
    return Settings.model_validate(data)


@pytest.mark.parametrize("explain", [False, True])
@pytest.mark.parametrize("rows", [3_000, 80_000])  # serial and parallel paths
def test_analyse_many_equals_the_per_series_path(rows: int, explain: bool) -> None:
    keys = [
        SeriesKey(exchange="okx", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1),
        SeriesKey(exchange="binance", symbol="ETH/USDT:USDT", timeframe=Timeframe.H1),
        SeriesKey(exchange="binance", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1),
    ]
    bars = [
        oracle.random_bars(rows, HOUR_MS, seed=7, gaps=0.01, null_oi=0.001),
        oracle.random_bars(rows - 500, HOUR_MS, seed=8, start_ms=1_700_006_400_000 + 300 * HOUR_MS),
        oracle.random_bars(rows, HOUR_MS, seed=9, gaps=0.02),
    ]
    settings = [_settings(True, 1.5), _settings(False, 1.2), _settings(True, 2.0)]
    assert (3 * rows >= PARALLEL_MIN_ROWS) == (rows == 80_000)
    frames, events = analyse_many(bars, keys, settings, explain=explain)
    expected = []
    for b, k, s, got in zip(bars, keys, settings, frames, strict=True):
        feats = compute_features(b, Timeframe.H1, s)
        assert_frame_equal(got, feats)
        expected.append(detect_signals(feats, k, s))
    want = pl.concat(expected).sort(["ts", "exchange", "symbol", "signal", "side"])
    if not explain:
        want = want.with_columns(pl.lit(None, pl.String).alias("why"))
    assert events.height > 100
    assert set(events["signal"]) >= {"oi_extreme", "watch", "entry"}
    assert_frame_equal(events, want)


def test_results_do_not_share_the_reused_scratch_memory() -> None:
    """The input and feature matrices are pooled between calls: a later call must not change
    what an earlier one returned (the frames and events are copies)."""
    key = [SeriesKey(exchange="okx", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)]
    s = [_settings(True, 1.5)]
    a = oracle.random_bars(5_000, HOUR_MS, seed=1, null_quote=0.0)
    want = compute_features(a, Timeframe.H1, s[0])
    want_events = detect_signals(want, key[0], s[0])
    frames, events = analyse_many([a], key, s)
    analyse_many([oracle.random_bars(5_000, HOUR_MS, seed=2, null_quote=0.0)], key, s)
    assert_frame_equal(frames[0], want)  # polars may share a numpy buffer: not a clone
    assert_frame_equal(events, want_events)
