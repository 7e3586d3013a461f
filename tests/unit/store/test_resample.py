"""Resampling equals an independent pandas computation (SPEC section 1: OI last, flows summed)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest

from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.store import resample_bars
from tests.conftest import shared_file

AGG = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
    "oi": "last",
}


def _pandas_resample(frame: pl.DataFrame, rule: str, cols: dict[str, str]) -> pd.DataFrame:
    pdf = frame.to_pandas()
    pdf.index = pd.to_datetime(pdf["ts"], unit="ms", utc=True)
    out = pdf[list(cols)].resample(rule, label="left", closed="left").agg(cols)
    counts = pdf["ts"].resample(rule, label="left", closed="left").count()
    out = out[counts > 0]
    out["ts"] = out.index.as_unit("ms").asi8.astype("int64")
    return out.reset_index(drop=True)


def _assert_same(ours: pl.DataFrame, theirs: pd.DataFrame, cols: list[str]) -> None:
    assert ours["ts"].to_list() == theirs["ts"].tolist()
    for c in cols:
        np.testing.assert_allclose(
            ours[c].to_numpy().astype(float), theirs[c].to_numpy().astype(float),
            rtol=1e-12, equal_nan=True, err_msg=c,
        )  # fmt: skip


def test_freqtrade_xrp_5m_to_4h_matches_pandas(catalog) -> None:
    raw = pl.read_ipc(shared_file("freqtrade_xrp_futures", "XRP_USDT_USDT-5m-futures.feather"))
    bars = raw.select(
        pl.col("date").dt.epoch("ms").alias("ts"), "open", "high", "low", "close", "volume"
    )
    key = SeriesKey(exchange="binanceusdm", symbol="XRP/USDT:USDT", timeframe=Timeframe.M5)
    catalog.write_bars(key, bars)
    ours = catalog.read_bars(key.with_timeframe(Timeframe.H4))  # resampled transparently
    cols = ["open", "high", "low", "close", "volume"]
    theirs = _pandas_resample(bars, "4h", {c: AGG[c] for c in cols})
    _assert_same(ours, theirs, cols)
    # Incomplete buckets are flagged: exactly those with fewer than 48 five-minute bars.
    sizes = bars.group_by(pl.col("ts") // (4 * HOUR_MS)).len().sort("ts")["len"]
    assert ours["complete"].to_list() == (sizes == 48).to_list()


def test_binance_btc_1h_oi_to_4h_takes_last_snapshot(catalog) -> None:
    rows = json.loads(shared_file("btc_1h_oi_binance", "open_interest.json").read_text())
    # A snapshot stamped T belongs to the bar that closes at T: bar open = T - 1h.
    bars = pl.DataFrame(
        {
            "ts": [r["time"] - HOUR_MS for r in rows],
            "oi": [float(r["openInterest"]) for r in rows],
            "oi_value": [float(r["openInterestValue"]) for r in rows],
        }
    )
    key = SeriesKey(exchange="binanceusdm", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)
    catalog.write_bars(key, bars)
    ours = catalog.read_bars(key.with_timeframe(Timeframe.H4))
    theirs = _pandas_resample(bars, "4h", {"oi": "last", "oi_value": "last"})
    _assert_same(ours, theirs, ["oi", "oi_value"])
    # Last, not mean: a 4h bar's OI is the snapshot at its close.
    first_full = ours.filter(pl.col("complete")).row(0, named=True)
    close_ts = first_full["ts"] + 3 * HOUR_MS
    assert first_full["oi"] == bars.filter(pl.col("ts") == close_ts)["oi"][0]


def test_flows_sum_and_all_null_stays_null() -> None:
    ts = np.arange(8) * 15 * 60_000
    frame = pl.DataFrame(
        {
            "ts": ts,
            "open": np.arange(8.0) + 1,
            "high": np.arange(8.0) + 2,
            "low": np.arange(8.0),
            "close": np.arange(8.0) + 1.5,
            "volume": np.ones(8),
            "funding_rate": [None, 0.0001, None, None, None, None, None, None],
            "oi": [1.0, 2.0, 3.0, None, 5.0, 6.0, 7.0, 8.0],
        }
    )
    out = resample_bars(frame, Timeframe.M15, Timeframe.H1)
    assert out["volume"].to_list() == [4.0, 4.0]
    assert out["funding_rate"].to_list() == [0.0001, None]
    assert out["oi"].to_list() == [3.0, 8.0]  # last non-null snapshot
    assert out["open"].to_list() == [1.0, 5.0]
    assert out["complete"].to_list() == [True, True]


def test_refuses_upsampling() -> None:
    from oiradar.errors import InputError

    with pytest.raises(InputError):
        resample_bars(pl.DataFrame({"ts": [0]}), Timeframe.H1, Timeframe.M5)
