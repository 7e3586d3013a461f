"""The catalog: one Parquet file per (exchange, symbol, timeframe, month), upserted by ``ts``.

Layout under ``<home>/catalog``::

    bars/<exchange>/<symbol-slug>/<timeframe>/_manifest.json + <YYYY-MM>.<id>.parquet
    liquidations/<exchange>/<symbol-slug>/_manifest.json + <YYYY-MM>.<id>.parquet

Partition files are immutable; each folder's manifest names the current file of every month and is
replaced atomically (see :mod:`oiradar.store.atomic`), so readers see old or new, never torn.

Each bar file holds the canonical columns (:data:`oiradar.model.BAR_SCHEMA`) plus ``exchange``,
``symbol`` and ``timeframe``, so DuckDB can query every series at once through the ``bars`` view.

Upsert semantics: an incoming non-null value replaces the stored one; a null never erases a value
(empty is missing, not zero). A row whose values do not change keeps its provenance, and a
partition with no changed row is not rewritten: importing the same data twice changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from oiradar.errors import InputError, SeriesNotFound, StoreError
from oiradar.model import (
    BAR_SCHEMA,
    BAR_VALUE_COLUMNS,
    LIQUIDATION_SCHEMA,
    SeriesKey,
    Source,
    Timeframe,
    conform_bars,
    conform_liquidations,
    now_ms,
    symbol_slug,
    validate_exchange_name,
)
from oiradar.store.atomic import (
    DEFAULT_LOCK_TIMEOUT_S,
    LOCK_FILE,
    LOCKS_DIR,
    MANIFEST,
    Manifest,
    collect_garbage,
    commit_partitions,
    damaged,
    fsync_path,
    partition_files,
    tmp_path_for,
    write_lock,
)
from oiradar.store.links import checked_market, read_links, write_links
from oiradar.store.paths import contained
from oiradar.timeutil import months_between

KEY_COLUMNS = ("exchange", "symbol", "timeframe")
# Columns whose change makes a row "changed" (provenance columns are not compared).
_COMPARED = (*BAR_VALUE_COLUMNS, "oi_raw", "oi_unit", "quote_volume_estimated")
_LIQ_KEY = ("ts", "side", "price", "qty")
# two threads a core: a thread waiting on its file's fsync leaves its core to another
_WRITE_THREADS = max(1, min(4, 2 * (os.cpu_count() or 1)))
# zstd level 1: about 25% less CPU than the default (3) for files about 3% larger (bench/README)
_ZSTD_LEVEL = 1


@dataclass
class WriteResult:
    """What a write did: rows added, rows whose values changed, partition files rewritten."""

    rows_in: int = 0
    rows_added: int = 0
    rows_changed: int = 0
    partitions: list[str] = field(default_factory=list)

    def merge(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.rows_in + other.rows_in,
            self.rows_added + other.rows_added,
            self.rows_changed + other.rows_changed,
            self.partitions + other.partitions,
        )

    @property
    def unchanged(self) -> bool:
        return not self.partitions


def _month_labels(ts: pl.Expr) -> pl.Expr:
    return pl.from_epoch(ts, time_unit="ms").dt.strftime("%Y-%m")


def _month_parts(frame: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """``(YYYY-MM, rows of that month)`` of a frame sorted by ``ts``, as zero-copy slices.

    Equal to ``frame.partition_by(_month_labels(ts))`` for sorted ``ts``, without formatting
    a label per row: the month starts are located by binary search.
    """
    if frame.is_empty():
        return []
    ts = frame["ts"]
    months = months_between(int(ts[0]), int(ts[-1]))
    bounds = [start for _y, _m, start in months[1:]]
    cuts = [0, *ts.search_sorted(pl.Series(bounds, dtype=pl.Int64), side="left").to_list()]
    cuts.append(frame.height)
    return [
        (f"{y:04d}-{m:02d}", frame.slice(lo, hi - lo))
        for (y, m, _start), lo, hi in zip(months, cuts[:-1], cuts[1:], strict=True)
        if hi > lo
    ]


class Catalog:
    """The on-disk store of bars and liquidations under ``<home>/catalog``."""

    def __init__(
        self,
        home: str | Path,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S,
        on_lock_wait: Callable[[str], None] | None = None,
    ) -> None:
        """``lock_timeout``: seconds a writer waits for another writer's lock before a StoreError;
        ``on_lock_wait`` is told once when a writer has to wait (default: a logging warning)."""
        self.home = Path(home).expanduser()
        self.lock_timeout = lock_timeout
        self.on_lock_wait = on_lock_wait
        self.root = self.home / "catalog"
        self.bars_dir = self.root / "bars"
        self.liq_dir = self.root / "liquidations"

    # ---------------------------------------------------------------- paths
    def series_dir(self, key: SeriesKey) -> Path:
        exchange = validate_exchange_name(key.exchange)
        folder = self.bars_dir / exchange / symbol_slug(key.symbol) / key.timeframe.value
        return self._contained(folder)

    def _liq_series_dir(self, exchange: str, symbol: str) -> Path:
        folder = self.liq_dir / validate_exchange_name(exchange) / symbol_slug(symbol)
        return self._contained(folder)

    def _contained(self, path: Path) -> Path:
        """``path`` if it lies strictly inside the catalog once links are followed, else StoreError."""
        return contained(path, self.root)

    # ---------------------------------------------------------------- writes
    def write_bars(
        self, key: SeriesKey, frame: pl.DataFrame, source: Source | str = Source.FILE
    ) -> WriteResult:
        """Upsert ``frame`` (canonical columns, any subset) into the series ``key``, atomically."""
        incoming = self._prepare_bars(key, frame, Source(source))
        result = WriteResult(rows_in=incoming.height)
        if incoming.is_empty():
            return result
        folder = self.series_dir(key)
        with self.lock(), _disk_full_guard(folder):
            collect_garbage(folder)
            current = Manifest.load(folder).partitions
            staged: dict[str, Path] = {}

            def stage(month: str, part: pl.DataFrame) -> tuple[str, Path | None, int, int]:
                existing = folder / current[month] if month in current else None
                merged, added, changed = _merge_bars(_read_existing(existing), part)
                if added == 0 and changed == 0:
                    return month, None, 0, 0
                return month, self._stage(merged, key, folder / f"{month}.parquet"), added, changed

            # Months are independent: merge, encode and fsync them on a small pool (polars, the
            # Parquet writer and fsync release the GIL), then commit them together.
            with ThreadPoolExecutor(max_workers=_WRITE_THREADS) as pool:
                futures = [pool.submit(stage, m, p) for m, p in _month_parts(incoming)]
            try:
                for future in futures:
                    month, tmp, added, changed = future.result()
                    if tmp is None:
                        continue
                    staged[month] = tmp
                    result.rows_added += added
                    result.rows_changed += changed
                    result.partitions.append(f"{folder.relative_to(self.root)}/{month}")
                commit_partitions(folder, staged, synced=True)  # _stage fsynced them
            except BaseException:
                for future in futures:  # nothing was committed: drop every staged file
                    if future.exception() is None and (tmp := future.result()[1]) is not None:
                        tmp.unlink(missing_ok=True)
                raise
        return result

    def _prepare_bars(self, key: SeriesKey, frame: pl.DataFrame, source: Source) -> pl.DataFrame:
        unknown = [c for c in frame.columns if c not in BAR_SCHEMA and c not in KEY_COLUMNS]
        if unknown:
            raise InputError(f"unknown bar columns {unknown}; canonical: {list(BAR_SCHEMA)}")
        if "ts" not in frame.columns:
            raise InputError("bars need a 'ts' column (bar open time, epoch ms UTC)", column="ts")
        frame = conform_bars(frame.drop([c for c in KEY_COLUMNS if c in frame.columns]))
        off_grid = pl.col("ts") % key.timeframe.ms != 0
        if frame.select(off_grid.any()).item():
            bad = frame.filter(off_grid)
            raise InputError(
                f"ts is not aligned to the {key.timeframe.value} grid of {key}",
                column="ts",
                value=int(bad["ts"][0]),
            )
        if frame["ts"].null_count():
            raise InputError(f"bars for {key} have an empty ts", column="ts")
        ordered = frame.sort("ts")  # cheap when already sorted
        if ordered.height > 1 and not ordered.select((pl.col("ts").diff() > 0).all()).item():
            # sorted, a duplicate is a zero step: cheaper than ``is_duplicated`` (a hash table)
            dup = frame.filter(pl.col("ts").is_duplicated())["ts"][0]
            raise InputError(f"duplicate ts in bars for {key}", column="ts", value=int(dup))
        return ordered.with_columns(
            pl.lit(source.value).alias("source"), pl.lit(now_ms()).alias("ingested_at")
        )

    def _stage(self, merged: pl.DataFrame, key: SeriesKey, final: Path) -> Path:
        final.parent.mkdir(parents=True, exist_ok=True)
        out = merged.with_columns(
            pl.lit(key.exchange).alias("exchange"),
            pl.lit(key.symbol).alias("symbol"),
            pl.lit(key.timeframe.value).alias("timeframe"),
        )
        tmp = tmp_path_for(final)
        # a path, not a Python file object: polars then writes without taking the GIL
        out.write_parquet(tmp, compression="zstd", compression_level=_ZSTD_LEVEL, statistics=True)
        fsync_path(tmp)  # here, in the pool, overlapping the other months' encoding
        return tmp

    def write_liquidations(
        self, frame: pl.DataFrame, source: Source | str = Source.FILE
    ) -> WriteResult:
        """Insert liquidation records; a record equal on (ts, side, price, qty) is kept once."""
        frame = conform_liquidations(
            frame.with_columns(pl.lit(Source(source).value).alias("source"))
            if "source" not in frame.columns
            else frame
        ).with_columns(pl.lit(now_ms()).alias("ingested_at"))
        result = WriteResult(rows_in=frame.height)
        if frame.is_empty():
            return result
        frame = frame.with_columns(_month_labels(pl.col("ts")).alias("_m"))
        names = frame.select("exchange", "symbol").unique(maintain_order=True)
        for exchange, symbol in names.iter_rows():  # all checked before anything is written
            self._liq_series_dir(exchange, symbol)
        with self.lock():
            for (exchange, symbol), series in frame.group_by(
                "exchange", "symbol", maintain_order=True
            ):
                folder = self._liq_series_dir(str(exchange), str(symbol))
                with _disk_full_guard(folder):
                    self._write_liq_series(folder, series, result)
        return result

    def _write_liq_series(self, folder: Path, series: pl.DataFrame, result: WriteResult) -> None:
        collect_garbage(folder)
        current = Manifest.load(folder).partitions
        staged: dict[str, Path] = {}
        try:
            for (month,), part in series.group_by("_m", maintain_order=True):
                existing = folder / current[month] if month in current else None
                old = _read_existing(existing, LIQUIDATION_SCHEMA)
                new = part.drop("_m").join(
                    old.select(_LIQ_KEY), on=list(_LIQ_KEY), how="anti", nulls_equal=True
                )  # a null price/qty (aggregate records) must match itself: re-import adds nothing
                new = new.unique(subset=list(_LIQ_KEY), keep="first", maintain_order=True)
                if new.is_empty():
                    continue
                merged = pl.concat([old, new]).sort("ts", "side", "price")
                folder.mkdir(parents=True, exist_ok=True)
                tmp = tmp_path_for(folder / f"{month}.parquet")
                merged.write_parquet(tmp, compression="zstd")
                staged[month] = tmp
                result.rows_added += new.height
                result.partitions.append(f"{folder.relative_to(self.root)}/{month}")
            commit_partitions(folder, staged)
        except BaseException:
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)
            raise

    def lock(self) -> AbstractContextManager[None]:
        """The catalog's write lock (re-entrant in this process): hold it across several writes
        that other writers must see as one step, e.g. a wipe and the write that follows."""
        return write_lock(self.root, self.lock_timeout, self.on_lock_wait)

    def reset(self) -> int:
        """Delete everything in the catalog but its lock files, under the write lock.

        Returns the number of entries removed. Each is renamed away first, so a writer waiting
        for the lock finds an empty catalog, never a half-deleted one.
        """
        with self.lock():
            if not self.root.is_dir():
                return 0
            doomed = [p for p in self.root.iterdir() if p.name not in (LOCK_FILE, LOCKS_DIR)]
            trash = self.root / f".trash-{uuid.uuid4().hex}"
            trash.mkdir()
            for path in doomed:
                os.replace(path, trash / path.name)
            shutil.rmtree(trash, ignore_errors=True)
            return len(doomed)

    def delete_series(self, exchange: str, symbol: str) -> int:
        """Delete every timeframe and the liquidations of (exchange, symbol). Returns folders removed.

        Each folder is first renamed away (one atomic step: readers see the series or nothing),
        then removed.
        """
        slug, name = symbol_slug(symbol), validate_exchange_name(exchange)
        folders = [self._contained(d / name / slug) for d in (self.bars_dir, self.liq_dir)]
        removed = 0
        with self.lock():
            for folder in folders:
                if not folder.exists():
                    continue
                trash = self.root / f".trash-{uuid.uuid4().hex}"
                os.replace(folder, trash)
                shutil.rmtree(trash, ignore_errors=True)
                removed += 1
            self.set_price_link((name, symbol), None)
        return removed

    # ---------------------------------------------------------------- reads
    def stored_keys(self) -> list[SeriesKey]:
        """Every series that has at least one partition on disk."""
        keys: list[SeriesKey] = []
        if not self.bars_dir.is_dir():
            return keys
        for manifest in sorted(self.bars_dir.glob(f"*/*/*/{MANIFEST}")):
            files = partition_files(manifest.parent)
            if not files:
                continue
            head = _collect(pl.scan_parquet(files[0]).select(KEY_COLUMNS).head(1), files[:1])
            if head.height:
                keys.append(_stored_key(head, manifest.parent))
        return keys

    def has_series(self, key: SeriesKey) -> bool:
        return bool(Manifest.load(self.series_dir(key)).partitions)

    def read_stored(
        self, key: SeriesKey, start: int | None = None, end: int | None = None
    ) -> pl.DataFrame:
        """The stored bars of exactly ``key`` with ``start <= ts < end`` (canonical columns)."""
        files = partition_files(self.series_dir(key))
        if not files:
            raise SeriesNotFound(self._not_found_message(key))
        lf = pl.scan_parquet(files).select(list(BAR_SCHEMA))
        if start is not None:
            lf = lf.filter(pl.col("ts") >= start)
        if end is not None:
            lf = lf.filter(pl.col("ts") < end)
        return _collect(lf.sort("ts"), files)

    def read_bars(
        self,
        key: SeriesKey,
        start: int | None = None,
        end: int | None = None,
        *,
        source: SeriesKey | None = None,
    ) -> pl.DataFrame:
        """Bars of ``key``, built from ``source`` (default: :meth:`source_for`): read as stored
        when it is ``key`` itself, else resampled from that finer stored timeframe.

        Resampled frames carry a boolean ``complete`` column (False where sub-bars are missing)
        and ``ohlc_from_close`` (True where open/high/low were built from close-only sub-bars);
        stored frames carry ``complete`` = True and ``ohlc_from_close`` = False.
        """
        from oiradar.store.resample import FROM_CLOSE, resample_bars

        source = source or self.source_for(key, start, end)
        if source.timeframe == key.timeframe:
            stored = self.read_stored(key, start, end)
            return stored.with_columns(
                pl.lit(True).alias("complete"), pl.lit(False).alias(FROM_CLOSE)
            )
        span = key.timeframe.ms
        lo = None if start is None else start - start % span
        hi = None if end is None else end + (-end) % span
        fine = self.read_stored(source, lo, hi)
        out = resample_bars(fine, source.timeframe, key.timeframe)
        if start is not None:
            out = out.filter(pl.col("ts") >= start)
        if end is not None:
            out = out.filter(pl.col("ts") < end)
        return out

    def sources_for(self, key: SeriesKey) -> list[SeriesKey]:
        """The stored series that can build ``key``: ``key`` itself and every stored finer
        timeframe of the same (exchange, symbol) that divides ``key``'s, finest first."""
        return [
            key.with_timeframe(tf)
            for tf in Timeframe  # ordered finest first
            if tf.ms <= key.timeframe.ms and key.timeframe.ms % tf.ms == 0
            and self.has_series(key.with_timeframe(tf))
        ]  # fmt: skip

    def source_for(
        self,
        key: SeriesKey,
        start: int | None = None,
        end: int | None = None,
        *,
        from_timeframe: Timeframe | None = None,
    ) -> SeriesKey:
        """The stored series ``key`` is built from: the one covering most of ``[start, end)``
        (bars x their length; ties: ``key`` itself, then the finest), or ``from_timeframe``.

        A finer series is not always the better one: 16 OI polls at 5m cover 80 minutes, a
        500-bar 1h series 500 hours, and a 4h view built from the polls would hide the hours.
        """
        candidates = self.sources_for(key)
        if from_timeframe is not None:
            forced = key.with_timeframe(from_timeframe)
            if forced not in candidates:
                raise InputError(self._cannot_build(key, candidates, from_timeframe))
            return forced
        if not candidates:
            raise SeriesNotFound(self._cannot_build_message(key))
        if len(candidates) == 1:
            return candidates[0]
        covered = {c: self.count_bars(c, start, end) * c.timeframe.ms for c in candidates}
        return min(candidates, key=lambda c: (-covered[c], c != key, c.timeframe.ms))

    def count_bars(self, key: SeriesKey, start: int | None = None, end: int | None = None) -> int:
        """How many bars of the stored series ``key`` lie in ``[start, end)``."""
        files = partition_files(self.series_dir(key))
        if not files:
            return 0
        lf = pl.scan_parquet(files).select("ts")
        if start is not None:
            lf = lf.filter(pl.col("ts") >= start)
        if end is not None:
            lf = lf.filter(pl.col("ts") < end)
        return int(_collect(lf.select(pl.len()), files).item())

    def last_ts(self, key: SeriesKey) -> int | None:
        """The open time of the last stored bar of exactly ``key`` (None: nothing stored); reads
        the ``ts`` column only (``oiradar watch`` asks it of every series at every pass)."""
        files = partition_files(self.series_dir(key))
        if not files:
            return None
        last = _collect(pl.scan_parquet(files).select(pl.col("ts").max()), files).item()
        return None if last is None else int(last)

    def series_stamp(self, key: SeriesKey) -> tuple[int, int] | None:
        """A cheap marker of exactly ``key``'s stored state: its manifest's inode and mtime (every
        write replaces the manifest atomically, so a write changes the marker); None when nothing
        is stored at ``key``. One ``stat``: a poller asks it before reading anything."""
        try:
            st = (self.series_dir(key) / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def finest_source_for(self, key: SeriesKey) -> SeriesKey | None:
        """The finest stored timeframe of the same (exchange, symbol) that divides ``key``'s."""
        finer = [c for c in self.sources_for(key) if c.timeframe != key.timeframe]
        return finer[0] if finer else None

    def _cannot_build_message(self, key: SeriesKey) -> str:
        """Why no stored series builds ``key``: the market is not stored, or only coarser."""
        market = (key.exchange, key.symbol)
        stored = sorted((k.timeframe for k in self.stored_keys() if (k.exchange, k.symbol) == market),
                        key=lambda tf: tf.ms)  # fmt: skip
        if not stored:
            return self._not_found_message(key)
        return (
            f"no stored timeframe of {key.exchange} {key.symbol} builds {key.timeframe.value} "
            f"(stored: {', '.join(tf.value for tf in stored)}; a view is built from the same or "
            "a finer timeframe that divides it)"
        )

    def _cannot_build(self, key: SeriesKey, candidates: list[SeriesKey], forced: Timeframe) -> str:
        market = (key.exchange, key.symbol)
        stored = sorted((k.timeframe for k in self.stored_keys() if (k.exchange, k.symbol) == market),
                        key=lambda tf: tf.ms)  # fmt: skip
        usable = ", ".join(c.timeframe.value for c in candidates) or "none"
        listing = ", ".join(tf.value for tf in stored) or "none"
        return (
            f"--from-timeframe {forced.value}: cannot build {key} from it (stored timeframes of "
            f"{key.exchange} {key.symbol}: {listing}; usable for {key.timeframe.value}: {usable})"
        )

    # ---------------------------------------------------------------- price links
    def price_links(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Every price link: (exchange, symbol) -> the (exchange, symbol) its prices come from."""
        return read_links(self.root)

    def price_link(self, exchange: str, symbol: str) -> tuple[str, str] | None:
        """The market ``(exchange, symbol)`` takes its prices from, if linked."""
        return self.price_links().get((exchange, symbol))

    def set_price_link(self, market: tuple[str, str], prices: tuple[str, str] | None) -> None:
        """Link ``market`` to the series of ``prices`` (None: remove its link), atomically."""
        market = checked_market(*market)
        target = None if prices is None else checked_market(*prices)
        with self.lock():
            links = read_links(self.root)
            if target is None:
                if links.pop(market, None) is None:
                    return
            else:
                links[market] = target
            write_links(self.root, links)

    def read_liquidations(
        self,
        exchange: str | None = None,
        symbol: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> pl.DataFrame:
        if exchange is not None:
            validate_exchange_name(exchange)
        pattern = f"{exchange or '*'}/{symbol_slug(symbol) if symbol else '*'}/{MANIFEST}"
        files = [f for m in sorted(self.liq_dir.glob(pattern)) for f in partition_files(m.parent)]
        if not files:
            return pl.DataFrame(schema=LIQUIDATION_SCHEMA)
        lf = pl.scan_parquet(files)
        if start is not None:
            lf = lf.filter(pl.col("ts") >= start)
        if end is not None:
            lf = lf.filter(pl.col("ts") < end)
        return _collect(lf.sort("ts"), files)

    def _not_found_message(self, key: SeriesKey) -> str:
        stored = self.stored_keys()
        if not stored:
            return f"no series {key} in the catalog at {self.root}: it is empty (try `oiradar demo` or `oiradar import`)"
        listing = ", ".join(str(k) for k in stored)
        return f"no series {key} in the catalog (stored: {listing})"

    # ---------------------------------------------------------------- coverage
    def coverage(self) -> pl.DataFrame:
        """One row per stored series: first/last bar, rows, missing bars."""
        rows = []
        for key in self.stored_keys():
            files = partition_files(self.series_dir(key))
            ts = pl.scan_parquet(files).select("ts")
            stats = _collect(
                ts.select(
                    pl.col("ts").min().alias("first_ts"),
                    pl.col("ts").max().alias("last_ts"),
                    pl.len().alias("rows"),
                ),
                files,
            )
            first, last, n = stats.row(0)
            expected = (last - first) // key.timeframe.ms + 1
            rows.append(
                {
                    "exchange": key.exchange,
                    "symbol": key.symbol,
                    "timeframe": key.timeframe.value,
                    "first_ts": first,
                    "last_ts": last,
                    "rows": n,
                    "missing_bars": expected - n,
                }
            )
        schema = {
            "exchange": pl.String, "symbol": pl.String, "timeframe": pl.String,
            "first_ts": pl.Int64, "last_ts": pl.Int64, "rows": pl.Int64, "missing_bars": pl.Int64,
        }  # fmt: skip
        return pl.DataFrame(rows, schema=schema)

    def gaps(self, key: SeriesKey) -> pl.DataFrame:
        """Runs of missing bars inside the stored range: ``gap_start``, ``gap_end`` (incl.), ``bars``."""
        ts = self.read_stored(key).get_column("ts")
        return find_gaps(ts, key.timeframe.ms)

    # ---------------------------------------------------------------- SQL
    def connect(self, *, allow_files: bool = False) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with the ``bars`` and ``liquidations`` views, locked down:
        it reaches no file outside the catalog (``allow_files``: any file), installs and loads no
        extension, and its settings are locked so that no statement can undo that. It can still
        write inside the catalog: :meth:`sql` is the read-only door."""
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        _create_view(con, "bars", self.bars_dir.absolute(), _bar_view_schema())
        _create_view(con, "liquidations", self.liq_dir.absolute(), LIQUIDATION_SCHEMA)
        _lock_down(con, self.root.absolute(), allow_files)
        return con

    def sql(
        self, query: str, params: Iterable[object] | None = None, *, allow_files: bool = False
    ) -> pl.DataFrame:
        """The result of a read-only ``query`` (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW,
        SUMMARIZE) over the catalog; ``allow_files`` lets it read files outside the catalog too."""
        _refuse_non_queries(query)
        con = self.connect(allow_files=allow_files)
        try:
            rel = con.sql(query, params=list(params) if params else None)
            return pl.DataFrame() if rel is None else rel.pl()
        except duckdb.PermissionException as exc:
            raise StoreError(
                f"SQL refused: {exc}; `sql` reads only the catalog at {self.root} "
                "(pass --allow-files to read other files)"
            ) from None
        except duckdb.Error as exc:
            raise StoreError(f"SQL error: {_sql_message(exc)}") from None
        finally:
            con.close()


VIEWS = ("bars", "liquidations")
_DID_YOU_MEAN = re.compile(r'\s*Did you mean "([^"]+)"\?')


def _sql_message(exc: duckdb.Error) -> str:
    """DuckDB's message, where an unknown table is pointed at our views, not at its own catalog
    tables (``pg_tables``, ``pg_sequences``...), which hold nothing of the user's."""
    text = str(exc)
    if not isinstance(exc, duckdb.CatalogException):
        return text
    hint = _DID_YOU_MEAN.search(text)
    if hint is not None and hint.group(1) in VIEWS:
        return text
    text = _DID_YOU_MEAN.sub("", text).rstrip().rstrip("!")
    return (f"{text}: the catalog's views are `bars` and `liquidations` "
            '(`oiradar sql "describe bars"` lists their columns)')  # fmt: skip


# What the catalog's SQL may run. DESCRIBE, SHOW, SUMMARIZE, VALUES and FROM-first queries parse as
# SELECT; everything else (COPY, EXPORT, ATTACH, INSTALL/LOAD, SET, PRAGMA, CALL, CREATE, INSERT,
# EXPLAIN ANALYZE of any of them...) could write files or change the settings, and is refused.
_QUERY_TYPES = (duckdb.StatementType.SELECT,)


def _refuse_non_queries(query: str) -> None:
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise StoreError(f"SQL error: {exc}") from None
    for i, st in enumerate(statements, 1):
        if st.type not in _QUERY_TYPES:
            kind = st.type.name.replace("_", " ")
            hint = " (to write a series to a file use `oiradar export`)" if kind in _WRITES else ""
            raise InputError(
                f"SQL statement {i} ({st.query.strip()[:60]!r}) is a {kind} statement: `sql` runs "
                f"read-only queries only: SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE{hint}"
            )


_WRITES = ("COPY", "EXPORT")


def _lock_down(con: duckdb.DuckDBPyConnection, root: Path, allow_files: bool) -> None:
    """No file beyond ``root`` (unless ``allow_files``), no extension downloads, no Python variables
    read as tables (DuckDB's replacement scans), and settings locked."""
    con.execute("SET python_enable_replacements = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    if not allow_files:
        con.execute(f"SET allowed_directories = [{_sql_str(str(root) + os.sep)}]")
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _stored_key(head: pl.DataFrame, folder: Path) -> SeriesKey:
    """The key a stored file names; a name stored before names were checked is reported."""
    exchange, symbol, timeframe = (head[c][0] for c in KEY_COLUMNS)
    try:
        return SeriesKey(exchange=exchange, symbol=symbol, timeframe=Timeframe(timeframe))
    except (InputError, ValueError) as exc:
        raise StoreError(
            f"{folder}: {exc}; move this folder out of the catalog and import the data again "
            "with a valid --exchange"
        ) from None


def find_gaps(ts: pl.Series, step_ms: int) -> pl.DataFrame:
    """Runs of missing bars between consecutive stored ``ts`` values."""
    frame = pl.DataFrame({"ts": ts.sort()})
    diffs = frame.with_columns(prev=pl.col("ts").shift(1)).filter(
        (pl.col("ts") - pl.col("prev")) > step_ms
    )
    return diffs.select(
        (pl.col("prev") + step_ms).alias("gap_start"),
        (pl.col("ts") - step_ms).alias("gap_end"),
        ((pl.col("ts") - pl.col("prev")) // step_ms - 1).alias("bars"),
    )


def _bar_view_schema() -> dict[str, pl.DataType]:
    return {**BAR_SCHEMA, "exchange": pl.String(), "symbol": pl.String(), "timeframe": pl.String()}


_DUCK_TYPES = {
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.String: "VARCHAR",
    pl.Boolean: "BOOLEAN",
}


def committed_files(folder: Path) -> list[Path]:
    """Every committed partition file under ``folder`` (all series), from their manifests."""
    if not folder.is_dir():
        return []
    return [f for m in sorted(folder.rglob(MANIFEST)) for f in partition_files(m.parent)]


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _create_view(
    con: duckdb.DuckDBPyConnection, name: str, folder: Path, schema: dict[str, pl.DataType]
) -> None:
    files = committed_files(folder)
    if files:
        listing = ", ".join(_sql_str(str(f)) for f in files)
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)"
        )
        return
    cols = ", ".join(f"CAST(NULL AS {_DUCK_TYPES[type(t)]}) AS {c}" for c, t in schema.items())
    con.execute(f"CREATE VIEW {name} AS SELECT {cols} WHERE false")


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _is_disk_full(exc: BaseException) -> bool:
    """ENOSPC / EDQUOT from Python, or from polars' Parquet writer (which only says it in text)."""
    if isinstance(exc, OSError):
        return exc.errno in _DISK_FULL
    return any(f"(os error {code})" in str(exc) for code in _DISK_FULL)


@contextlib.contextmanager
def _disk_full_guard(folder: Path) -> Iterator[None]:
    """Turn a full disk during a write into a StoreError (call with the write lock held).

    Nothing was committed (the manifest is replaced last), so the catalog is unchanged; the
    files staged before the disk filled up are removed at once to give the space back.
    """
    try:
        yield
    except (OSError, pl.exceptions.PolarsError) as exc:
        if not _is_disk_full(exc):
            raise
        with contextlib.suppress(OSError):
            collect_garbage(folder)
        path = getattr(exc, "filename", None) or folder
        raise StoreError(
            f"disk full while writing {path}: the catalog is unchanged; free space and re-run"
        ) from None


def _read_existing(path: Path | None, schema: dict[str, pl.DataType] = BAR_SCHEMA) -> pl.DataFrame:
    if path is None:
        return pl.DataFrame(schema=schema)
    try:
        return pl.read_parquet(path, columns=list(schema))
    except (pl.exceptions.PolarsError, OSError) as exc:  # reported, never silently replaced
        raise _damaged_partition(path, exc) from None


def _collect(lf: pl.LazyFrame, files: list[Path]) -> pl.DataFrame:
    """``lf.collect()``; a damaged or missing partition file is a StoreError naming that file."""
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        for path in files:  # find the culprit: polars does not always name it
            try:
                pl.read_parquet(path)
            except (pl.exceptions.PolarsError, OSError) as bad:
                raise _damaged_partition(path, bad) from None
        raise StoreError(f"cannot read {files[0].parent}: {exc}") from None


def _damaged_partition(path: Path, exc: Exception) -> StoreError:
    if isinstance(exc, FileNotFoundError):
        return damaged(path.parent / MANIFEST, f"it names {path.name}, which is missing")
    return damaged(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _merge_bars(old: pl.DataFrame, new: pl.DataFrame) -> tuple[pl.DataFrame, int, int]:
    """Upsert ``new`` into ``old`` by ``ts``. Returns (merged, rows added, rows changed)."""
    if old.is_empty():
        return new.select(list(BAR_SCHEMA)), new.height, 0
    joined = old.join(new, on="ts", how="full", coalesce=True, suffix="_new")
    merged_cols = [pl.coalesce(pl.col(f"{c}_new"), pl.col(c)).alias(c) for c in _COMPARED]
    was_old = pl.col("source").is_not_null()
    is_new = pl.col("source_new").is_not_null()
    differs = pl.any_horizontal(
        [
            pl.col(f"{c}_new").is_not_null() & pl.col(f"{c}_new").ne_missing(pl.col(c))
            for c in _COMPARED
        ]
    )
    joined = joined.with_columns(_added=~was_old, _changed=was_old & is_new & differs)
    touched = pl.col("_added") | pl.col("_changed")
    out = joined.select(
        "ts",
        *merged_cols,
        pl.when(touched).then(pl.col("source_new")).otherwise(pl.col("source")).alias("source"),
        pl.when(touched)
        .then(pl.col("ingested_at_new"))
        .otherwise(pl.col("ingested_at"))
        .alias("ingested_at"),
        "_added",
        "_changed",
    ).sort("ts")
    added = int(out["_added"].sum())
    changed = int(out["_changed"].sum())
    return out.select(list(BAR_SCHEMA)), added, changed
