"""``klines`` files (daily or monthly; the columns of ``GET /fapi/v1/klines``) -> OHLCV bars.

The sample of Binance's README (older files have no header row)::

    open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore
    1601510340000,4.15070000,4.15870000,4.15060000,4.15540000,539.23000000,1601510399999,2240.39860900,13,401.82000000,1669.98121300,0
"""

from __future__ import annotations

from typing import cast

import polars as pl

from oiradar.errors import InputError
from oiradar.sources.decode.binance_archive.csvbatch import (
    Body,
    ParsedRows,
    bad_number,
    check_header,
    epoch_ms,
    load_bodies,
    parse_bodies,
    strictly_increasing,
)
from oiradar.sources.decode.binance_archive.names import ArchiveMarket
from oiradar.sources.decode.binance_archive.reading import CsvInput
from oiradar.sources.decode.venues.binance import coinm_kline_volumes

KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_KLINE_SCHEMA: dict[str, pl.DataType] = {
    "open_time": pl.Int64(),
    **{c: pl.Float64() for c in ("open", "high", "low", "close", "volume")},
    "close_time": pl.Int64(),
    "quote_volume": pl.Float64(),
    "count": pl.Int64(),
    "taker_buy_volume": pl.Float64(),
    "taker_buy_quote_volume": pl.Float64(),
    "ignore": pl.String(),
}
_KLINE_REQUIRED = ("open_time", "open", "high", "low", "close", "volume")
# close_time, count, taker_buy_quote_volume and ignore are not canonical: left unparsed
_KLINE_KEEP = (*_KLINE_REQUIRED, "quote_volume", "taker_buy_volume")


def parse_klines(source: CsvInput, *, name: str | None = None) -> pl.DataFrame:
    """A ``klines`` file (daily or monthly, with or without header) -> canonical OHLCV bars.

    ``ts`` = ``open_time`` (ms; microsecond files are detected and converted), ``volume`` is
    base, ``quote_volume`` quote, ``taker_buy_volume`` base. Refused: an empty required cell,
    a negative volume, ``high < low``, open/close outside [low, high], taker volume above the
    volume, a duplicate or out-of-order ``open_time`` inside a file.
    """
    return klines_bodies_to_bars(load_bodies([source], "open_time", [name]))


def klines_bodies_to_bars(
    bodies: list[Body], *, market: ArchiveMarket = "um", contract_size: float | None = None
) -> pl.DataFrame:
    """Parse kline files together; across files, a repeated ``ts`` keeps the later file's row.

    COIN-M (``market="cm"``): the columns are in the same places but count other things
    (Binance README, "COIN-M Futures" klines: volume in contracts, then "Base asset volume",
    "Taker buy volume" in contracts, "Taker buy base asset volume"). They are mapped by
    :func:`oiradar.sources.decode.venues.binance.coinm_kline_volumes`, the mapping of REST
    ``/dapi/v1/klines``: ``volume`` = base volume, ``quote_volume`` = contracts x
    ``contract_size`` USD, ``taker_buy_volume`` = taker buy base volume (decision 0506).
    """
    if market == "cm" and contract_size is None:
        raise InputError("COIN-M klines need the contract size (USD per contract)")
    for body in bodies:
        check_header(body, KLINE_COLUMNS, KLINE_COLUMNS[:6])
    if market == "cm":  # COIN-M headers may name columns 7 and 10 otherwise: read by position
        bodies = [_positional_kline_header(b) for b in bodies]
    keep = _KLINE_KEEP if market == "um" else (*_KLINE_KEEP, "taker_buy_quote_volume")
    parsed = parse_bodies(bodies, _KLINE_SCHEMA, keep)
    parsed.drop_blank_lines()
    parsed.frame = parsed.frame.with_columns(epoch_ms("open_time"))
    parsed.check(_kline_rules())
    _check_kline_order(parsed)
    f = parsed.frame.select(
        pl.col("open_time").alias("ts"), "open", "high", "low", "close", "volume",
        "quote_volume", "taker_buy_volume", pl.lit(False).alias("quote_volume_estimated"),
        *(["taker_buy_quote_volume"] if market == "cm" else []), "_row",
    )  # fmt: skip
    if not strictly_increasing(f):
        f = f.sort("ts", "_row").unique(subset="ts", keep="last", maintain_order=True)
    f = f.drop("_row")
    if market == "cm":
        f = coinm_kline_volumes(f, cast(float, contract_size))
    return f


def _positional_kline_header(body: Body) -> Body:
    """A 12-column header is taken as the documented column order, whatever its names."""
    if body.header is None or len(body.header) != len(KLINE_COLUMNS):
        return body
    return Body(body.name, body.data, KLINE_COLUMNS, body.info)


def _check_kline_order(parsed: ParsedRows) -> None:
    """Inside one file, ``open_time`` strictly increases (files may come in any order)."""
    step = pl.col("open_time").diff()
    if parsed.frame.is_empty() or parsed.frame.select((step > 0).all()).item():
        return
    same_file = parsed.file_index().diff().fill_null(1) == 0
    parsed.check(
        [
            (pl.lit(same_file) & (step == 0), "open_time", "duplicate open_time"),
            (
                pl.lit(same_file) & (step < 0),
                "open_time",
                "open_time goes backwards (rows out of order)",
            ),
        ]
    )


def _kline_rules() -> list[tuple[pl.Expr, str, str]]:
    """Every kline check as ``(bad-row mask, column, message)``."""
    c = pl.col
    return [
        *[(c(col).is_null(), col, "empty cell in a required column") for col in _KLINE_REQUIRED],
        *[
            (~c(col).is_finite() | (c(col) <= 0), col, "price must be positive")
            for col in ("open", "high", "low", "close")
        ],
        *[
            (bad_number(col), col, "negative or non-finite volume")
            for col in ("volume", "quote_volume", "taker_buy_volume")
        ],
        (c("high") < c("low"), "high", "high is below low"),
        *[
            ((c(col) > c("high")) | (c(col) < c("low")), col, "outside the bar's [low, high] range")
            for col in ("open", "close")
        ],
        (
            c("taker_buy_volume") > c("volume") * (1 + 1e-9),
            "taker_buy_volume",
            "taker buy volume exceeds the bar's volume",
        ),
    ]
