"""Scan the catalog: features and signals of many stored series at once, plus cross-venue signals.

Reads run on a few threads (Parquet decoding releases the GIL), features and signals of all series
go through one parallel kernel call each. Per-symbol settings (``Settings.for_symbol``) apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from oiradar.config import Settings
from oiradar.errors import SeriesNotFound
from oiradar.features import compute_features_many
from oiradar.model import MarginType, SeriesKey, Timeframe, margin_type, parse_symbol
from oiradar.signals.cross import exchange_divergence, margin_divergence
from oiradar.signals.frame import analyse_many, detect_many, empty_events, signal_states
from oiradar.store import Catalog
from oiradar.timeutil import iso_utc


@dataclass(frozen=True)
class ScanResult:
    """Events of a scan, and the features of every scanned series (for views built on top)."""

    events: pl.DataFrame
    features: dict[SeriesKey, pl.DataFrame]


def markets(
    catalog: Catalog,
    timeframe: Timeframe,
    exchanges: Sequence[str] = (),
    symbols: Sequence[str] = (),
) -> list[SeriesKey]:
    """Distinct stored (exchange, symbol) pairs as keys of ``timeframe``, filtered."""
    pairs = sorted({(k.exchange, k.symbol) for k in catalog.stored_keys()})
    return [
        SeriesKey(exchange=e, symbol=s, timeframe=timeframe)
        for e, s in pairs
        if (not exchanges or e in exchanges) and (not symbols or s in symbols)
    ]


def read_many(catalog: Catalog, keys: Sequence[SeriesKey], threads: int = 4) -> list[pl.DataFrame]:
    """``catalog.read_bars`` of every key (resampled where needed), a few at a time."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(catalog.read_bars, keys))


def scan(
    catalog: Catalog,
    settings: Settings,
    timeframe: Timeframe,
    exchanges: Sequence[str] = (),
    symbols: Sequence[str] = (),
    since: int | None = None,
) -> ScanResult:
    """Events of every matching stored series at ``timeframe`` with ``ts >= since``."""
    keys = markets(catalog, timeframe, exchanges, symbols)
    return scan_bars(read_many(catalog, keys), keys, settings, since)


def scan_bars(
    bars: Sequence[pl.DataFrame],
    keys: Sequence[SeriesKey],
    settings: Settings,
    since: int | None = None,
) -> ScanResult:
    """Events of the series ``bars`` (one frame per key, all of one timeframe), cross-venue
    signals included, with ``ts >= since``."""
    if not keys:
        return ScanResult(empty_events(), {})
    timeframe = keys[0].timeframe
    per_symbol = [settings.for_symbol(k.symbol) for k in keys]
    frames, events = analyse_many(list(bars), list(keys), per_symbol)
    feats = dict(zip(keys, frames, strict=True))
    parts = [events, *_cross(feats, timeframe, settings)]
    events = pl.concat([p for p in parts if p.height] or [empty_events()])
    if since is not None:
        events = events.filter(pl.col("ts") >= since)
    return ScanResult(events.sort("ts", "exchange", "symbol", "signal", "side"), feats)


# ccxt splits some venues by margin type; margin_divergence pairs the contracts of one venue.
VENUE_FAMILIES = {"binanceusdm": "binance", "binancecoinm": "binance", "krakenfutures": "kraken"}


def venue_family(exchange: str) -> str:
    """``binanceusdm`` and ``binancecoinm`` are one venue, Binance; other ids stand for themselves."""
    return VENUE_FAMILIES.get(exchange, exchange)


def _cross(
    feats: dict[SeriesKey, pl.DataFrame], tf: Timeframe, settings: Settings
) -> Iterable[pl.DataFrame]:
    """exchange_divergence per symbol on >= 2 venues; margin_divergence per venue and base."""
    by_symbol: dict[str, dict[str, pl.DataFrame]] = defaultdict(dict)
    by_base: dict[tuple[str, str], dict[str, pl.DataFrame]] = defaultdict(dict)
    for key, frame in feats.items():
        if key.exchange == "all":  # a sum over venues is not a venue: --exchange all pairs its own
            continue
        legs = frame.select("ts", "oi", "complete")
        by_symbol[key.symbol][key.exchange] = legs
        by_base[(venue_family(key.exchange), parse_symbol(key.symbol)[0])][key.symbol] = legs
    for symbol, venues in by_symbol.items():
        if len(venues) >= 2:
            yield exchange_divergence(venues, symbol, tf, settings.for_symbol(symbol))
    for (exchange, _base), contracts in by_base.items():
        kinds = {margin_type(s) for s in contracts}
        if kinds == {MarginType.LINEAR, MarginType.INVERSE}:
            yield margin_divergence(contracts, exchange, tf, settings)


