"""Resampling bars to a coarser timeframe (SPEC section 1).

OI is a stock: the bar takes the **last** non-null value of its sub-bars (the snapshot at the
close). Volumes and funding are flows: summed (null when every sub-bar is null). OHLC as usual.
A resampled bar whose sub-bars are not all present is kept but marked ``complete = False`` and is
not used for signals.

Oracle (pandas, ``df`` indexed by open time)::

    df.resample("4h", label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
         "oi": "last", "funding_rate": "sum", ...})
"""

from __future__ import annotations

import polars as pl

from oiradar.errors import InputError
from oiradar.model import BAR_SCHEMA, Timeframe, conform_bars

_FLOWS = ("volume", "quote_volume", "taker_buy_volume", "funding_rate")
_STOCKS = ("oi", "oi_value", "oi_raw", "long_short_ratio", "close")


def _sum_or_null(c: str) -> pl.Expr:
    return pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).otherwise(None).alias(c)


def resample_bars(frame: pl.DataFrame, source_tf: Timeframe, target_tf: Timeframe) -> pl.DataFrame:
    """Aggregate ``frame`` (bars of ``source_tf``) into ``target_tf`` bars with a ``complete`` flag."""
    if target_tf.ms % source_tf.ms or target_tf.ms < source_tf.ms:
        raise InputError(f"cannot resample {source_tf.value} bars to {target_tf.value}")
    frame = conform_bars(frame.select([c for c in frame.columns if c in BAR_SCHEMA]))
    if target_tf == source_tf:
        return frame.with_columns(pl.lit(True).alias("complete"))
    per_bar = target_tf.ms // source_tf.ms
    stocks = [pl.col(c).drop_nulls().last().alias(c) for c in _STOCKS]
    out = (
        frame.sort("ts")
        .with_columns((pl.col("ts") - pl.col("ts") % target_tf.ms).alias("_bucket"))
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
        )
        .rename({"_bucket": "ts"})
    )
    return conform_bars(out).with_columns(out["complete"])
