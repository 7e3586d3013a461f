"""compute_features equals the plain pandas definitions (``features.oracle``), column by column,
on random data with gaps and on real recorded data; plus API shape and error checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest

from oiradar.config import FeatureSettings, Settings
from oiradar.errors import InputError
from oiradar.features import (
    BOOL_FEATURES,
    FEATURE_COLUMNS,
    compute_features,
    oracle,
    regular_grid,
    to_pandas,
    windows,
)
from oiradar.model import HOUR_MS, Timeframe
from tests.conftest import shared_file

SMALL = FeatureSettings(
    z_window="3d", chg_window="1d", turnover_window="12h", peak_window="2d", vol_window="2d",
    new_high_bars=5, atr_bars=7,
)  # fmt: skip


def assert_matches_oracle(bars: pl.DataFrame, tf: Timeframe, fs: FeatureSettings) -> pl.DataFrame:
    ours = compute_features(bars, tf, fs)
    grid = regular_grid(bars, tf).to_pandas()
    for col in ("quote_volume", "oi", "oi_value"):
        if col not in grid:
            grid[col] = np.nan
    expected = oracle.features(grid.astype({c: float for c in ("oi", "quote_volume", "oi_value")}),
                            windows(tf, fs), fs.near_pct, fs.rejection_rules, fs.min_coverage)  # fmt: skip
    for col in FEATURE_COLUMNS:
        got = ours[col].cast(pl.Float64).to_numpy()
        exp = expected[col].to_numpy(dtype=float)
        # pandas' rolling std leaves ~1e-8 of the level on flat windows; ours is exactly 0
        atol = (
            1e-7 * float(np.abs(grid["oi"]).max())
            if col == "oi_sd_30d" and grid["oi"].notna().any()
            else 1e-9
        )
        np.testing.assert_allclose(got, exp, rtol=1e-8, atol=atol, equal_nan=True, err_msg=col)
    return ours


CASES = [
    # 30d = 8640 bars, 10 % of them may be missing
    (Timeframe.M5, FeatureSettings(min_coverage=0.9)),
    (
        Timeframe.M5,
        FeatureSettings(
            z_window="6h", chg_window="2h", turnover_window="1h", peak_window="3h", vol_window="4h"
        ),
    ),
    (Timeframe.H1, FeatureSettings()),
    (Timeframe.H4, FeatureSettings()),
    (Timeframe.H4, SMALL),
    (Timeframe.H4, SMALL.model_copy(update={"min_coverage": 0.5})),
    (
        Timeframe.D1,
        FeatureSettings(z_window="20d", chg_window="3d", peak_window="5d", vol_window="10d"),
    ),
]


@pytest.mark.parametrize(("tf", "fs"), CASES)
@pytest.mark.parametrize("gaps", [0.0, 0.03])
def test_random_bars_with_gaps_match_pandas(
    tf: Timeframe, fs: FeatureSettings, gaps: float
) -> None:
    step = tf.ms
    m = 10_000 if tf is Timeframe.M5 else max(1_500, 3 * windows(tf, fs)["z"])
    # holes rare enough that strict windows (coverage 1) still fill now and then
    thin = 1.0 if fs.min_coverage < 1 else min(1.0, 20 / windows(tf, fs)["z"])
    seed = len(tf) + int(gaps * 100)
    bars = oracle.random_bars(m, step, seed=seed, gaps=gaps * thin, null_oi=0.01 * thin)
    ours = assert_matches_oracle(bars, tf, fs)
    # the comparison means something: every feature has values, booleans are both True and False
    for col in FEATURE_COLUMNS:
        assert ours[col].drop_nulls().len() > 0, col
    for col in BOOL_FEATURES:
        assert ours[col].sum() > 0 and (~ours[col]).sum() > 0, col


def test_missing_bars_become_null_rows_and_break_windows() -> None:
    bars = oracle.random_bars(200, HOUR_MS, seed=3)
    gappy = bars.filter(pl.col("ts") != bars["ts"][100])
    out = compute_features(gappy, Timeframe.H1, SMALL)
    assert out.height == 200
    row = out.filter(pl.col("ts") == bars["ts"][100])
    assert row["complete"].to_list() == [False] and row["oi"].is_null().all()
    # 72 bars: missing again until the window is full after the gap
    n = windows(Timeframe.H1, SMALL)["z"]
    z = out["oi_ma_30d"]
    assert z[99] is not None and z[100 : 100 + n].is_null().all() and z[100 + n] is not None


def test_null_oi_cells_and_zero_denominators() -> None:
    bars = oracle.random_bars(300, HOUR_MS, seed=4).with_columns(
        pl.when(pl.int_range(pl.len()) == 150).then(0.0).otherwise(pl.col("oi")).alias("oi")
    )
    out = assert_matches_oracle(bars, Timeframe.H1, SMALL)
    lag = windows(Timeframe.H1, SMALL)["chg"]
    assert out["oi_chg_7d"][150 + lag] is None  # a zero base is missing, never inf


def test_to_pandas_has_a_utc_index_and_settings_apply() -> None:
    bars = oracle.random_bars(100, HOUR_MS, seed=5)
    out = compute_features(bars, Timeframe.H1, Settings(features=SMALL))
    pdf = to_pandas(out)
    assert str(pdf.index.tz) == "UTC" and pdf.index[0] == pd.Timestamp(
        bars["ts"][0], unit="ms", tz="UTC"
    )
    assert list(out.columns[-len(FEATURE_COLUMNS) :]) == list(FEATURE_COLUMNS)


def test_bad_input_is_named() -> None:
    bars = oracle.random_bars(10, HOUR_MS, seed=6)
    with pytest.raises(InputError, match="not aligned") as exc:
        compute_features(bars.with_columns(pl.col("ts") + 1), Timeframe.H1)
    assert exc.value.column == "ts"
    with pytest.raises(InputError, match="duplicate"):
        compute_features(pl.concat([bars, bars.tail(1)]), Timeframe.H1)
    with pytest.raises(InputError, match="close"):
        compute_features(bars.drop("close"), Timeframe.H1)
    with pytest.raises(InputError, match="rejection rule"):
        compute_features(bars, Timeframe.H1, FeatureSettings(rejection_rules=("wik",)))


# ---------------------------------------------------------------- real recorded data


def _binance_btc_4h() -> pl.DataFrame:
    """Binance BTCUSDT 4h candles + 1h OI history; an OI snapshot stamped T belongs to the bar
    closing at T, so the 4h bar opening at t takes the snapshot stamped t + 4h."""
    candles = json.loads(shared_file("btc_1h_oi_binance", "candles_4h.json").read_text())
    oi = json.loads(shared_file("btc_1h_oi_binance", "open_interest.json").read_text())
    bars = pl.DataFrame(candles).select(
        pl.col("openTime").cast(pl.Int64).alias("ts"),
        *[pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume")],
    )
    snaps = pl.DataFrame(oi).select(
        (pl.col("time").cast(pl.Int64) - 4 * HOUR_MS).alias("ts"),
        pl.col("openInterest").cast(pl.Float64).alias("oi"),
        pl.col("openInterestValue").cast(pl.Float64).alias("oi_value"),
    )
    return bars.join(snaps, on="ts", how="left")


@pytest.mark.parametrize("fs", [SMALL, FeatureSettings(z_window="5d", chg_window="2d")])
def test_real_binance_btc_4h_oi(fs: FeatureSettings) -> None:
    bars = _binance_btc_4h()
    assert bars["oi"].drop_nulls().len() > 100
    out = assert_matches_oracle(bars, Timeframe.H4, fs)
    assert out["oi_z_30d"].drop_nulls().len() > 50


def test_real_freqtrade_xrp_5m() -> None:
    df = pd.read_feather(shared_file("freqtrade_xrp_futures", "XRP_USDT_USDT-5m-futures.feather"))
    bars = pl.from_pandas(df).select(
        pl.col("date").dt.epoch("ms").alias("ts"), "open", "high", "low", "close", "volume"
    )
    fs = FeatureSettings(peak_window="4h", vol_window="1d", turnover_window="1h")
    out = assert_matches_oracle(bars, Timeframe.M5, fs)
    assert out["atr_14"].drop_nulls().len() > 1900 and out["rejection"].sum() > 10


@pytest.mark.parametrize("fs", [FeatureSettings(), SMALL])
def test_real_bybit_ksm_daily(fs: FeatureSettings) -> None:
    df = pl.read_csv(shared_file("prices", "bybit_linear_KSMUSDT_1d.csv"))
    # the recorded file repeats 2023-02-18 (two identical rows): a clear error, then de-duplicate
    with pytest.raises(InputError, match="duplicate") as exc:
        compute_features(df.rename({"timestamp": "ts"}), Timeframe.D1)
    assert (exc.value.column, exc.value.value) == ("ts", 1676678400000)
    df = df.unique("timestamp", keep="first", maintain_order=True)
    bars = df.select(
        pl.col("timestamp").cast(pl.Int64).alias("ts"), "open", "high", "low", "close", "volume",
        pl.col("turnover").alias("quote_volume"),
    )  # fmt: skip
    out = assert_matches_oracle(bars, Timeframe.D1, fs)
    assert out["vol_ma_20d"].drop_nulls().len() > 1000
