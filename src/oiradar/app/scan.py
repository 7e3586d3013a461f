"""``scan``: the signal events of every stored series; ``--mtf``: one market across timeframes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import polars as pl

from oiradar.app.availability import with_input_notes
from oiradar.app.batches import (
    LOCAL,
    BatchOptions,
    Indexed,
    Tried,
    base_asset,
    estimate_rows,
    plan_batches,
    run_batches,
    settle,
    try_each,
)
from oiradar.app.series import (
    ALL_VENUES,
    AS_STORED,
    LoadedSeries,
    Margin,
    SeriesOptions,
    Skipped,
    load_series,
    select_keys,
    summary_notes,
)
from oiradar.app.session import Session
from oiradar.errors import InputError, OiradarError
from oiradar.evidence.pipeline import DERIVED_SIGNALS, derived_events
from oiradar.model import SeriesKey, Timeframe
from oiradar.signals import (
    SIGNALS,
    empty_events,
    margin_divergence,
    multi_timeframe,
    scan_bars,
)

KEY_COLUMNS = ("ts", "exchange", "symbol", "signal", "side", "close", "why")


@dataclass(frozen=True)
class ScanOptions:
    timeframe: Timeframe = Timeframe.H4
    exchanges: tuple[str, ...] = ()  # "all": OI summed over the venues, per base asset
    symbols: tuple[str, ...] = ()
    since: int | None = None  # epoch ms: events from then on
    signals: tuple[str, ...] = ()  # only these (all when empty)
    series: SeriesOptions = field(default_factory=SeriesOptions)  # --prices, --from-timeframe...


@dataclass(frozen=True)
class ScanReport:
    events: pl.DataFrame  # EVENT_SCHEMA rows, sorted by time
    n_series: int
    timeframe: Timeframe
    skipped: tuple[Skipped, ...] = ()  # series that could not be scanned, and why
    notes: tuple[str, ...] = ()  # how the scanned series were built (timeframes, prices, sums)


def check_signals(names: Sequence[str]) -> None:
    unknown = sorted(set(names) - set(SIGNALS))
    if unknown:
        raise InputError(f"unknown signal(s) {unknown}; valid: {', '.join(SIGNALS)}")


def scan_events(session: Session, opts: ScanOptions, batch: BatchOptions = LOCAL) -> ScanReport:
    """Features and signals of every matching stored series, cross-venue signals included.

    A series that cannot be scanned (no prices, no OI, no stored timeframe that builds the asked
    one) is skipped and reported; the scan fails only when no series could be read. The series
    are read and scanned in batches (``batch``, default ``[performance]``), the legs of one base
    asset together, and only each batch's events are kept (:mod:`oiradar.app.batches`)."""
    check_signals(opts.signals)
    catalog, so = session.catalog, opts.series
    keys = select_keys(catalog, opts.exchanges, opts.symbols, opts.timeframe, so.margin)
    if so.prices is not None and len(keys) > 1:
        keys = [k for k in keys if (k.exchange, k.symbol) != so.prices.pair]
    b = batch.resolved(session.settings)
    rows = partial(estimate_rows, catalog) if len(keys) > 1 else None
    plan = plan_batches(keys, b.series or 1, b.rows, rows, base_asset)
    parts: list[pl.DataFrame] = []
    tried: list[Tried[tuple[SeriesKey, tuple[str, ...]]]] = []
    for events, done in run_batches(session, scan_batch, (opts, len(keys) == 1), plan, b):
        parts.append(events)
        tried += done
    loaded, skipped = settle(tried, "scan")
    events = pl.concat([p for p in parts if p.height] or [empty_events()])
    events = events.sort("ts", "exchange", "symbol", "signal", "side")
    return ScanReport(events, len(loaded), opts.timeframe, tuple(skipped),
                      tuple(summary_notes(loaded)))  # fmt: skip


