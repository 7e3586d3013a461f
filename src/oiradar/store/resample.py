"""Resampling bars to a coarser timeframe (SPEC section 1).

OI is a stock: the bar takes the **last** non-null value of its sub-bars (the snapshot at the
close). Volumes and funding are flows: summed (null when every sub-bar is null). OHLC as usual.
A resampled bar whose sub-bars are not all present is kept but marked ``complete = False`` and is
not used for signals.

**Close-only sub-bars** (a close and no open/high/low: a mark price, a close-only price file) are
read as one price each: the bar's open/high/low/close are the first/max/min/last of those closes,
and ``ohlc_from_close`` is True on every bar built from at least one of them (decision 0705).
A stored view (no resampling) never builds OHLC: its close-only bars keep open/high/low empty.

Oracle (pandas, ``df`` indexed by open time)::

    df.resample("4h", label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
         "oi": "last", "funding_rate": "sum", ...})

and for close-only sub-bars ``df["close"].resample("4h").agg(["first", "max", "min", "last"])``.
"""

from __future__ import annotations

import polars as pl

from oiradar.errors import InputError
from oiradar.model import BAR_SCHEMA, Timeframe, conform_bars

_FLOWS = ("volume", "quote_volume", "taker_buy_volume", "funding_rate")
_STOCKS = ("oi", "oi_value", "oi_raw", "long_short_ratio", "close")
FROM_CLOSE = "ohlc_from_close"  # True: the bar's open/high/low come from closes of sub-bars
_CLOSE_ONLY = (
    pl.col("open").is_null() & pl.col("high").is_null() & pl.col("low").is_null()
    & pl.col("close").is_not_null()
)  # fmt: skip


def _sum_or_null(c: str) -> pl.Expr:
    return pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).otherwise(None).alias(c)


def resample_bars(frame: pl.DataFrame, source_tf: Timeframe, target_tf: Timeframe) -> pl.DataFrame:
    """Aggregate ``frame`` (bars of ``source_tf``) into ``target_tf`` bars with a ``complete`` flag."""
    if target_tf.ms % source_tf.ms or target_tf.ms < source_tf.ms:
        raise InputError(f"cannot resample {source_tf.value} bars to {target_tf.value}")
    frame = conform_bars(frame.select([c for c in frame.columns if c in BAR_SCHEMA]))
    if target_tf == source_tf:
        return frame.with_columns(pl.lit(True).alias("complete"), pl.lit(False).alias(FROM_CLOSE))
    per_bar = target_tf.ms // source_tf.ms
    stocks = [pl.col(c).drop_nulls().last().alias(c) for c in _STOCKS]
    out = (
        frame.sort("ts")
        .with_columns(
            (pl.col("ts") - pl.col("ts") % target_tf.ms).alias("_bucket"),
            _CLOSE_ONLY.alias("_co"),
            *[pl.coalesce(c, "close").alias(c) for c in ("open", "high", "low")],
        )
        .group_by("_bucket", maintain_order=True)
        .agg(
            pl.col("open").drop_nulls().first().alias("open"),
            pl.col("high").max().alias("high"),
            pl.col("low").min().alias("low"),
            *stocks,
            *[_sum_or_null(c) for c in _FLOWS],
            pl.col("oi_unit").drop_nulls().last().alias("oi_unit"),
            pl.col("quote_volume_estimated").any().alias("quote_volume_estimated"),
            pl.col("source").drop_nulls().last().alias("source"),
            pl.col("ingested_at").max().alias("ingested_at"),
            (pl.len() == per_bar).alias("complete"),
            pl.col("_co").any().alias(FROM_CLOSE),
        )
        .rename({"_bucket": "ts"})
    )
    return conform_bars(out).with_columns(out["complete"], out[FROM_CLOSE])
