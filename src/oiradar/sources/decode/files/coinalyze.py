"""Coinalyze wide per-venue CSVs: one column per venue and contract, one row per day.

Open interest (``open_interest_history.csv``; **USD**, converted by Coinalyze)::

    t,BTC/USD - Bybit,BTC/USD - Huobi,BTC/USD - Binance,BTC/USDT - Bybit,BTC/USDT - Binance,...
    2022-01-02,945964323,101478100,1125994500,727086554.12,3465520267.68,...

Funding (``funding_rate_history.csv``; **percent**): ``2022-01-02,,0.01,...``.
Liquidations (``liquidation_history.csv``; USD per day, ``_long``/``_short`` = the side of the
position liquidated): ``t,BTC/USD - Bybit_short,BTC/USD - Bybit_long,...``.

Each column ``BASE/QUOTE - Venue`` becomes a series: the venue maps to a ccxt exchange id and
``markets.csv`` beside the file (``margined`` = ``STABLE`` or ``COIN``) gives the contract:
``STABLE`` -> ``BASE/QUOTE:QUOTE`` (linear), ``COIN`` -> ``BASE/QUOTE:BASE`` (inverse); Binance's
coin-margined contracts live on ``binancecoinm``, its stablecoin ones on ``binanceusdm``.
Values: OI -> ``oi_value`` = ``oi_raw`` (``oi_unit`` = ``usd``; ``oi`` in base units stays null:
no price per venue here); funding -> ``funding_rate`` = value / 100 x settlements per bar: the
value is **one settlement's** rate (about 0.01 % on an 8-hour venue), and a bar's ``funding_rate``
is the sum of the rates settled inside it, so a 1d bar of an 8-hour venue takes 3 x the rate and
one of an hourly venue (:data:`FUNDING_PERIOD_H`) 24 x; every import says so in a
``funding_scaled`` note (decision 0606); liquidations ->
records with ``quote_qty`` (USD), null ``price`` and ``qty``, zero days dropped. A column whose
venue lists two contracts with the same BASE/QUOTE (``BTC/USD - Kraken`` twice) cannot be told
apart and is skipped with a note. ``t`` is the day's bar open (00:00 UTC), timeframe 1d.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.sources.decode.files.base import BarBatch, ImportOptions, ParsedFile
from oiradar.sources.decode.files.generic import infer_timeframe
from oiradar.sources.decode.files.reading import read_csv_text
from oiradar.sources.decode.files.validate import (
    ROW,
    check_non_negative,
    parse_numeric,
    parse_ts,
    validate_bars,
)

# Coinalyze venue name -> ccxt exchange id (Binance splits by margin, see binance_id).
VENUES = {
    "Binance": "binanceusdm", "Bybit": "bybit", "OKX": "okx", "Huobi": "htx", "BitMEX": "bitmex",
    "Deribit": "deribit", "Kraken": "krakenfutures", "Bitfinex": "bitfinex", "Gate.io": "gate",
    "WOO X": "woo", "Phemex": "phemex", "dYdX": "dydx", "Vertex": "vertex",
}  # fmt: skip
# Hours between funding settlements, by exchange id: Coinalyze's funding value is the rate of one
# settlement. 8 h unless listed. Hourly: dYdX ("credited or debited at the start of each hour",
# https://help.dydx.exchange/en/articles/4797443-perpetual-funding-rate), Kraken Futures ("settling
# at the end of each hour", https://support.kraken.com/hc/en-us/articles/4844359082772), Vertex
# (https://docs.vertexprotocol.com/basics/funding-rates). Coinalyze does not say whether it quotes
# these per hour; the recorded dYdX and Kraken values are a small fraction of the 8-hour venues'
# (medians 0.0001 % against 0.006 %), which fits an hourly rate.
FUNDING_PERIOD_H = {"dydx": 1, "krakenfutures": 1, "vertex": 1}
DEFAULT_FUNDING_PERIOD_H = 8
# Coinalyze venue code (suffix of its symbols in markets.csv) -> venue name.
CODES = {
    "A": "Binance", "6": "Bybit", "3": "OKX", "4": "Huobi", "0": "BitMEX", "2": "Deribit",
    "K": "Kraken", "F": "Bitfinex", "Y": "Gate.io", "W": "WOO X", "7": "Phemex", "8": "dYdX",
    "V": "Vertex",
}  # fmt: skip
_COLUMN = re.compile(
    r"^(?P<base>[A-Z0-9]+)/(?P<quote>[A-Z0-9]+) - (?P<venue>.+?)"
    r"(?:_(?P<side>long|short))?(?:_duplicated_\d+)?$"
)


def parse_coinalyze(path: Path, opts: ImportOptions) -> ParsedFile:
    """Parse one wide Coinalyze file (OI, funding or liquidations, told by name or columns)."""
    file = str(path)
    raw = read_csv_text(path)
    kind = _kind(path, raw.columns)
    frame = parse_ts(raw, file=file, column="t")
    values = [c for c in raw.columns if c not in ("t", ROW, "ts")]
    frame = parse_numeric(frame, tuple(values), file=file)
    markets = _load_markets(path.parent / "markets.csv")
    series, notes = _columns_to_series(values, markets, file)
    out = ParsedFile(file=file, fmt="coinalyze", notes=notes)
    if kind == "liquidations":
        check_non_negative(frame, tuple(values), file=file)
        out.liquidations.append(_liquidations(frame, series))
        return out
    timeframe = opts.timeframe or _daily(frame, file)
    for col, (exchange, symbol, _side) in series.items():
        out.bars.append(_series_batch(frame, col, kind, exchange, symbol, timeframe, file))
    if kind == "funding" and series:
        out.notes.append(funding_note(file, {e for e, _, _ in series.values()}, timeframe))
    return out


def funding_scale(exchange: str, timeframe: Timeframe) -> float:
    """Settlements of ``exchange`` in one bar of ``timeframe`` (3 per 1d bar on an 8-hour venue):
    what one settlement's rate is multiplied by to give the bar's summed ``funding_rate``."""
    return timeframe.ms / (FUNDING_PERIOD_H.get(exchange, DEFAULT_FUNDING_PERIOD_H) * HOUR_MS)


def funding_note(file: str, exchanges: set[str], timeframe: Timeframe) -> str:
    """The ``funding_scaled`` note of an import: which factor each venue's rate was given."""
    by: dict[float, list[str]] = {}
    for e in sorted(exchanges):
        by.setdefault(funding_scale(e, timeframe), []).append(e)
    parts = "; ".join(f"x {f:g} ({', '.join(names)})" for f, names in sorted(by.items()))
    return (
        f"{file}: funding_scaled: Coinalyze gives one settlement's rate per {timeframe.value} "
        f"bar; stored as the bar's sum, the rate times the settlements in it: {parts}"
    )


