"""freqtrade data files (feather or parquet), named ``<PAIR>-<tf>[-<candle type>].<ext>``.

Sample row of ``XRP_USDT_USDT-5m-futures.feather`` (columns ``date open high low close volume``,
``date`` a UTC datetime, ``volume`` in base units)::

    2021-11-15 00:00:00+00:00, 1.1893, 1.1954, 1.1891, 1.1941, 9289043.5

``XRP_USDT_USDT-8h-funding_rate.feather`` keeps the settled rate in ``open`` (the other price
columns are 0)::

    2021-11-18 00:00:00.017+00:00, 0.0001, 0.0, 0.0, 0.0, 0.0

Mapping: ``futures`` (and spot) candles -> OHLCV bars of that timeframe; ``funding_rate`` ->
settlements summed into the bars of the same symbol (see :class:`FundingEvents`);
``open_interest`` -> ``oi`` from ``open`` (base units, as ccxt's ``openInterestAmount``);
``mark``, ``index`` and ``premiumIndex`` are **not** trade candles and are skipped with a
message (decision 0101). The pair gives the symbol (``XRP_USDT_USDT`` -> ``XRP/USDT:USDT``); the
exchange defaults to ``binanceusdm`` for futures and ``binance`` for spot (``--exchange``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Timeframe
from oiradar.sources.decode.files.base import BarBatch, FundingEvents, ImportOptions, ParsedFile
from oiradar.sources.decode.files.detect import FREQTRADE_RE
from oiradar.sources.decode.files.reading import read_columnar
from oiradar.sources.decode.files.validate import ROW, require_columns, validate_bars

_NOT_TRADES = ("mark", "index", "premiumIndex")


def parse_freqtrade(path: Path, opts: ImportOptions) -> ParsedFile:
    """Parse one freqtrade data file (see the module docstring for the mapping)."""
    file = str(path)
    m = FREQTRADE_RE.match(path.name)
    if m is None:
        raise InputError(
            "not a freqtrade data file name (expected e.g. XRP_USDT_USDT-5m-futures.feather)",
            file=file,
        )
    kind = m["kind"] or "spot"
    if kind in _NOT_TRADES:
        return ParsedFile(
            file=file,
            fmt="freqtrade",
            skipped=(f"{kind} candles are not trade candles; not stored (decision 0101)"),
        )
    symbol = opts.symbol or pair_to_symbol(m["pair"])
    exchange = opts.exchange or ("binance" if kind == "spot" else "binanceusdm")
    raw = read_columnar(path)
    require_columns(raw, ("date", "open"), file=file)
    if kind == "funding_rate":
        frame = validate_bars(raw.select(ROW, ts="date", funding_rate="open"), file=file)
        ev = FundingEvents(exchange=exchange, symbol=symbol, frame=frame, file=file)
        return ParsedFile(file=file, fmt="freqtrade", funding=[ev])
    timeframe = opts.timeframe or _timeframe(m["tf"], file)
    key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=timeframe)
    if kind == "open_interest":
        cols = {"ts": pl.col("date"), "oi": pl.col("open"), "oi_raw": pl.col("open")}
        frame = validate_bars(raw.select(ROW, **cols), file=file, timeframe=timeframe)
        frame = frame.with_columns(pl.lit("base").alias("oi_unit"))
    else:
        frame = validate_bars(raw.rename({"date": "ts"}), file=file, timeframe=timeframe)
    return ParsedFile(file=file, fmt="freqtrade", bars=[BarBatch(key=key, frame=frame, file=file)])


def pair_to_symbol(pair: str) -> str:
    """freqtrade's file pair to a ccxt symbol: ``XRP_USDT_USDT`` -> ``XRP/USDT:USDT``."""
    parts = pair.split("_")
    return f"{parts[0]}/{parts[1]}" + (f":{parts[2]}" if len(parts) > 2 else "")


def _timeframe(text: str, file: str) -> Timeframe:
    try:
        return Timeframe(text)
    except ValueError:
        raise InputError(
            f"timeframe {text!r} is not one oiradar stores "
            f"({' '.join(t.value for t in Timeframe)})",
            file=file,
        ) from None
