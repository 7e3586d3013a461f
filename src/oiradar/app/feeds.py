"""Live bar feeds for ``oiradar watch``: what keeps each watched series current in the catalog.

A feed stores the bars of a series that closed by a given instant and says which is the last one.
Three kinds, one interface (:class:`Feed`):

- :class:`VenueFeed`: a real venue (or the local fake exchange) through the same fetch code as
  ``oiradar fetch`` (chunks, retries, archive first for the backfill). A gap left by an outage is
  fetched on the next update, since a fetch plans from the series' last stored bar.
- :class:`RevealFeed`: a history known in advance, revealed bar by bar as a clock passes each bar's
  close. With a simulated history it is the **simulated live venue** (``-e sim``, a clock that
  ``--sim-speed`` accelerates); with a stored history and a clock a test drives, a replay.

Every feed is asked for bars "closed by" an instant; the watch loop never evaluates a bar before
its close, so a still-forming bar is never alerted on.
"""

from __future__ import annotations

import asyncio
import json
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import polars as pl

from oiradar.app.session import Session
from oiradar.errors import SourceError
from oiradar.model import DAY_MS, SeriesKey, now_ms
from oiradar.sim import simulate
from oiradar.sources import FetchRequest, Recorder, RecordOptions, RetryReport, run_fetch
from oiradar.store.ledger import Ledger
from oiradar.store.markets import MarketsCacheFile
from oiradar.timeutil import duration_ms, iso_utc

if TYPE_CHECKING:
    from oiradar.sources.ingest.fetch import VenueClients

Clock = Callable[[], int]  # epoch ms


wall_ms = now_ms  # the wall clock (a simulated venue's runs faster)


class Feed(Protocol):
    def now(self) -> int:
        """The venue's time (epoch ms)."""
        ...

    def wall_wait_s(self, venue_ms: int) -> float:
        """Real seconds until the venue's clock shows ``venue_ms``."""
        ...

    async def update(self, key: SeriesKey, closed_by: int) -> int | None:
        """Store the bars of ``key`` closed by ``closed_by``; the last stored bar's open time."""
        ...

    async def aclose(self) -> None: ...


def last_stored(session: Session, key: SeriesKey) -> int | None:
    return session.catalog.last_ts(key)


class RevealFeed:
    """``histories`` revealed as ``clock`` passes each bar's close (written to the catalog)."""

    def __init__(self, session: Session, histories: Mapping[SeriesKey, pl.DataFrame],
                 clock: Clock, speed: float = 1.0) -> None:  # fmt: skip
        self.session = session
        self.histories = dict(histories)
        self.clock = clock
        self.speed = speed
        self._written: dict[SeriesKey, int | None] = {}

    def now(self) -> int:
        return self.clock()

    def wall_wait_s(self, venue_ms: int) -> float:
        return max(0.0, (venue_ms - self.now()) / 1000 / self.speed)

    async def update(self, key: SeriesKey, closed_by: int) -> int | None:
        if key not in self.histories:
            raise SourceError(f"{key}: not a series of this feed")
        if key not in self._written:
            self._written[key] = last_stored(self.session, key)
        hist, done = self.histories[key], self._written[key]
        tf = key.timeframe.ms
        new = hist.filter(pl.col("ts") + tf <= closed_by)
        if done is not None:
            new = new.filter(pl.col("ts") > done)
        if new.height:
            self.session.catalog.write_bars(key, new.drop("source", "ingested_at", strict=False),
                                            source="sim")  # fmt: skip
            self._written[key] = int(new["ts"][-1])
        elif hist.height and int(hist["ts"][-1]) + tf <= closed_by and done == int(hist["ts"][-1]):
            raise SourceError(f"{key}: the simulated market ends at "
                              f"{iso_utc(int(hist['ts'][-1]) + tf)} UTC; start afresh in a new "
                              "--home, or reset this one with `oiradar demo --fresh`")  # fmt: skip
        return self._written[key]

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class SimClock:
    """Simulated time: ``anchor_sim`` at wall time ``anchor_wall``, running ``speed`` times faster.
    ``origin``: where the simulated market's live part begins (fixed at the first start)."""

    anchor_wall: int
    anchor_sim: int
    speed: float
    origin: int

    def now(self) -> int:
        return self.anchor_sim + int((wall_ms() - self.anchor_wall) * self.speed)


SIM_LIVE_DAYS = 60  # simulated after the origin: at 3600x speed, 1h bars last 24 minutes


def sim_clock(ledger: Ledger, speed: float, step_ms: int) -> SimClock:
    """The simulated venue's clock, kept in the ledger. It runs only while ``watch`` runs: a
    restarted watch resumes at the simulated time it had reached (:func:`save_sim_clock`), on the
    same simulated market, at the speed now asked for.

    The first start places the market's live part 60 days before the wall clock, so the simulated
    span ends "now": its bars are never in the future of the wall clock, and every command that
    reads "bars closed by now" (``brief``, ``paper status``) sees all of them."""
    raw = ledger.get("sim_clock")
    now = wall_ms()
    if raw is not None:
        old = json.loads(raw)
        clock = SimClock(now, int(old["anchor_sim"]), speed, int(old.get("origin", old["anchor_sim"])))
    else:
        start = now - SIM_LIVE_DAYS * DAY_MS
        start -= start % step_ms
        clock = SimClock(now, start, speed, start)
    save_sim_clock(ledger, clock)
    return clock


