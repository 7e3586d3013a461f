"""Live recording: OI polls (every poll kept, two clocks) and websocket liquidations.

``oiradar record`` runs two kinds of loop until stopped:

- **OI polls**: every ``poll_s`` seconds, the venue's current OI for each symbol. Every poll is
  stored, even when the value did not change (a repeated value says "still X at t"), with the
  venue's timestamp ``ts_venue`` and our receipt time ``ts_received`` (STYLE habit 14), through
  :func:`oiradar.store.append_polls` (the store owns the day files' layout and lock).
- **liquidations**: ccxt.pro's ``watch_liquidations`` on the venue's public stream (Binance
  ``forceOrder``, Bybit ``allLiquidation``, OKX ``liquidation-orders``,
  :class:`~oiradar.sources.clients.stream.LiquidationStream`). Each event becomes a canonical
  liquidation row (:func:`~oiradar.sources.decode.venues.live.liquidation_rows`) written with
  :meth:`~oiradar.store.Catalog.write_liquidations` (a repeated event is kept once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from oiradar.config import Settings
from oiradar.errors import SourceError, StoreError
from oiradar.model import Source, now_ms, symbol_slug
from oiradar.sources.clients.rest import RestClient
from oiradar.sources.clients.retry import RetryReport
from oiradar.sources.clients.stream import Events, LiquidationStream
from oiradar.sources.decode.venues import MarketInfo, venue_for
from oiradar.sources.decode.venues.live import liquidation_rows, poll_row
from oiradar.store import POLL_SCHEMA, Catalog, append_polls, recording_lock
from oiradar.store.atomic import LockBusy


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordOptions:
    exchange: str
    symbols: tuple[str, ...]
    poll_s: float = 60.0
    duration_s: float | None = None  # stop after this long (None: until cancelled)
    polls: bool = True
    liquidations: bool = True


@dataclass(kw_only=True, slots=True)
class RecordStats:
    """What a recording did so far: polls stored, liquidations added, stream reconnects, and the
    error of each poll that failed after every retry."""

    polls: int = 0
    liquidations: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)


class Recorder:
    """Runs the poll and liquidation loops of one venue until ``stop`` is set or time is up."""

    def __init__(self, opts: RecordOptions, catalog: Catalog, settings: Settings, report: RetryReport,
                 on_event: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.opts = opts
        self.catalog = catalog
        self.settings = settings
        self.report = report
        self.venue = venue_for(opts.exchange)
        self.stats = RecordStats()
        self.stop = asyncio.Event()
        self.on_event = on_event or (lambda _msg: None)
        self.markets: dict[str, MarketInfo] = {}

    async def run(self) -> RecordStats:
        """Record until stopped; refuses at once when a series is being recorded already."""
        with contextlib.ExitStack() as claims:
            for symbol in self.opts.symbols:
                claims.enter_context(self._claim(symbol))
            return await self._record()

    def _claim(self, symbol: str) -> contextlib.ExitStack[bool | None]:
        """Hold ``symbol``'s recording lock, or a StoreError naming who records it already."""
        home, exchange = self.catalog.home, self.opts.exchange
        claim = (Path(home).resolve(), exchange, symbol_slug(symbol))
        stack = contextlib.ExitStack()
        try:
            if claim in _CLAIMED:  # the lock is re-entrant: a second recorder here needs this
                raise LockBusy("", path=Path(home), holder="this process")
            stack.enter_context(recording_lock(home, exchange, symbol, timeout_s=0))
        except LockBusy as exc:
            raise StoreError(
                f"{exchange} {symbol} is already being recorded into {home} by {exc.holder}; "
                f"stop that `oiradar record` first, or record other symbols (two recorders of "
                f"one series would lose each other's polls)"
            ) from None
        _CLAIMED.add(claim)
        stack.callback(_CLAIMED.discard, claim)
        return stack

    async def _record(self) -> RecordStats:
        async with RestClient(
            self.opts.exchange, self.settings, self.report, self.venue.ccxt_options
        ) as rest:
            self.markets = {s: await rest.market(s) for s in self.opts.symbols}
            tasks = []
            if self.opts.polls:
                tasks.append(asyncio.create_task(self._poll_loop(rest)))
            if self.opts.liquidations:
                tasks.append(asyncio.create_task(self._stream().run(list(self.markets))))
            try:
                await self._until_stopped()
            finally:
                self.stop.set()
                for t in tasks:
                    t.cancel()
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            for outcome in outcomes:  # a loop that died of a bug is not hidden
                if isinstance(outcome, Exception):
                    raise outcome
        return self.stats

    async def _until_stopped(self) -> None:
        if self.opts.duration_s is None:
            await self.stop.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.opts.duration_s)

    async def _poll_loop(self, rest: RestClient) -> None:
        while not self.stop.is_set():
            rows = []
            for market in self.markets.values():
                try:
                    payload = await rest.call(self.venue.current_oi_call(market))
                    rows.append(poll_row(self.venue, market, payload, now_ms()))
                except SourceError as exc:  # after every retry: report, keep recording
                    self.stats.errors.append(str(exc))
            if rows:
                append_polls(self.catalog.home, pl.DataFrame(rows, schema=POLL_SCHEMA))
                self.stats.polls += len(rows)
                self.on_event(f"{len(rows)} OI polls")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.opts.poll_s)

    def _stream(self) -> LiquidationStream:
        return LiquidationStream(
            exchange_id=self.opts.exchange, settings=self.settings,
            options=self.venue.ccxt_options, report=self.report, stop=self.stop,
            on_events=self._store_liquidations, on_reconnect=self._count_reconnect,
        )  # fmt: skip

    def _count_reconnect(self) -> None:
        self.stats.reconnects += 1

    def _store_liquidations(self, events: Events) -> None:
        frame = liquidation_rows(self.venue, self.markets, events)
        if frame.height:
            written = self.catalog.write_liquidations(frame, Source.WS)
            self.stats.liquidations += written.rows_added
            self.on_event(f"{written.rows_added} liquidations")


_CLAIMED: set[tuple[Path, str, str]] = set()  # series recorded by this process


async def record(opts: RecordOptions, catalog: Catalog, settings: Settings, report: RetryReport,
                 on_event: Callable[[str], None] | None = None) -> RecordStats:  # fmt: skip
    return await Recorder(opts, catalog, settings, report, on_event).run()
