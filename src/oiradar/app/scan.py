"""``scan``: the signal events of every stored series; ``--mtf``: one market across timeframes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from oiradar.app.session import Session
from oiradar.errors import InputError
from oiradar.model import Timeframe
from oiradar.signals import SIGNALS, multi_timeframe, scan

KEY_COLUMNS = ("ts", "exchange", "symbol", "signal", "side", "close", "why")


@dataclass(frozen=True)
class ScanOptions:
    timeframe: Timeframe = Timeframe.H4
    exchanges: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    since: int | None = None  # epoch ms: events from then on
    signals: tuple[str, ...] = ()  # only these (all when empty)


@dataclass(frozen=True)
class ScanReport:
    events: pl.DataFrame  # EVENT_SCHEMA rows, sorted by time
    n_series: int
    timeframe: Timeframe


def check_signals(names: Sequence[str]) -> None:
    unknown = sorted(set(names) - set(SIGNALS))
    if unknown:
        raise InputError(f"unknown signal(s) {unknown}; valid: {', '.join(SIGNALS)}")


def scan_events(session: Session, opts: ScanOptions) -> ScanReport:
    """Features and signals of every matching stored series, cross-venue signals included."""
    check_signals(opts.signals)
    result = scan(session.catalog, session.settings, opts.timeframe, list(opts.exchanges),
                  list(opts.symbols), opts.since)  # fmt: skip
    events = result.events
    if opts.signals:
        events = events.filter(pl.col("signal").is_in(list(opts.signals)))
    return ScanReport(events, len(result.features), opts.timeframe)


@dataclass(frozen=True)
class TimeframeView:
    """One venue's latest complete bar of a symbol at 15m/1h/4h/1d: one column per timeframe."""

    exchange: str
    symbol: str
    frame: pl.DataFrame


def timeframe_views(session: Session, exchanges: Sequence[str], symbol: str) -> list[TimeframeView]:
    """The multi-timeframe view of ``symbol`` on each of ``exchanges`` (all storing it if empty)."""
    venues = list(exchanges) or sorted(
        {k.exchange for k in session.catalog.stored_keys() if k.symbol == symbol}
    )
    if not venues:
        raise InputError(f"no stored series for {symbol}")
    return [
        TimeframeView(v, symbol, multi_timeframe(session.catalog, session.settings, v, symbol))
        for v in venues
    ]


__all__ = [
    "KEY_COLUMNS",
    "ScanOptions",
    "ScanReport",
    "TimeframeView",
    "check_signals",
    "scan_events",
    "timeframe_views",
]
