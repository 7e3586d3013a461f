"""``markets``, ``fetch`` and ``record``: the venues' data into the catalog.

The venue clients import ccxt (seconds): :mod:`oiradar.sources` loads them on first use only, so
importing this module stays cheap until a command talks to a venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from oiradar.app.session import Session
from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.model import Timeframe
from oiradar.sources import (
    FetchRequest,
    FetchResult,
    MarketList,
    Recorder,
    RecordOptions,
    RecordStats,
    RetryEvent,
    RetryReport,
    load_market_list,
    run_fetch,
)
from oiradar.store import Catalog
from oiradar.store.markets import MarketsCacheFile
from oiradar.timeutil import iso_utc

Tick = Callable[[int, int], None]  # (chunks done, chunks total)
OnRetry = Callable[[RetryEvent], None]


def markets(session: Session, exchange: str, on_retry: OnRetry | None = None) -> MarketList:
    """The venue's perpetuals and which data it offers (OHLCV, OI history depth, funding, ...).

    Each list loaded is kept under the home; offline, the kept one stands in (``cached_at``), and
    without one the command fails at once with a SourceError that says so."""
    report = RetryReport(on_event=on_retry)
    cache = MarketsCacheFile(session.home, offline_ok=True)
    return asyncio.run(load_market_list(exchange, session.settings, report, cache))


def offline_note(exchange: str, cached_at: int | None, reason: str) -> str | None:
    """The warning for a market list that came from the cache, or None when it came online."""
    if cached_at is None:
        return None
    return (f"{exchange} cannot be reached ({reason[:200]}); using its market list "
            f"kept at {iso_utc(cached_at)} UTC")  # fmt: skip


def resolve_symbols(settings: Settings, symbols: Sequence[str], all_symbols: bool) -> list[str]:
    """``--symbol`` values (repeatable, comma-separated) or every configured symbol."""
    if all_symbols:
        configured = list(settings.symbols)
        if not configured:
            raise InputError('--all-symbols: no [symbols."..."] sections in the configuration')
        return configured
    if not symbols:
        raise InputError("give --symbol (repeatable) or --all-symbols")
    return [s for arg in symbols for s in arg.split(",") if s]


@dataclass(frozen=True)
class FetchOptions:
    exchange: str
    symbols: tuple[str, ...]
    timeframe: Timeframe = Timeframe.H1
    since: int | None = None  # epoch ms
    until: int | None = None  # epoch ms; None: now
    repair: bool = False  # re-fetch the gaps `oiradar gaps` reports
    archive: bool = True  # Binance: the data.binance.vision archive first
    dry_run: bool = False  # plan only

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InputError(f"--since {iso_utc(self.since)} is not before "
                             f"--until {iso_utc(self.until)}: swap them")  # fmt: skip

    def requests(self) -> list[FetchRequest]:
        return [FetchRequest(exchange=self.exchange, symbol=s, timeframe=self.timeframe,
                             since=self.since, until=self.until, repair=self.repair,
                             archive=self.archive) for s in self.symbols]  # fmt: skip


@dataclass(frozen=True)
class FetchReport:
    results: list[FetchResult]
    retries: RetryReport
    dry_run: bool

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def notes(self) -> list[str]:
        """Warnings about the run as a whole (a market list taken from the cache, offline)."""
        seen = {(r.plan.key.exchange, r.markets_cached_at, r.offline_reason) for r in self.results}
        return [n for e, at, why in sorted(seen, key=str) if (n := offline_note(e, at, why))]


def fetch(
    session: Session, opts: FetchOptions, *, on_retry: OnRetry | None = None,
    progress: Callable[[str], Tick] | None = None,
) -> FetchReport:  # fmt: skip
    """Fetch (or plan, with ``dry_run``) every requested series, one after the other.

    ``progress(label)`` gives the tick callback of one series; resumable: whole chunks are stored."""
    report = RetryReport(on_event=on_retry)
    results = asyncio.run(
        _fetch_all(opts, session.catalog, session.settings, report, progress)
    )
    return FetchReport(results, report, opts.dry_run)


async def _fetch_all(
    opts: FetchOptions, catalog: Catalog, settings: Settings, report: RetryReport,
    progress: Callable[[str], Tick] | None,
) -> list[FetchResult]:  # fmt: skip
    results = []
    cache = MarketsCacheFile(catalog.home, offline_ok=opts.dry_run)
    for req in opts.requests():
        tick = progress(str(req.key)) if progress is not None else None
        results.append(await run_fetch(req, catalog, settings, report, dry_run=opts.dry_run,
                                       progress=tick, cache=cache))  # fmt: skip
    return results


@dataclass(frozen=True)
class RecordReport:
    stats: RecordStats
    retries: RetryReport


def record(
    session: Session, opts: RecordOptions, *, on_event: Callable[[str], None] | None = None,
    on_retry: OnRetry | None = None,
) -> RecordReport:  # fmt: skip
    """Poll OI every interval (every poll kept) and stream liquidations until time is up or
    KeyboardInterrupt; ``on_event`` hears connections, reconnects and errors as they happen."""
    report = RetryReport(on_event=on_retry)
    rec = Recorder(opts, session.catalog, session.settings, report, on_event=on_event)
    return RecordReport(asyncio.run(rec.run()), report)


__all__ = [
    "FetchOptions",
    "FetchReport",
    "MarketList",
    "RecordOptions",
    "RecordReport",
    "RetryEvent",
    "RetryReport",
    "fetch",
    "markets",
    "offline_note",
    "record",
    "resolve_symbols",
]
