"""Liquidation recordings: Binance ``forceOrder`` CSVs (two row formats) and Hyperliquid's list.

Binance ``btcusdt@forceOrder`` as recorded (``binance_btcusdt_liquidation_orders.csv``), first
format, 12 columns, times in IST (+05:30) with their offset::

    Symbol,Side,Order Type,Time in Force,Quantity,Price,Average Price,Order Status,Last Filled Quantity,Filled Quantity,Event Time (IST),Trade Time (IST)
    BTCUSDT,SELL,LIMIT,IOC,0.013,94434.91,94809.6,FILLED,0.013,0.013,2024-12-04 22:16:25.587000+05:30,2024-12-04 22:16:25.584000+05:30

From 2024-12-06 the same file (and ``..._liquidation_orders_history.csv``, with this header)
switches to a 6-column format::

    Event Time (IST),Liquidation Type,Price,Quantity,Limit Executed Quantity,Market Executed Quantity
    2024-12-06 23:45:11.043000+05:30,Short Trade,102067.86,0.041,0.041,0.0

Mapping (decision 0104): ``ts`` = trade time (first format) or event time, converted to UTC ms;
``side`` = the position liquidated: ``SELL`` / ``Long Trade`` -> ``long``, ``BUY`` /
``Short Trade`` -> ``short`` (the recording continues a run of BUY orders with ``Short Trade``
rows at the same prices); ``price`` = the order price (``Price``, the only price of the second
format, so both formats mean the same thing); ``qty`` = ``Filled Quantity`` / ``Quantity``
(base); ``quote_qty`` = ``price * qty``. The second format has no symbol column and the recorder
also wrote other symbols into it: rows priced more than 2x away from the file's median are
dropped with a note.

Hyperliquid (``hyperliquid_liquidations.csv``; no coin and no side column)::

    time,user,liquidated_ntl_pos,liquidated_account_value,leverage_type
    2023-02-28T21:10:23Z,0x677d831aef5328190852e24f13c46cac05f984e7,356.80015,2.956494,Cross

-> exchange ``hyperliquid``, symbol from ``--symbol`` (required), ``quote_qty`` =
``liquidated_ntl_pos`` (USD), side, price and qty null (unknown).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.sources.decode.files.base import ImportOptions, ParsedFile
from oiradar.sources.decode.files.prices import split_pair
from oiradar.sources.decode.files.reading import read_csv_text
from oiradar.sources.decode.files.validate import (
    ROW,
    check_non_negative,
    parse_numeric,
    parse_ts,
    refuse,
)

_SIDES = {"SELL": "long", "BUY": "short", "Long Trade": "long", "Short Trade": "short"}
_NAME_SYMBOL = re.compile(r"binance_(?P<sym>[a-z0-9]+)_liq", re.I)
PRICE_BAND = 2.0


def parse_binance_liquidations(path: Path, opts: ImportOptions) -> ParsedFile:
    """Both forceOrder row formats (see the module docstring)."""
    file = str(path)
    raw = read_csv_text(path)
    if "Symbol" in raw.columns:
        first = _first_format(raw.filter(pl.col("Side").is_in(["BUY", "SELL"])), file)
        second = _second_format(_shifted(raw.filter(~pl.col("Side").is_in(["BUY", "SELL"]))), file)
    else:
        first, second = None, _second_format(raw, file)
    symbol = opts.symbol or _symbol(first, path)
    frames = [f for f in (first, second) if f is not None and f.height]
    records = pl.concat(frames).sort(ROW) if frames else pl.DataFrame()
    out = ParsedFile(file=file, fmt="binance-liquidations")
    if records.is_empty():
        return out
    records, dropped = _drop_foreign(records, first)
    if dropped:
        out.notes.append(
            f"{file}: dropped {dropped} row(s) priced more than {PRICE_BAND}x away "
            "from the file's median price (another symbol in the recording)"
        )
    out.liquidations.append(
        records.select(
            "ts",
            pl.lit(opts.exchange or "binanceusdm").alias("exchange"),
            pl.lit(symbol).alias("symbol"),
            "side",
            "price",
            "qty",
            (pl.col("price") * pl.col("qty")).alias("quote_qty"),
        )
    )
    return out


def _shifted(rows: pl.DataFrame) -> pl.DataFrame:
    """Second-format rows inside a first-format file: their 6 cells sit in the first 6 columns."""
    names = [
        "Event Time (IST)",
        "Liquidation Type",
        "Price",
        "Quantity",
        "Limit Executed Quantity",
        "Market Executed Quantity",
    ]
    return rows.select(
        ROW, *[pl.col(c).alias(n) for c, n in zip(rows.columns[1:7], names, strict=True)]
    )


def _first_format(rows: pl.DataFrame, file: str) -> pl.DataFrame:
    frame = parse_numeric(rows, ("Price", "Filled Quantity"), file=file)
    frame = parse_ts(frame, file=file, column="Trade Time (IST)", naive_tz="Asia/Kolkata")
    frame = frame.select(
        ROW,
        "ts",
        "Symbol",
        pl.col("Side").replace_strict(_SIDES).alias("side"),
        pl.col("Price").alias("price"),
        pl.col("Filled Quantity").alias("qty"),
    )
    check_non_negative(frame, ("price", "qty"), file=file)
    return frame


def _second_format(rows: pl.DataFrame, file: str) -> pl.DataFrame:
    kinds = pl.col("Liquidation Type")
    unknown = rows.filter(~kinds.is_in(list(_SIDES)) | kinds.is_null()).head(1)
    if unknown.height:
        raise refuse(
            "unknown liquidation type (expected 'Long Trade' or 'Short Trade')",
            file=file,
            row=int(unknown[ROW][0]),
            column="Liquidation Type",
            value=unknown["Liquidation Type"][0],
        )
    frame = parse_numeric(rows, ("Price", "Quantity"), file=file)
    frame = parse_ts(frame, file=file, column="Event Time (IST)", naive_tz="Asia/Kolkata")
    frame = frame.select(
        ROW,
        "ts",
        pl.lit(None, pl.String).alias("Symbol"),
        kinds.replace_strict(_SIDES).alias("side"),
        pl.col("Price").alias("price"),
        pl.col("Quantity").alias("qty"),
    )
    check_non_negative(frame, ("price", "qty"), file=file)
    return frame


def _symbol(first: pl.DataFrame | None, path: Path) -> str:
    raw = None
    if first is not None and first.height:
        symbols = first["Symbol"].drop_nulls().unique()
        if symbols.len() > 1:
            raise InputError(
                f"the recording holds several symbols {symbols.to_list()[:5]}; split it per symbol",
                file=str(path),
            )
        raw = symbols[0] if symbols.len() else None
    if raw is None:
        m = _NAME_SYMBOL.search(path.name)
        raw = m["sym"] if m else None
    pair = split_pair(raw) if raw else None
    if pair is None:
        raise InputError("cannot tell the symbol; pass --symbol", file=str(path))
    return f"{pair[0]}/{pair[1]}:{pair[1]}"


def _drop_foreign(records: pl.DataFrame, first: pl.DataFrame | None) -> tuple[pl.DataFrame, int]:
    """Drop rows priced far from the symbol's median (the recorder mixed in other symbols)."""
    prices = first["price"] if first is not None and first.height else records["price"]
    median = prices.median()
    if not isinstance(median, (int, float)):
        return records, 0
    ref = float(median)
    keep = records.filter(
        (pl.col("price") <= ref * PRICE_BAND) & (pl.col("price") >= ref / PRICE_BAND)
    )
    return keep, records.height - keep.height


def parse_hyperliquid(path: Path, opts: ImportOptions) -> ParsedFile:
    """Hyperliquid liquidation list -> records with ``quote_qty`` only (needs ``--symbol``)."""
    file = str(path)
    if not opts.symbol:
        raise InputError(
            "Hyperliquid's liquidation list has no coin column: pass --symbol "
            "(e.g. --symbol BTC/USD:USD)",
            file=file,
        )
    raw = read_csv_text(path)
    frame = parse_ts(
        parse_numeric(raw, ("liquidated_ntl_pos",), file=file), file=file, column="time"
    )
    check_non_negative(frame, ("liquidated_ntl_pos",), file=file)
    records = frame.select(
        "ts",
        pl.lit(opts.exchange or "hyperliquid").alias("exchange"),
        pl.lit(opts.symbol).alias("symbol"),
        pl.lit(None, pl.String).alias("side"),
        pl.col("liquidated_ntl_pos").alias("quote_qty"),
    )
    return ParsedFile(file=file, fmt="hyperliquid", liquidations=[records])