def _kind(path: Path, columns: list[str]) -> str:
    name = path.name.lower()
    if any(c.endswith(("_long", "_short")) for c in columns) or "liquidation" in name:
        return "liquidations"
    if "funding" in name:
        return "funding"
    if "open_interest" in name or "oi" in name.split("_"):
        return "oi"
    raise InputError(
        "cannot tell whether this Coinalyze file holds open interest or funding: "
        "its name should contain 'open_interest' or 'funding'",
        file=str(path),
    )


def _daily(frame: pl.DataFrame, file: str) -> Timeframe:
    return infer_timeframe(frame["ts"], file) if frame.height > 1 else Timeframe.D1


def _load_markets(path: Path) -> dict[tuple[str, str, str], list[str]]:
    """(venue, base, quote) -> list of ``margined`` values from markets.csv ({} when absent)."""
    if not path.is_file():
        return {}
    m = pl.read_csv(path, infer_schema=False)
    out: dict[tuple[str, str, str], list[str]] = {}
    for sym, base, quote, margined in m.select(
        "symbol", "base_asset", "quote_asset", "margined"
    ).iter_rows():
        venue = CODES.get(sym.rsplit(".", 1)[-1])
        if venue is not None:
            out.setdefault((venue, base, quote), []).append(margined)
    return out


