"""``fundingRate`` files (monthly, one row per settlement) -> ``funding_rate`` per bar.

A sample::

    calc_time,funding_interval_hours,last_funding_rate
    1751328000007,8,0.00008191
"""

from __future__ import annotations

import polars as pl

from oiradar.model import Timeframe
from oiradar.sources.decode.binance_archive.csvbatch import (
    Body,
    check_header,
    epoch_ms,
    load_bodies,
    parse_bodies,
)
from oiradar.sources.decode.binance_archive.reading import CsvInput

FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")
_FUNDING_SCHEMA: dict[str, pl.DataType] = {
    "calc_time": pl.Int64(),
    "funding_interval_hours": pl.Int64(),
    "last_funding_rate": pl.Float64(),
}


def parse_funding(
    source: CsvInput, timeframe: Timeframe, *, name: str | None = None
) -> pl.DataFrame:
    """A monthly ``fundingRate`` file -> ``funding_rate`` of the ``timeframe`` bars.

    A settlement at ``calc_time`` belongs to the bar that contains it (``ts = calc_time -
    calc_time % tf``; Binance stamps settlements a few ms after the hour). Several
    settlements in one bar are summed (SPEC: funding is a flow), as pandas
    ``df.groupby(calc_time // tf * tf).last_funding_rate.sum()``.
    """
    return funding_bodies_to_bars(load_bodies([source], "calc_time", [name]), timeframe)


def funding_bodies_to_bars(bodies: list[Body], tf: Timeframe) -> pl.DataFrame:
    """Parse funding files together; settlements summed per ``tf`` bar (see :func:`parse_funding`)."""
    for body in bodies:
        check_header(body, FUNDING_COLUMNS, ("calc_time", "last_funding_rate"))
    parsed = parse_bodies(bodies, _FUNDING_SCHEMA)
    parsed.drop_blank_lines()
    parsed.frame = parsed.frame.with_columns(epoch_ms("calc_time"))
    parsed.fail(pl.col("calc_time").is_null(), "calc_time", "empty cell in a required column")
    rate = pl.col("last_funding_rate")
    parsed.fail(
        rate.is_null() | ~rate.is_finite(), "last_funding_rate", "missing or non-finite rate"
    )
    f = parsed.frame.unique(subset=["calc_time", "last_funding_rate"], keep="first")
    f = f.sort("calc_time", "_row").unique(subset="calc_time", keep="last", maintain_order=True)
    return (
        f.group_by((pl.col("calc_time") - pl.col("calc_time") % tf.ms).alias("ts"))
        .agg(rate.sum().alias("funding_rate"))
        .sort("ts")
    )