def save_sim_clock(ledger: Ledger, clock: SimClock) -> None:
    """Keep the simulated time reached (the watch loop calls it after every pass)."""
    wall = wall_ms()
    sim = clock.anchor_sim + int((wall - clock.anchor_wall) * clock.speed)
    ledger.put("sim_clock", json.dumps({"anchor_wall": wall, "anchor_sim": sim,
                                        "speed": clock.speed, "origin": clock.origin}))  # fmt: skip


def sim_seed(base: int, key: SeriesKey) -> int:
    """Each simulated market its own path: the configured seed mixed with the series' name."""
    return (base * 1_000_003 + zlib.crc32(f"{key.symbol} {key.timeframe.value}".encode())) % 2**31


def sim_histories(
    session: Session, keys: list[SeriesKey], clock: SimClock, history: str
) -> dict[SeriesKey, pl.DataFrame]:
    """One simulated market per series, starting ``history`` before the clock's origin (whole
    days) and running :data:`SIM_LIVE_DAYS` beyond it; a pure function of the seed and origin."""
    cfg = session.settings.sim
    back_days = math.ceil(duration_ms(history) / DAY_MS) + 1
    start = clock.origin - clock.origin % DAY_MS - back_days * DAY_MS
    out = {}
    for key in keys:
        res = simulate(cfg.preset, days=back_days + SIM_LIVE_DAYS, seed=sim_seed(cfg.seed, key),
                       timeframe=key.timeframe, start=start)  # fmt: skip
        out[key] = res.bars
    return out


class VenueFeed:
    """A venue through ``oiradar fetch``'s code: the first update backfills ``history`` (archive
    first where the venue has one), later ones fetch from the last stored bar.

    One set of clients serves every update (:class:`~oiradar.sources.ingest.fetch.VenueClients`):
    a ccxt client opened per update cost about 0.3 s of set-up, market list and closing pause per
    series and bar (``bench/bench_watch.py``). They are opened in the running event loop and
    opened again if a later update runs in another one; :meth:`aclose` closes them."""

    def __init__(self, session: Session, exchange: str, history: str, report: RetryReport,
                 clock: Clock = wall_ms) -> None:  # fmt: skip
        self.session = session
        self.clock = clock
        self.exchange = exchange
        self.history_ms = duration_ms(history)
        self.report = report
        self._seen: set[SeriesKey] = set()
        self._cache = MarketsCacheFile(session.home, offline_ok=False)
        self._clients: VenueClients | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def now(self) -> int:
        return self.clock()

    def wall_wait_s(self, venue_ms: int) -> float:
        return max(0.0, (venue_ms - self.now()) / 1000)

    async def update(self, key: SeriesKey, closed_by: int) -> int | None:
        last = last_stored(self.session, key)
        first = key not in self._seen
        since = closed_by - self.history_ms if last is None else last
        req = FetchRequest(exchange=self.exchange, symbol=key.symbol, timeframe=key.timeframe,
                           since=since, until=closed_by, archive=first)  # fmt: skip
        if since + key.timeframe.ms <= closed_by:
            result = await run_fetch(req, self.session.catalog, self.session.settings, self.report,
                                     now=closed_by, clients=await self._open())  # fmt: skip
            if not result.ok:
                chunk, why = result.failed[0]
                raise SourceError(f"{key}: fetch failed for {iso_utc(chunk.start)}.."
                                  f"{iso_utc(chunk.end)} UTC: {why}")  # fmt: skip
        self._seen.add(key)
        return last_stored(self.session, key)

    async def _open(self) -> VenueClients:
        loop = asyncio.get_running_loop()
        if self._clients is not None and self._loop is not loop:
            self._clients = None  # made in a loop that is gone: its HTTP sessions went with it
        if self._clients is None:
            from oiradar.sources.ingest.fetch import VenueClients

            self._clients = VenueClients(self.exchange, self.session.settings, self.report,
                                         cache=self._cache)  # fmt: skip
            self._loop = loop
        return self._clients

    async def aclose(self) -> None:
        clients, self._clients = self._clients, None
        if clients is not None and self._loop is asyncio.get_running_loop():
            await clients.aclose()


def liquidation_stream(
    session: Session, exchange: str, symbols: list[str], report: RetryReport,
    on_event: Callable[[str], None] | None = None,
) -> Recorder:  # fmt: skip
    """The venue's liquidation websocket into the catalog (``oiradar record``'s stream, without its
    OI polls): run ``.run()`` as a task, set ``.stop`` to end it. It reconnects by itself, and a
    liquidation the venue sends again is stored once."""
    opts = RecordOptions(exchange=exchange, symbols=tuple(symbols), polls=False, liquidations=True)
    return Recorder(opts, session.catalog, session.settings, report, on_event=on_event)


__all__ = [
    "SIM_LIVE_DAYS",
    "Clock",
    "Feed",
    "RevealFeed",
    "SimClock",
    "VenueFeed",
    "last_stored",
    "liquidation_stream",
    "save_sim_clock",
    "sim_clock",
    "sim_histories",
    "sim_seed",
    "wall_ms",
]