def with_liquidations(catalog: Catalog, key: SeriesKey, bars: pl.DataFrame) -> pl.DataFrame:
    """``bars`` plus ``liquidations``: the realized liquidation notional (quote) per bar from the
    catalog, 0 inside the recorded span and null outside it (unknown is not zero). The cascade
    phase needs it for its "liquidations burst" condition; without records, ``bars`` as given."""
    liq = catalog.read_liquidations(key.exchange, key.symbol)
    if liq.is_empty() or bars.is_empty():
        return bars
    step = key.timeframe.ms
    first, last = int(liq["ts"].min()), int(liq["ts"].max())  # type: ignore[arg-type]
    per_bar = liq.group_by((pl.col("ts") - pl.col("ts") % step).alias("ts")).agg(
        pl.col("quote_qty").sum().alias("liquidations")
    )
    inside = (pl.col("ts") + step > first) & (pl.col("ts") <= last)
    return bars.join(per_bar, on="ts", how="left").with_columns(
        pl.when(inside).then(pl.col("liquidations").fill_null(0.0)).alias("liquidations")
    )


MTF_TIMEFRAMES = (Timeframe.M15, Timeframe.H1, Timeframe.H4, Timeframe.D1)
MTF_ROWS = (
    "bar", "close", "oi", "oi_z_30d", "oi_chg_7d", "oi_vol_ratio", "oi_dd", "oi_down_streak",
    "near_high", "new_high", "rejection", "atr_14", "phase", "active", "last_event",
)  # fmt: skip


def multi_timeframe(
    catalog: Catalog,
    settings: Settings,
    exchange: str,
    symbol: str,
    timeframes: Sequence[Timeframe] = MTF_TIMEFRAMES,
    load: Callable[[SeriesKey], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """One column per timeframe, one row per metric: the latest complete bar of each timeframe.

    ``active`` lists the signal states true on that bar; ``last_event`` the newest event.
    ``load`` reads a key's bars (default: ``catalog.read_bars``; the app joins price links).
    """
    s = settings.for_symbol(symbol)
    cols: dict[str, list[str]] = {"metric": list(MTF_ROWS)}
    for tf in timeframes:
        key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=tf)
        try:
            bars = (load or catalog.read_bars)(key)
        except SeriesNotFound:  # e.g. 15m asked, only 1h stored: cannot be made finer
            cols[tf.value] = ["not stored", *[""] * (len(MTF_ROWS) - 1)]
            continue
        feats = compute_features_many([with_liquidations(catalog, key, bars)], tf, [s])[0]
        cols[tf.value] = _mtf_column(feats, key, s)
    return pl.DataFrame(cols)


def _mtf_column(feats: pl.DataFrame, key: SeriesKey, s: Settings) -> list[str]:
    states = signal_states(feats, key.timeframe, s)
    done = feats.with_row_index("_i").filter(pl.col("complete"))
    if done.is_empty():
        return ["no complete bar", *[""] * (len(MTF_ROWS) - 1)]
    i = int(done["_i"][-1])
    row = feats.row(i, named=True)
    st = states.row(i, named=True)
    events = detect_many([feats], [key], [s])
    last = events.tail(1).row(0, named=True) if events.height else None
    values = {
        **row,
        "bar": iso_utc(row["ts"]),
        "phase": st["phase"] or "",
        "active": " ".join(n for n, v in st.items() if v is True) or "-",
        "last_event": f"{last['signal']} {last['side']} {iso_utc(last['ts'])}" if last else "-",
    }
    return [_fmt(values.get(name)) for name in MTF_ROWS]


def _fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
