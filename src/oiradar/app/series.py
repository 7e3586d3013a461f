"""Choosing stored series and loading their bars, with the prices taken from another series.

Some sources give OI without prices (Coinalyze): ``--prices EXCHANGE:SYMBOL`` names the series the
OHLCV come from, joined on ``ts`` with the OI, funding and long/short columns of the series studied.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog

PRICE_COLUMNS = ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume")
OI_COLUMNS = ("oi", "oi_value", "funding_rate", "long_short_ratio")


@dataclass(frozen=True)
class Market:
    """An (exchange, symbol) pair without a timeframe, e.g. the series ``--prices`` names."""

    exchange: str
    symbol: str

    @classmethod
    def parse(cls, text: str, option: str = "--prices") -> Market:
        """``EXCHANGE:SYMBOL`` (the symbol may hold colons itself: ``binance:BTC/USDT:USDT``)."""
        exchange, sep, symbol = text.partition(":")
        if not sep or not exchange or not symbol:
            raise InputError(f"{option} must be EXCHANGE:SYMBOL, got {text!r}")
        return cls(exchange, symbol)

    def key(self, timeframe: Timeframe) -> SeriesKey:
        return SeriesKey(exchange=self.exchange, symbol=self.symbol, timeframe=timeframe)

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol}"


def select_keys(
    catalog: Catalog, exchange: str | None, symbol: str | None, timeframe: Timeframe
) -> list[SeriesKey]:
    """Distinct stored (exchange, symbol) pairs matching the filters, at ``timeframe``."""
    pairs = sorted({(k.exchange, k.symbol) for k in catalog.stored_keys()
                    if exchange in (None, "", k.exchange) and symbol in (None, "", k.symbol)})  # fmt: skip
    if not pairs:
        raise InputError(
            f"no stored series matches exchange={exchange!r} symbol={symbol!r}; see `oiradar list`"
        )
    return [SeriesKey(exchange=e, symbol=s, timeframe=timeframe) for e, s in pairs]


def studied_keys(
    catalog: Catalog, exchange: str | None, symbol: str | None, timeframe: Timeframe,
    prices: Market | None,
) -> list[SeriesKey]:  # fmt: skip
    """:func:`select_keys`, less the price series itself when several series are selected."""
    keys = select_keys(catalog, exchange, symbol, timeframe)
    if prices is not None and len(keys) > 1:
        keys = [k for k in keys if (k.exchange, k.symbol) != (prices.exchange, prices.symbol)]
    return keys


def one_key(
    catalog: Catalog, exchange: str | None, symbol: str | None, timeframe: Timeframe,
    prices: Market | None,
) -> SeriesKey:  # fmt: skip
    """The single series the filters select; an error naming the candidates otherwise."""
    keys = studied_keys(catalog, exchange, symbol, timeframe, prices)
    if len(keys) != 1:
        names = ", ".join(f"{k.exchange} {k.symbol}" for k in keys[:6])
        raise InputError(f"choose one series with --exchange/--symbol; {len(keys)} match: {names}")
    return keys[0]


def load_bars(catalog: Catalog, key: SeriesKey, prices: Market | None = None) -> pl.DataFrame:
    """Bars of ``key``; with ``prices`` the OHLCV come from that series and OI/funding from ``key``."""
    bars = catalog.read_bars(key)
    if prices is None:
        if bars["close"].null_count() == bars.height:
            raise InputError(f"{key} has no prices (OI-only data); add --prices EXCHANGE:SYMBOL")
        return bars
    px = catalog.read_bars(prices.key(key.timeframe))
    price_part = px.select("ts", *PRICE_COLUMNS, pl.col("complete").alias("_pc"))
    oi_part = bars.select("ts", *OI_COLUMNS, "complete")
    joined = price_part.join(oi_part, on="ts", how="inner")
    # OI given only in USD (Coinalyze): base units = USD value / close of the price series
    joined = joined.with_columns(
        pl.coalesce("oi", pl.col("oi_value") / pl.col("close")).alias("oi")
    )
    return joined.with_columns((pl.col("complete") & pl.col("_pc")).alias("complete")).drop("_pc")


__all__ = ["Market", "load_bars", "one_key", "select_keys", "studied_keys"]
