"""Price-only files: Bybit daily kline CSVs and Binance hourly close-only CSVs.

Bybit v5 linear klines (``bybit_linear_KSMUSDT_1d.csv``; ``volume`` base, ``turnover`` quote)::

    timestamp,open,high,low,close,volume,turnover,date
    1633996800000,315.85,325.6,306.0,323.7,6041.85,1922147.2175,2021-10-12

-> exchange ``bybit``, symbol ``KSM/USDT:USDT``, ``quote_volume`` = ``turnover``.
Bybit's export repeats a page-boundary row (2023-02-18 appears twice, identical): rows identical
in every cell to an earlier one are dropped with a note; a repeated ``ts`` with other values is
refused (decision 0106).

Binance hourly close-only prices (``binance_KSMUSDT_1h_close.csv``, UTC text, probably spot)::

    open_time,close
    2021-01-01 00:00:00,69.923

-> exchange ``binance``, spot symbol ``KSM/USDT``, **close only**: open/high/low stay null
rather than being invented from the close (decision 0102).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Timeframe
from oiradar.sources.decode.files.base import BarBatch, ImportOptions, ParsedFile
from oiradar.sources.decode.files.generic import infer_timeframe
from oiradar.sources.decode.files.reading import read_csv_text
from oiradar.sources.decode.files.validate import (
    ROW,
    drop_exact_duplicates,
    parse_ts,
    require_columns,
    validate_bars,
)

_BYBIT_NAME = re.compile(
    r"bybit_(?P<cat>linear|inverse|spot)_(?P<sym>[A-Z0-9]+)_(?P<tf>\d+[mhd])", re.I
)
_CLOSE_NAME = re.compile(r"binance_(?P<sym>[A-Z0-9]+)_(?P<tf>\d+[mhd])_close", re.I)
QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD")


def split_pair(raw: str) -> tuple[str, str] | None:
    """``KSMUSDT`` -> ``("KSM", "USDT")`` by the known quote currencies; None if none fits."""
    raw = raw.upper()
    for quote in QUOTES:
        if raw.endswith(quote) and len(raw) > len(quote):
            return raw[: -len(quote)], quote
    return None


def parse_bybit_kline(path: Path, opts: ImportOptions) -> ParsedFile:
    """Bybit kline CSV -> OHLCV bars with quote volume (see the module docstring)."""
    file = str(path)
    m = _BYBIT_NAME.search(path.name)
    symbol = opts.symbol or _bybit_symbol(m, file)
    raw = read_csv_text(path)
    require_columns(raw, ("timestamp", "open", "high", "low", "close", "volume"), file=file)
    cols = [ROW, "open", "high", "low", "close", "volume"]
    frame = raw.select(
        *cols, ts="timestamp", **({"quote_volume": "turnover"} if "turnover" in raw.columns else {})
    )
    frame, dropped = drop_exact_duplicates(frame)
    timeframe = _timeframe(opts, m["tf"] if m else None, frame, file)
    bars = validate_bars(frame, file=file, timeframe=timeframe)
    key = SeriesKey(exchange=opts.exchange or "bybit", symbol=symbol, timeframe=timeframe)
    notes = [f"{file}: dropped {dropped} row(s) identical to an earlier row"] if dropped else []
    batch = BarBatch(key=key, frame=bars, file=file)
    return ParsedFile(file=file, fmt="bybit-kline", bars=[batch], notes=notes)


def _bybit_symbol(m: re.Match[str] | None, file: str) -> str:
    pair = split_pair(m["sym"]) if m else None
    if m is None or pair is None:
        raise InputError("cannot read the symbol from the file name; pass --symbol", file=file)
    base, quote = pair
    cat = m["cat"].lower()
    return {"linear": f"{base}/{quote}:{quote}", "inverse": f"{base}/{quote}:{base}"}.get(
        cat, f"{base}/{quote}"
    )


def parse_close_only(path: Path, opts: ImportOptions) -> ParsedFile:
    """Close-only CSV -> bars with ``close`` and null OHLC (see the module docstring)."""
    file = str(path)
    m = _CLOSE_NAME.search(path.name)
    pair = split_pair(m["sym"]) if m else None
    if opts.symbol is None and pair is None:
        raise InputError("cannot read the symbol from the file name; pass --symbol", file=file)
    symbol = opts.symbol or f"{pair[0]}/{pair[1]}"  # type: ignore[index]
    raw = read_csv_text(path)
    require_columns(raw, ("open_time", "close"), file=file)
    frame = raw.select(ROW, "close", ts="open_time")
    timeframe = _timeframe(opts, m["tf"] if m else None, frame, file)
    bars = validate_bars(frame, file=file, timeframe=timeframe)
    key = SeriesKey(exchange=opts.exchange or "binance", symbol=symbol, timeframe=timeframe)
    return ParsedFile(file=file, fmt="close-only", bars=[BarBatch(key=key, frame=bars, file=file)])


def _timeframe(
    opts: ImportOptions, from_name: str | None, frame: pl.DataFrame, file: str
) -> Timeframe:
    if opts.timeframe is not None:
        return opts.timeframe
    if from_name:
        return Timeframe.parse(from_name.lower())
    return infer_timeframe(parse_ts(frame, file=file)["ts"], file)
