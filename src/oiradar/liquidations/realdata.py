"""Real recordings for the score: Binance BTCUSDT ``forceOrder`` with its OI and price polls.

The recorder of ``../shared/data/liquidations`` polled the price (every ~2 s) and the open
interest (irregularly) beside the liquidation stream, with naive times in IST (+05:30). The
catalog importer keeps the OI polls but, rightly, skips the price polls (a poll series is no
OHLC). For the score we do need prices, so :func:`poll_bars` builds short bars from both polls:
OHLC from the price polls inside each bar, ``oi`` = the last OI poll stamped in
``(bar open, bar close]`` (a stock, known at the close; an absent poll stays missing).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from oiradar.errors import InputError

IST = "Asia/Kolkata"


def _read_polls(path: Path, column: str) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False)
    if "Datetime" not in raw.columns or column not in raw.columns:
        raise InputError(f"{path}: expected columns Datetime,{column}", file=str(path))
    return (
        raw.select(
            pl.col("Datetime")
            .str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone=IST)
            .dt.epoch("ms")
            .alias("t"),
            pl.col(column).cast(pl.Float64).alias("v"),
        )
        .drop_nulls()
        .sort("t")
    )


def poll_bars(price_csv: Path, oi_csv: Path, bar_ms: int = 60_000) -> pl.DataFrame:
    """Bars of ``bar_ms`` from price polls (OHLC) and OI polls (last poll in ``(open, close]``)."""
    px = _read_polls(price_csv, "Price").with_columns(
        (pl.col("t") - pl.col("t") % bar_ms).alias("ts")
    )
    ohlc = px.group_by("ts").agg(
        pl.col("v").first().alias("open"), pl.col("v").max().alias("high"),
        pl.col("v").min().alias("low"), pl.col("v").last().alias("close"),
    )  # fmt: skip
    oi = _read_polls(oi_csv, "Open Interest")
    # a poll at exactly a bar's close belongs to that bar: shift by one ms before flooring
    oi = oi.with_columns(((pl.col("t") - 1) - (pl.col("t") - 1) % bar_ms).alias("ts"))
    oi = oi.group_by("ts").agg(pl.col("v").last().alias("oi"))
    return ohlc.join(oi, on="ts", how="left").sort("ts")
