"""Fetch a series' history into the catalog: plan, stitch archive + REST, resume, repair.

A fetch of ``(exchange, symbol, timeframe)`` over ``[since, until)`` is cut into **chunks** of whole
UTC days (one day for 5m bars, up to 30 days for coarse ones). Each chunk is fetched completely
(klines, OI, funding, long/short ratio), stitched into one frame and written with **one**
:meth:`~oiradar.store.Catalog.write_bars` call, which is atomic. So:

- **resumable**: a chunk whose bars are all in the catalog (with some OI, where the venue can
  still give it) is skipped; a fetch killed mid-way left only whole chunks behind and the next
  run does the rest;
- **idempotent**: the catalog upserts by ``ts``, so re-fetching a chunk changes nothing;
- **repair**: ``repair=True`` plans over the stored range and re-fetches the chunks that hold
  the gaps ``oiradar gaps`` reports;
- a chunk that fails after every retry is written nowhere and reported; the others go on.

Stitching for Binance (decision 0500): klines and funding come from REST (the REST history is
complete for them); OI and the long/short ratio come from the public archive's daily ``metrics``
files, and from REST ``openInterestHist`` (30 days deep) for the days the archive does not have
or holds incomplete. REST OI is never asked for beyond the venue's depth (Binance refuses it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from oiradar.config import Settings
from oiradar.errors import SourceError
from oiradar.model import DAY_MS, Source, Timeframe
from oiradar.sources.clients.archive import ArchiveClient
from oiradar.sources.clients.rest import MarketsCache, RestClient
from oiradar.sources.clients.retry import RetryReport
from oiradar.sources.decode.venues import Dataset, MarketInfo, RestCall, Venue, venue_for
from oiradar.sources.decode.venues.base import oi_to_base
from oiradar.sources.ingest.plan import Chunk, FetchPlan, FetchRequest, day_ms, plan_fetch
from oiradar.store import Catalog, WriteResult

METRICS_STEP_MS = 5 * 60_000  # the archive's metrics files hold 5-minute snapshots
Progress = Callable[[int, int], None]


@dataclass
class FetchResult:
    plan: FetchPlan
    written: WriteResult = field(default_factory=WriteResult)
    done: int = 0
    failed: list[tuple[Chunk, str]] = field(default_factory=list)
    markets_cached_at: int | None = None  # the venue was unreachable: its kept market list, of then
    offline_reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


class VenueClients:
    """One venue's REST (ccxt) and archive clients, kept open across fetches by a caller that
    fetches often (``oiradar watch``: every series at every bar). A fresh ccxt client costs its
    set-up, a TLS context, loading the market list and a 250 ms pause when it closes (ccxt's
    ``timeout_on_exit``); kept, its market list is loaded once and its rate limiter paces every
    series of the venue together. The owner closes it with :meth:`aclose`, in the event loop
    that used it (ccxt's HTTP session belongs to that loop)."""

    def __init__(self, exchange: str, settings: Settings, report: RetryReport, *,
                 venue: Venue | None = None, cache: MarketsCache | None = None) -> None:  # fmt: skip
        self.exchange = exchange
        self.venue = venue or venue_for(exchange)
        self.rest = RestClient(exchange, settings, report, self.venue.ccxt_options, cache)
        self.archive = ArchiveClient(exchange, settings, report)

    async def aclose(self) -> None:
        try:
            await self.rest.__aexit__()
        finally:
            await self.archive.__aexit__()


async def run_fetch(
    req: FetchRequest,
    catalog: Catalog,
    settings: Settings,
    report: RetryReport,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: int | None = None,
    venue: Venue | None = None,
    cache: MarketsCache | None = None,
    clients: VenueClients | None = None,
) -> FetchResult:
    """Plan, then fetch every chunk (``concurrency`` at a time) and write each one atomically.

    ``cache`` keeps the venue's market list; with ``offline_ok`` (a dry run) it stands in when the
    venue cannot be reached. ``clients``: open clients of ``req.exchange`` to use (and leave open)
    instead of opening and closing the fetch's own; they carry their venue, cache and report."""
    if clients is not None and clients.exchange != req.exchange:
        raise ValueError(f"clients of {clients.exchange} given to fetch {req.exchange}")
    venue = clients.venue if clients is not None else venue or venue_for(req.exchange)
    async with contextlib.AsyncExitStack() as own:
        rest = clients.rest if clients is not None else await own.enter_async_context(
            RestClient(req.exchange, settings, report, venue.ccxt_options, cache)
        )  # fmt: skip
        market = await rest.market(req.symbol)
        plan = plan_fetch(req, venue, market, catalog, now)
        result = FetchResult(plan=plan, offline_reason=rest.offline_reason,
                             markets_cached_at=rest.cached[0] if rest.cached else None)  # fmt: skip
        if dry_run or not plan.chunks:
            return result
        archive = clients.archive if clients is not None else await own.enter_async_context(
            ArchiveClient(req.exchange, settings, report)
        )  # fmt: skip
        fetcher = _ChunkFetcher(
            venue, market, req.timeframe, rest, archive, plan.archive_market, plan.oi_from
        )
        await _run_chunks(plan, fetcher, catalog, settings.fetch.concurrency, result, progress)
    return result


async def _run_chunks(
    plan: FetchPlan, fetcher: _ChunkFetcher, catalog: Catalog, concurrency: int,
    result: FetchResult, progress: Progress | None,
) -> None:  # fmt: skip
    gate = asyncio.Semaphore(concurrency)
    total = len(plan.chunks)

    async def one(chunk: Chunk) -> None:
        async with gate:
            try:
                frame, source = await fetcher.fetch(chunk)
            except SourceError as exc:
                result.failed.append((chunk, str(exc)))
                return
            if frame.height:
                result.written = result.written.merge(catalog.write_bars(plan.key, frame, source))
            result.done += 1
            if progress is not None:
                progress(result.done + len(result.failed), total)

    await asyncio.gather(*(one(c) for c in plan.chunks))


@dataclass
class _ChunkFetcher:
    venue: Venue
    market: MarketInfo
    tf: Timeframe
    rest: RestClient
    archive: ArchiveClient
    archive_market: str | None
    oi_from: int

    async def fetch(self, chunk: Chunk) -> tuple[pl.DataFrame, Source]:
        """All datasets of one chunk, stitched into canonical bars (nothing is written here)."""
        parts: dict[Dataset, list[pl.DataFrame]] = {d: [] for d in Dataset}
        for rc in chunk.calls:
            parts[rc.dataset].append(await self._call(rc))
        source = Source.REST
        if chunk.archive_days:
            archived, missing = await self._archive_days(chunk.archive_days)
            if archived:
                parts[Dataset.OI].append(
                    _to_timeframe(pl.concat(archived, how="diagonal_relaxed"), self.tf)
                )
                source = Source.ARCHIVE
            # REST rows come after the archive's: on a bar both have, REST's value is kept (they agree)
            for ds, days in missing.items():
                if ds not in self.venue.datasets():
                    continue
                for lo, hi in _ranges(days, max(chunk.start, self.oi_from), chunk.end):
                    for rc in self.venue.calls(ds, self.market, self.tf, lo, hi):
                        parts[ds].append(await self._call(rc))
        return _stitch(parts, self.market, chunk), source

    async def _call(self, rc: RestCall) -> pl.DataFrame:
        return await self.rest.call(
            rc, lambda payload: self.venue.decode(rc, payload, self.market, self.tf)
        )

    async def _archive_days(
        self, days: Sequence[date]
    ) -> tuple[list[pl.DataFrame], dict[Dataset, list[date]]]:
        """The archived days' frames, and per dataset the days REST should fill.

        A day is missing for OI when the archive lacks it or holds fewer than 288 raw OI
        figures (``oi_raw``: COIN-M files hold contracts, converted later), and missing for the
        long/short ratio likewise (COIN-M files leave that column empty: decision 0505).
        """
        found: list[pl.DataFrame] = []
        missing: dict[Dataset, list[date]] = {Dataset.OI: [], Dataset.LONG_SHORT: []}
        full = DAY_MS // METRICS_STEP_MS
        for day in days:
            assert self.archive_market is not None
            frame = await self.archive.metrics_day(self.market.id, day, self.archive_market)
            if frame is not None:
                found.append(frame)
            for ds, col in ((Dataset.OI, "oi_raw"), (Dataset.LONG_SHORT, "long_short_ratio")):
                if frame is None or frame[col].drop_nulls().len() < full:
                    missing[ds].append(day)  # not archived, or incomplete: REST fills what it has
        return found, missing


def _ranges(days: Sequence[date], start: int, end: int) -> list[tuple[int, int]]:
    """Contiguous runs of days, as ms ranges clipped to ``[start, end)``."""
    out: list[tuple[int, int]] = []
    for d in days:
        lo, hi = max(start, day_ms(d)), min(end, day_ms(d) + DAY_MS)
        if out and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi)
        elif lo < hi:
            out.append((lo, hi))
    return out