def _columns_to_series(
    columns: list[str], markets: dict[tuple[str, str, str], list[str]], file: str
) -> tuple[dict[str, tuple[str, str, str | None]], list[str]]:
    """Column -> (exchange, symbol, side); ambiguous or unknown columns become notes."""
    parsed = {c: _COLUMN.match(c) for c in columns}
    bad = [c for c, m in parsed.items() if m is None]
    if bad:
        raise InputError("column is not 'BASE/QUOTE - Venue'", file=file, column=bad[0])
    counts: dict[tuple[str, str, str, str | None], int] = {}
    for m in parsed.values():
        assert m is not None
        k = (m["base"], m["quote"], m["venue"], m["side"])
        counts[k] = counts.get(k, 0) + 1
    series: dict[str, tuple[str, str, str | None]] = {}
    notes = []
    for col, m in parsed.items():
        assert m is not None
        base, quote, venue, side = m["base"], m["quote"], m["venue"], m["side"]
        if counts[(base, quote, venue, side)] > 1:
            notes.append(
                f"{file}: skipped {col!r}: {venue} has two {base}/{quote} contracts "
                "and the file does not say which column is which"
            )
            continue
        if venue not in VENUES:
            notes.append(f"{file}: skipped {col!r}: unknown venue {venue!r}")
            continue
        margined = _margined(markets, venue, base, quote)
        series[col] = (_exchange(venue, margined), _symbol(base, quote, margined), side)
    return series, notes


def _margined(
    markets: dict[tuple[str, str, str], list[str]], venue: str, base: str, quote: str
) -> str:
    found = markets.get((venue, base, quote), [])
    if len(found) == 1:
        return found[0]
    return "COIN" if quote == "USD" else "STABLE"  # no market list: the usual convention


def _exchange(venue: str, margined: str) -> str:
    if venue == "Binance" and margined == "COIN":
        return "binancecoinm"
    return VENUES[venue]


def _symbol(base: str, quote: str, margined: str) -> str:
    return f"{base}/{quote}:{base}" if margined == "COIN" else f"{base}/{quote}:{quote}"


def _series_batch(
    frame: pl.DataFrame,
    col: str,
    kind: str,
    exchange: str,
    symbol: str,
    timeframe: Timeframe,
    file: str,
) -> BarBatch:
    one = frame.select(ROW, "ts", pl.col(col).alias("_v")).filter(pl.col("_v").is_not_null())
    if kind == "oi":
        cols = {"oi_value": pl.col("_v"), "oi_raw": pl.col("_v")}
    else:
        cols = {"funding_rate": pl.col("_v") / 100.0 * funding_scale(exchange, timeframe)}
    bars = validate_bars(one.select(ROW, "ts", **cols), file=f"{file} [{col}]", timeframe=timeframe)
    if kind == "oi":
        bars = bars.with_columns(pl.lit("usd").alias("oi_unit"))
    key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=timeframe)
    return BarBatch(key=key, frame=bars, file=file)


def _liquidations(
    frame: pl.DataFrame, series: dict[str, tuple[str, str, str | None]]
) -> pl.DataFrame:
    parts = []
    for col, (exchange, symbol, side) in series.items():
        parts.append(
            frame.select(
                "ts",
                pl.lit(exchange).alias("exchange"),
                pl.lit(symbol).alias("symbol"),
                pl.lit(side).alias("side"),
                pl.col(col).alias("quote_qty"),
            ).filter(pl.col("quote_qty").is_not_null() & (pl.col("quote_qty") > 0))
        )
    return pl.concat(parts) if parts else pl.DataFrame()