def scan_batch(
    session: Session, opts: ScanOptions, strict: bool, batch: Indexed
) -> tuple[pl.DataFrame, list[Tried[tuple[SeriesKey, tuple[str, ...]]]]]:
    """One batch of :func:`scan_events`: its events (filtered by ``since`` and ``signals``) and
    what became of each key (its notes, or why it was skipped). Nothing else outlives the call."""
    catalog, so = session.catalog, opts.series
    tried = try_each(batch, lambda k: with_input_notes(load_series(catalog, k, so)), strict)
    loaded = [t.value for t in tried if t.value is not None]
    result = scan_bars([x.bars for x in loaded], [x.key for x in loaded], session.settings)
    parts = [result.events]
    derived = [n for n in DERIVED_SIGNALS if n in opts.signals]  # costly: only when named
    if derived:
        parts += [derived_events(f, k, session.settings.for_symbol(k.symbol), derived)
                  for k, f in result.features.items()]  # fmt: skip
    if ALL_VENUES in opts.exchanges and so.margin is Margin.ALL:
        parts += _summed_margin_divergence(session, loaded, opts)
    events = pl.concat([p for p in parts if p.height] or [result.events])
    if opts.since is not None:
        events = events.filter(pl.col("ts") >= opts.since)
    if opts.signals:
        events = events.filter(pl.col("signal").is_in(list(opts.signals)))
    noted = [Tried(t.index, None if t.value is None else (t.value.key, t.value.notes), t.skipped)
             for t in tried]  # fmt: skip
    return events, noted


def _summed_margin_divergence(
    session: Session, loaded: list[LoadedSeries], opts: ScanOptions
) -> list[pl.DataFrame]:
    """margin_divergence between the USDT- and the coin-margined sums of each summed base."""
    out = []
    for series in loaded:
        if series.key.exchange != ALL_VENUES:
            continue
        legs = {}
        for margin in (Margin.USDT, Margin.COIN):
            key = series.key
            so = SeriesOptions(opts.series.prices, opts.series.from_timeframe, margin)
            try:
                legs[margin.symbol(key.symbol.split("/")[0])] = load_series(
                    session.catalog, key, so, need=("oi",)).bars  # fmt: skip
            except OiradarError:  # no contract of that margin type: nothing to compare
                break
        else:
            out.append(margin_divergence(legs, ALL_VENUES, opts.timeframe, session.settings))
    return out


@dataclass(frozen=True)
class TimeframeView:
    """One venue's latest complete bar of a symbol at 15m/1h/4h/1d: one column per timeframe."""

    exchange: str
    symbol: str
    frame: pl.DataFrame


def timeframe_views(
    session: Session, exchanges: Sequence[str], symbol: str, series: SeriesOptions = AS_STORED
) -> list[TimeframeView]:
    """The multi-timeframe view of ``symbol`` on each of ``exchanges`` (all storing it if empty)."""
    catalog = session.catalog
    venues = list(exchanges) or sorted({e for e, s in _markets(session) if s == symbol})
    if not venues:
        raise InputError(f"--symbol {symbol!r}: no series stored for it; stored: "
                         + ", ".join(f"{e} {s}" for e, s in _markets(session)))  # fmt: skip

    def load(key: SeriesKey) -> pl.DataFrame:
        try:
            return load_series(catalog, key, series, need=()).bars
        except InputError:  # no prices at this timeframe: the OI alone, blanks for the rest
            return catalog.read_bars(key)

    return [
        TimeframeView(v, symbol, multi_timeframe(catalog, session.settings, v, symbol, load=load))
        for v in venues
    ]


def _markets(session: Session) -> list[tuple[str, str]]:
    return sorted({(k.exchange, k.symbol) for k in session.catalog.stored_keys()})


__all__ = [
    "KEY_COLUMNS",
    "ScanOptions",
    "ScanReport",
    "TimeframeView",
    "check_signals",
    "scan_batch",
    "scan_events",
    "timeframe_views",
]
