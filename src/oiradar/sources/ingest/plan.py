"""Plan a fetch: the chunks of whole UTC days still to fetch for a series (pure: reads the catalog).

A fetch of ``(exchange, symbol, timeframe)`` over ``[since, until)`` is cut into **chunks** of
whole UTC days (one day for 5m bars, up to 30 days for coarse ones); a chunk whose bars are all
stored (with some OI, where the venue can still give it) is skipped. See
:mod:`oiradar.sources.ingest.fetch` for running the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from oiradar.errors import InputError, SeriesNotFound
from oiradar.model import DAY_MS, HOUR_MS, SeriesKey, Timeframe, now_ms
from oiradar.sources.decode.venues import Dataset, MarketInfo, RestCall, Venue
from oiradar.store import Catalog
from oiradar.timeutil import iso_utc, utc_date

MAX_CHUNK_DAYS = 30


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
                    max(c.start, day_ms(d)),
                    min(c.end, day_ms(d) + DAY_MS),
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


def day_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def chunk_days(tf: Timeframe) -> int:
    """Days per chunk: about 500 bars (one OI page), between 1 and 30 days."""
    return max(1, min(MAX_CHUNK_DAYS, tf.ms * 500 // DAY_MS))


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
            f"empty range: --since {iso_utc(since)} is not before --until {iso_utc(end)} "
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
        first, last = utc_date(start), utc_date(end - 1)
        days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    return Chunk(start=start, end=end, calls=tuple(calls), archive_days=days)
