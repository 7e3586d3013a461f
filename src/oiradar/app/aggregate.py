"""``--exchange all``: the open interest of a base asset summed over venues and contracts.

Each leg (a stored venue contract of the base, filtered by ``--margin``) is loaded as any series is
(its price link or ``--prices``, ``oi = oi_value / close`` where only the USD value is stored), so
every leg's ``oi`` is in **base units** (BTC): USDT-margined contracts count base units already,
coin-margined ones are stored in base units by the importers (Binance COIN-M contracts x size /
close) or in USD (Coinalyze) and divided by the close here. Summing base units is honest across
venues and margin types; summing USD values would add each venue's price too.

The summed series is derived, never stored: ``exchange`` = ``all``, symbol ``BTC/USDT:USDT``
(``--margin usdt``), ``BTC/USD:BTC`` (``coin``) or ``BTC/USD`` (``all``). Per bar it carries its
provenance: ``venues`` (the legs summed at that bar) and ``n_venues``. A leg that starts or stops
changes the sum by its own OI: read ``n_venues`` before reading a jump as a market move.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import polars as pl

from oiradar.app.series import (
    ALL_VENUES,
    PRICE_COLUMNS,
    LoadedSeries,
    Market,
    SeriesOptions,
    each_series,
    join_prices,
    load_series,
    read_built,
    stored_markets,
)
from oiradar.errors import InputError
from oiradar.model import SeriesKey, parse_symbol
from oiradar.store import Catalog


def leg_keys(catalog: Catalog, key: SeriesKey, opts: SeriesOptions) -> list[SeriesKey]:
    """The stored contracts of ``key``'s base asset that ``opts.margin`` admits, at its timeframe
    (spot markets aside: they have no open interest)."""
    base = parse_symbol(key.symbol)[0]
    legs = [
        SeriesKey(exchange=e, symbol=s, timeframe=key.timeframe)
        for e, s in stored_markets(catalog)
        if e != ALL_VENUES and _is_contract(s, base) and opts.margin.admits(s)
    ]
    if not legs:
        raise InputError(
            f"--exchange all: no stored {opts.margin.value}-margined contract of {base} "
            "(--margin usdt, coin or all)"
        )
    return legs


def _is_contract(symbol: str, base: str) -> bool:
    """A derivative (``BASE/QUOTE:SETTLE``) of ``base``; spot (``BTC/USDT``) has no OI."""
    b, _quote, settle = parse_symbol(symbol)
    return b == base and settle is not None


def aggregate_series(
    catalog: Catalog, key: SeriesKey, opts: SeriesOptions, *, need: Sequence[str] = ("close", "oi")
) -> LoadedSeries:
    """The OI of ``key``'s base asset summed over its venues' contracts, with provenance."""
    base = parse_symbol(key.symbol)[0]
    out_key = SeriesKey(
        exchange=ALL_VENUES, symbol=opts.margin.symbol(base), timeframe=key.timeframe
    )
    leg_opts = SeriesOptions(prices=opts.prices, from_timeframe=opts.from_timeframe)
    legs, skipped = each_series(
        leg_keys(catalog, key, opts),
        lambda k: load_series(catalog, k, leg_opts, need=("oi",)),
        f"--exchange all {base}",
    )
    summed = sum_legs(legs)
    notes = [f"OI summed in base units over {len(legs)} contract(s): "
             + ", ".join(f"{x.key.exchange} {x.key.symbol}" for x in legs)]  # fmt: skip
    notes += [f"not summed: {s.series}: {s.why}" for s in skipped]
    price, how = _price_source(legs, opts)
    if price is not None:
        px, _ = read_built(catalog, price.key(key.timeframe), None)
        summed = join_prices(px, summed)
        notes.append(f"prices from {price} ({how})")
    bars = summed.sort("ts")
    if "close" not in bars.columns:  # no leg has its own prices and none is linked
        bars = bars.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in PRICE_COLUMNS)
    if "close" in need and bars["close"].null_count() == bars.height:
        raise InputError(
            f"{out_key}: none of its contracts has prices; pass --prices EXCHANGE:SYMBOL"
        )
    return LoadedSeries(out_key, bars, tuple(notes), "" if price is None else str(price))


def _price_source(legs: list[LoadedSeries], opts: SeriesOptions) -> tuple[Market | None, str]:
    """``--prices``, else the price series most legs take theirs from (a link)."""
    if opts.prices is not None:
        return opts.prices, "--prices"
    linked = Counter(x.prices for x in legs if x.prices)
    if not linked:
        return None, ""
    name, n = linked.most_common(1)[0]
    return Market.parse(name), f"the prices of {n} of the {len(legs)} contracts"


def sum_legs(legs: Sequence[LoadedSeries]) -> pl.DataFrame:
    """One bar per ``ts``: ``oi`` and ``oi_value`` summed over the legs that have a value there,
    ``funding_rate`` their mean, ``complete`` when every summed leg's bar is, the OHLCV of the leg
    with the most closes (own prices), and ``venues`` / ``n_venues`` (provenance)."""
    long = pl.concat(
        [
            leg.bars.filter(pl.col("oi").is_not_null()).select(
                "ts",
                pl.col("oi").cast(pl.Float64),
                pl.col("oi_value").cast(pl.Float64),
                pl.col("funding_rate").cast(pl.Float64),
                pl.col("complete").fill_null(False),
                pl.lit(f"{leg.key.exchange} {leg.key.symbol}").alias("venue"),
            )
            for leg in legs
        ]
    )
    summed = long.group_by("ts").agg(
        pl.col("oi").sum(),
        pl.when(pl.col("oi_value").is_not_null().any())
        .then(pl.col("oi_value").sum())
        .alias("oi_value"),
        pl.col("funding_rate").mean(),
        pl.col("complete").all(),
        pl.col("venue").sort().str.join(", ").alias("venues"),
        pl.len().alias("n_venues"),
    )
    own = max(legs, key=lambda x: x.bars["close"].count() if not x.prices else -1)
    if own.prices or own.bars["close"].count() == 0:
        return summed.sort("ts")
    price_cols = [c for c in PRICE_COLUMNS if c in own.bars.columns]
    px = own.bars.select("ts", *price_cols, "complete").filter(pl.col("close").is_not_null())
    return join_prices(px, summed).sort("ts")


__all__ = ["aggregate_series", "leg_keys", "sum_legs"]
