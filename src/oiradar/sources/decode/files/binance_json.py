"""Binance JSON arrays: candles, open-interest history and long/short account ratio.

Candles (``binance_btcusdt_candles_1d.json``; the volume level of the recorded files says spot)::

    {"openTime": 1601769600000, "open": 10542.07, "high": 10696.87, "low": 10517.87,
     "close": 10666.63, "volume": 23212.001595, "closeTime": 1601855999999}

-> OHLCV bars, timeframe = ``closeTime - openTime + 1``, exchange ``binance`` (spot) unless
``--exchange``; symbol from the file name (``btcusdt`` -> ``BTC/USDT``) or ``--symbol``.

Open-interest history (``/futures/data/openInterestHist`` reshaped; base units and USDT)::

    {"time": 1772748000000, "openInterest": 83397.687, "openInterestValue": 5929801270.000561}

-> ``oi`` = ``oi_raw`` = ``openInterest`` (``oi_unit`` base), ``oi_value``. The snapshot stamped
``T`` belongs to the bar that **closes** at ``T``: bar ``ts = T - timeframe`` (SPEC section 1).

Long/short account ratio (``/futures/data/globalLongShortAccountRatio`` reshaped)::

    {"time": 1772748000000, "ratio": 1.1645, "longAccount": 0.538, "shortAccount": 0.462}

-> ``long_short_ratio`` = ``ratio``, stamped like OI. Both default to exchange ``binanceusdm``
and need ``--symbol`` unless the file name holds one.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Timeframe
from oiradar.sources.decode.files.base import BarBatch, ImportOptions, ParsedFile
from oiradar.sources.decode.files.generic import infer_timeframe
from oiradar.sources.decode.files.prices import split_pair
from oiradar.sources.decode.files.reading import read_json_records
from oiradar.sources.decode.files.validate import ROW, parse_ts, validate_bars

_NAME_SYMBOL = re.compile(r"(?:^|_)(?P<sym>[a-z0-9]+?(?:usdt|usdc|busd|usd))(?:_|\.|$)", re.I)


def parse_binance_json(path: Path, opts: ImportOptions) -> ParsedFile:
    """Dispatch on the first object's keys: candles, OI history or long/short ratio."""
    file = str(path)
    raw = read_json_records(path)
    if raw.is_empty():
        raise InputError("the file holds no records (an empty JSON array)", file=file)
    if "openTime" in raw.columns:
        return _candles(raw, path, opts)
    if "openInterest" in raw.columns:
        cols = {"oi": "openInterest", "oi_raw": "openInterest"}
        if "openInterestValue" in raw.columns:
            cols["oi_value"] = "openInterestValue"
        return _snapshots(raw, path, opts, cols, unit="base")
    if "longAccount" in raw.columns or "ratio" in raw.columns:
        col = "ratio" if "ratio" in raw.columns else "longShortRatio"
        return _snapshots(raw, path, opts, {"long_short_ratio": col}, unit=None)
    keys = [c for c in raw.columns if c != ROW]
    raise InputError(f"unknown Binance JSON shape with keys {keys}", file=file)


def _candles(raw: pl.DataFrame, path: Path, opts: ImportOptions) -> ParsedFile:
    file = str(path)
    cols = [c for c in ("open", "high", "low", "close", "volume") if c in raw.columns]
    frame = raw.select(ROW, *cols, ts="openTime")
    timeframe = opts.timeframe or _candle_timeframe(raw, file)
    bars = validate_bars(frame, file=file, timeframe=timeframe, one_timeframe=True)
    symbol = opts.symbol or _symbol_from_name(path, spot=True)
    key = SeriesKey(exchange=opts.exchange or "binance", symbol=symbol, timeframe=timeframe)
    return ParsedFile(
        file=file, fmt="binance-json", bars=[BarBatch(key=key, frame=bars, file=file)]
    )


def _candle_timeframe(raw: pl.DataFrame, file: str) -> Timeframe:
    if "closeTime" not in raw.columns:
        return infer_timeframe(parse_ts(raw, file=file, column="openTime")["ts"], file)
    span = (
        raw["closeTime"].cast(pl.Int64, strict=False)
        - raw["openTime"].cast(pl.Int64, strict=False)
        + 1
    )
    median = span.median()
    step = float(median) if isinstance(median, (int, float)) else None
    for tf in Timeframe:
        if tf.ms == step:
            return tf
    raise InputError(
        f"closeTime - openTime + 1 = {step} ms is no timeframe; pass --timeframe", file=file
    )


def _snapshots(
    raw: pl.DataFrame, path: Path, opts: ImportOptions, cols: dict[str, str], unit: str | None
) -> ParsedFile:
    """Snapshots stamped at ``time`` = the close of bar ``time - timeframe``."""
    file = str(path)
    frame = parse_ts(raw.select(ROW, *set(cols.values()), ts="time"), file=file)
    timeframe = opts.timeframe or infer_timeframe(frame["ts"], file)
    frame = frame.select(
        ROW, pl.col("ts") - timeframe.ms, **{k: pl.col(v) for k, v in cols.items()}
    )
    bars = validate_bars(frame, file=file, timeframe=timeframe)
    if unit is not None:
        bars = bars.with_columns(pl.lit(unit).alias("oi_unit"))
    symbol = opts.symbol or _symbol_from_name(path, spot=False)
    key = SeriesKey(exchange=opts.exchange or "binanceusdm", symbol=symbol, timeframe=timeframe)
    return ParsedFile(
        file=file, fmt="binance-json", bars=[BarBatch(key=key, frame=bars, file=file)]
    )


def _symbol_from_name(path: Path, *, spot: bool) -> str:
    m = _NAME_SYMBOL.search(path.stem)
    pair = split_pair(m["sym"]) if m else None
    if pair is None:
        raise InputError(
            "the file name does not say the symbol; pass --symbol (e.g. --symbol BTC/USDT:USDT)",
            file=str(path),
        )
    base, quote = pair
    return f"{base}/{quote}" if spot else f"{base}/{quote}:{quote}"