def _to_timeframe(metrics: pl.DataFrame, tf: Timeframe) -> pl.DataFrame:
    """5m archive snapshots -> bars of ``tf``: the last non-null snapshot of each bar (a stock)."""
    keep = ["oi_raw", "oi_unit", "oi_value", "long_short_ratio"]
    return (
        metrics.sort("ts")
        .group_by((pl.col("ts") // tf.ms * tf.ms).alias("ts"), maintain_order=True)
        .agg(pl.col(c).drop_nulls().last() for c in keep)
        .sort("ts")
    )


def _stitch(
    parts: dict[Dataset, list[pl.DataFrame]], market: MarketInfo, chunk: Chunk
) -> pl.DataFrame:
    """Klines left-joined with OI, long/short and funding; OI normalised to one-sided base units."""
    klines = _concat(parts[Dataset.KLINES])
    if klines is None:
        return pl.DataFrame({"ts": []}, schema={"ts": pl.Int64})
    frame = klines.filter(pl.col("ts").is_between(chunk.start, chunk.end, closed="left"))
    for ds in (Dataset.OI, Dataset.LONG_SHORT, Dataset.FUNDING):
        extra = _concat(parts[ds])
        if extra is None:
            continue
        extra = extra.unique(subset="ts", keep="last", maintain_order=True)
        clash = [c for c in extra.columns if c != "ts" and c in frame.columns]
        frame = frame.join(extra, on="ts", how="left", suffix="_new")
        frame = frame.with_columns(pl.coalesce(f"{c}_new", c).alias(c) for c in clash).drop(
            f"{c}_new" for c in clash
        )
    return oi_to_base(frame, market)


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame | None:
    frames = [f for f in frames if f.height]
    if not frames:
        return None
    return (
        pl.concat(frames, how="diagonal_relaxed")
        .unique(subset="ts", keep="last", maintain_order=True)
        .sort("ts")
    )
