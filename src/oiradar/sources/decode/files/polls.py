"""Irregular polls recorded beside the Binance liquidation stream.

Open interest polls of ``/fapi/v1/openInterest`` (``binance_btcusdt_open_interest_history.csv``;
base units; naive times in IST, +05:30, like the rest of that recorder's files)::

    Datetime,Open Interest
    2024-12-14 01:09:44,92711.732

Each poll is snapped to the bar that closes **at or after** it and the last poll of a bar is
its ``oi`` (a stock: the latest value known at the close; never a later one, so no look-ahead):
bar ``ts = ceil(t / tf) * tf - tf``. Bars without a poll stay absent. Timeframe ``--timeframe``
(default 5m), exchange ``binanceusdm``, symbol from the file name or ``--symbol``
(decision 0105). Price polls (``Datetime,Price``) are skipped: the last poll of a bar is not
its close, and a poll series is no OHLC.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Timeframe
from oiradar.sources.decode.files.base import BarBatch, ImportOptions, ParsedFile
from oiradar.sources.decode.files.prices import split_pair
from oiradar.sources.decode.files.reading import read_csv_text
from oiradar.sources.decode.files.validate import (
    ROW,
    parse_numeric,
    parse_ts,
    refuse,
    validate_bars,
)

_NAME = re.compile(r"binance_(?P<sym>[a-z0-9]+)_open_interest", re.I)
POLL_TZ = "Asia/Kolkata"


def parse_polls(path: Path, opts: ImportOptions) -> ParsedFile:
    """OI polls -> ``oi`` of the bars they close (see the module docstring)."""
    file = str(path)
    raw = read_csv_text(path)
    if "Open Interest" not in raw.columns:
        return ParsedFile(
            file=file,
            fmt="polls",
            skipped=(
                "price polls: the last poll of a bar is not its close; not stored (decision 0105)"
            ),
        )
    symbol = opts.symbol or _symbol(path)
    tf = opts.timeframe or Timeframe.M5
    frame = parse_ts(raw, file=file, column="Datetime", naive_tz=POLL_TZ)
    frame = parse_numeric(frame, ("Open Interest",), file=file)
    back = frame.filter(pl.col("ts") < pl.col("ts").shift(1)).head(1)
    if back.height:
        raise refuse(
            "poll times go backwards",
            file=file,
            row=int(back[ROW][0]),
            column="Datetime",
            value=back["Datetime"][0],
        )
    bars = snap_polls(frame.select(ROW, "ts", pl.col("Open Interest").alias("oi")), tf)
    bars = validate_bars(bars.with_columns(pl.col("oi").alias("oi_raw")), file=file, timeframe=tf)
    key = SeriesKey(exchange=opts.exchange or "binanceusdm", symbol=symbol, timeframe=tf)
    batch = BarBatch(key=key, frame=bars.with_columns(pl.lit("base").alias("oi_unit")), file=file)
    return ParsedFile(file=file, fmt="polls", bars=[batch])


def snap_polls(frame: pl.DataFrame, tf: Timeframe) -> pl.DataFrame:
    """Last poll per bar closing at or after it: ``groupby(ceil(t/tf)*tf - tf).last()``."""
    bar = (pl.col("ts") + tf.ms - 1) // tf.ms * tf.ms - tf.ms
    return (
        frame.with_columns(bar.alias("ts"))
        .group_by("ts", maintain_order=True)
        .agg(pl.all().last())
        .sort("ts")
    )


def _symbol(path: Path) -> str:
    m = _NAME.search(path.name)
    pair = split_pair(m["sym"]) if m else None
    if pair is None:
        raise InputError("cannot tell the symbol from the file name; pass --symbol", file=str(path))
    return f"{pair[0]}/{pair[1]}:{pair[1]}"
