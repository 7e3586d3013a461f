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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from oiradar.config import Settings
from oiradar.errors import InputError, SeriesNotFound, SourceError
from oiradar.model import DAY_MS, HOUR_MS, SeriesKey, Source, Timeframe, now_ms
from oiradar.sources.archive_client import ArchiveClient
from oiradar.sources.ccxt_client import RestClient
from oiradar.sources.retry import RetryReport
from oiradar.sources.venues import Dataset, MarketInfo, RestCall, Venue, venue_for
from oiradar.sources.venues.base import oi_to_base
from oiradar.store import Catalog, WriteResult

MAX_CHUNK_DAYS = 30
METRICS_STEP_MS = 5 * 60_000  # the archive's metrics files hold 5-minute snapshots
Progress = Callable[[int, int], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class FetchRequest:
    """What to fetch. ``until`` None means now; ``repair`` plans over the stored range."""

    exchange: str
    symbol: str
    timeframe: Timeframe
    since: int | None = None
    until: int | None = None
    repair: bool = False
    archive: bool = True

    @property
    def key(self) -> SeriesKey:
        return SeriesKey(exchange=self.exchange, symbol=self.symbol, timeframe=self.timeframe)


@dataclass(frozen=True, kw_only=True, slots=True)
class Chunk:
    """Bars ``[start, end)``: the REST calls to make and the archive days to try first for OI."""

    start: int
    end: int
    calls: tuple[RestCall, ...]
    archive_days: tuple[date, ...] = ()


@dataclass
class FetchPlan:
    """The chunks still to fetch for one series (``--dry-run`` prints :meth:`table`)."""

    key: SeriesKey
    market: MarketInfo
    chunks: list[Chunk]
    skipped: int  # chunks already complete in the catalog
    archive_market: str | None = None
    oi_from: int = 0  # the first bar REST OI history still serves

    def requests(self) -> int:
        """REST calls + 2 per archive day (zip and .CHECKSUM); REST fallbacks are extra."""
        return sum(len(c.calls) + 2 * len(c.archive_days) for c in self.chunks)

    def table(self) -> pl.DataFrame:
        """One row per endpoint: first and last bar covered and the request count."""
        rows = []
        for c in self.chunks:
            rows += [(rc.method, rc.dataset.value, rc.start, rc.end) for rc in c.calls]
            rows += [
                (
                    "archive metrics (+ .CHECKSUM)",
                    "oi",
                    max(c.start, _day_ms(d)),
                    min(c.end, _day_ms(d) + DAY_MS),
                )
                for d in c.archive_days
            ]
        frame = pl.DataFrame(rows, schema=["endpoint", "dataset", "start", "end"], orient="row")
        if frame.is_empty():
            return frame
        return (
            frame.group_by("endpoint", "dataset", maintain_order=True)
            .agg(
                pl.col("start").min().alias("first_bar"),
                pl.col("end").max().alias("end"),
                pl.len().alias("requests"),
            )
            .with_columns(
                pl.when(pl.col("endpoint").str.starts_with("archive"))
                .then(pl.col("requests") * 2)
                .otherwise(pl.col("requests"))
                .alias("requests")
            )
        )


@dataclass
class FetchResult:
    plan: FetchPlan
    written: WriteResult = field(default_factory=WriteResult)
    done: int = 0
    failed: list[tuple[Chunk, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _day_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def chunk_days(tf: Timeframe) -> int:
    """Days per chunk: about 500 bars (one OI page), between 1 and 30 days."""
    return max(1, min(MAX_CHUNK_DAYS, tf.ms * 500 // DAY_MS))


# ------------------------------------------------------------------------------ planning
def stored(catalog: Catalog, key: SeriesKey, start: int, end: int) -> tuple[set[int], set[int]]:
    """``(ts of stored bars, ts of stored bars that have an oi)`` in ``[start, end)``."""
    try:
        frame = catalog.read_stored(key, start, end).select("ts", "oi")
    except SeriesNotFound:
        return set(), set()
    return set(frame["ts"].to_list()), set(frame.filter(pl.col("oi").is_not_null())["ts"].to_list())


def chunk_done(expected: range, have: set[int], have_oi: set[int], oi_from: int) -> bool:
    """Every bar stored, and some OI in the chunk where the venue still has OI to give.

    The second condition re-fetches bars that were stored without OI (imported klines, say)
    but not chunks older than the venue's OI depth, which would come back empty each time.
    """
    if not expected or not all(t in have for t in expected):
        return False
    return expected.stop <= oi_from or any(t in have_oi for t in expected)


def fetch_range(req: FetchRequest, catalog: Catalog, now: int) -> tuple[int, int]:
    """``[start, end)`` aligned to days; ``end`` never past the last closed bar."""
    tf = req.timeframe
    if req.repair and req.since is None:
        try:
            ts = catalog.read_stored(req.key).get_column("ts")
        except SeriesNotFound:
            raise InputError(f"nothing stored for {req.key}: fetch it first (--since)") from None
        since, until = int(ts.min()), int(ts.max()) + tf.ms  # type: ignore[arg-type]
    else:
        if req.since is None:
            raise InputError("--since is required (or use --repair on a stored series)")
        since, until = req.since, req.until or now
    end = min(until, now) // tf.ms * tf.ms  # bars closed by `now`
    start = since - since % DAY_MS
    if end <= since:
        raise InputError(
            f"empty range: --since {_iso(since)} is not before --until {_iso(end)} "
            f"(the end of the last closed {tf.value} bar)"
        )
    return start, end


def plan_fetch(
    req: FetchRequest, venue: Venue, market: MarketInfo, catalog: Catalog, now: int | None = None
) -> FetchPlan:
    """The chunks still to fetch (pure: reads the catalog, no network)."""
    now = now_ms() if now is None else now
    start, end = fetch_range(req, catalog, now)
    tf = req.timeframe
    lo = max(start, req.since or start)
    have, have_oi = stored(catalog, req.key, lo, end)
    span = chunk_days(tf) * DAY_MS
    chunks, skipped = [], 0
    archive_market = getattr(venue, "archive_market", None) if req.archive else None
    oi_from = rest_oi_from(venue, tf, now)
    for s in range(start, end, span):
        e = min(end, s + span)
        s_bar = max(s, lo + (-lo) % tf.ms)
        if chunk_done(range(s_bar, e, tf.ms), have, have_oi, 0 if archive_market else oi_from):
            skipped += 1
            continue
        chunks.append(_chunk(venue, market, tf, s_bar, e, archive_market is not None, oi_from))
    return FetchPlan(
        key=req.key, market=market, chunks=chunks, skipped=skipped,
        archive_market=archive_market, oi_from=oi_from,
    )  # fmt: skip


def rest_oi_from(venue: Venue, tf: Timeframe, now: int) -> int:
    """The first bar REST OI history can still serve (0: all), with an hour of margin.

    Binance refuses a ``startTime`` older than its 30 days (error -1130) rather than returning
    nothing, so OI requests are never planned before this bar.
    """
    depth = venue.oi_depth_ms(tf)
    if depth is None:
        return 0
    t = now - depth + HOUR_MS
    return t + (-t) % tf.ms


def _chunk(
    venue: Venue, market: MarketInfo, tf: Timeframe, start: int, end: int, archive: bool,
    oi_from: int,
) -> Chunk:  # fmt: skip
    calls: list[RestCall] = []
    for ds in venue.datasets():
        if ds in (Dataset.OI, Dataset.LONG_SHORT):
            if not archive and max(start, oi_from) < end:  # archive: per missing day at run time
                calls += venue.calls(ds, market, tf, max(start, oi_from), end)
            continue
        calls += venue.calls(ds, market, tf, start, end)
    days: tuple[date, ...] = ()
    if archive:
        first, last = _day(start), _day(end - 1)
        days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    return Chunk(start=start, end=end, calls=tuple(calls), archive_days=days)


# ------------------------------------------------------------------------------ running
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
) -> FetchResult:
    """Plan, then fetch every chunk (``concurrency`` at a time) and write each one atomically."""
    venue = venue or venue_for(req.exchange)
    async with RestClient(req.exchange, settings, report, venue.ccxt_options) as rest:
        market = await rest.market(req.symbol)
        plan = plan_fetch(req, venue, market, catalog, now)
        result = FetchResult(plan=plan)
        if dry_run or not plan.chunks:
            return result
        async with ArchiveClient(req.exchange, settings, report) as archive:
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
        lo, hi = max(start, _day_ms(d)), min(end, _day_ms(d) + DAY_MS)
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


# ------------------------------------------------------------------------------ markets
async def list_markets(exchange: str, settings: Settings, report: RetryReport) -> pl.DataFrame:
    """The venue's perpetuals with what oiradar can fetch for them (``oiradar markets``)."""
    venue = venue_for(exchange)
    async with RestClient(exchange, settings, report, venue.ccxt_options) as rest:
        markets = await rest.load_markets()
    rows = [
        {
            "symbol": m["symbol"],
            "id": m["id"],
            "margin": "inverse" if m.get("inverse") else "linear",
            "contract_size": float(m.get("contractSize") or 1.0),
            "active": bool(m.get("active", True)),
            "ohlcv": True,
            "oi_history": venue.oi_history,
            "funding": True,
            "long_short_ratio": Dataset.LONG_SHORT in venue.datasets(),
            "liquidations": venue.liquidation_stream,
        }
        for m in markets.values()
        if m.get("swap") and m.get("contract")
    ]
    return pl.DataFrame(rows).sort("symbol") if rows else pl.DataFrame()
