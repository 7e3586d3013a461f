"""``import_paths``: parse every file, validate everything, then write each series once.

Order of work, and why:

1. Walk the paths (directories recursively, sorted) and pick each file's format.
2. Parse and validate **all** files before **any** write: a bad row anywhere refuses the whole
   import and leaves the catalog untouched.
3. Group the parsed batches by series key and merge them (a later file's non-null value wins for
   the same ``ts``, as if the files had been imported one after another).
4. Call ``Catalog.write_bars`` **once per series**: a year of daily archive files rewrites each
   monthly partition once, not once per day. Liquidations go in one ``write_liquidations`` call.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from rich.markup import escape
from rich.progress import Progress

from oiradar.errors import InputError, StoreError
from oiradar.model import BAR_VALUE_COLUMNS, SeriesKey, Source, Timeframe, validate_exchange_name
from oiradar.sources.decode.files.archive import parse_archive_files
from oiradar.sources.decode.files.base import BarBatch, FundingEvents, ImportOptions, ParsedFile
from oiradar.sources.decode.files.formats import check_format, parser_for, plan_files
from oiradar.sources.decode.files.merge import (
    bucket_funding,
    check_finite,
    combine_frames,
    estimate_quote_volume,
    storable,
)
from oiradar.sources.ingest.coinm import fill_coinm_oi
from oiradar.store import Catalog, WriteResult


@dataclass
class ImportReport:
    """Per-series write results, liquidation results, files read and files skipped."""

    series: dict[SeriesKey, WriteResult] = field(default_factory=dict)
    liquidations: WriteResult = field(default_factory=WriteResult)
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return sum(r.rows_in for r in self.series.values()) + self.liquidations.rows_in

    @property
    def partitions_written(self) -> int:
        return sum(len(r.partitions) for r in self.series.values()) + len(
            self.liquidations.partitions
        )

    def summary(self) -> pl.DataFrame:
        """One row per series (and one for liquidations): rows in/added/changed, partitions."""
        rows = [
            {
                "exchange": k.exchange,
                "symbol": k.symbol,
                "timeframe": k.timeframe.value,
                "rows_in": r.rows_in,
                "added": r.rows_added,
                "changed": r.rows_changed,
                "partitions": len(r.partitions),
            }
            for k, r in sorted(self.series.items(), key=lambda kv: str(kv[0]))
        ]
        liq = self.liquidations
        if liq.rows_in:
            rows.append(
                {
                    "exchange": "(liquidations)",
                    "symbol": "",
                    "timeframe": "",
                    "rows_in": liq.rows_in,
                    "added": liq.rows_added,
                    "changed": 0,
                    "partitions": len(liq.partitions),
                }
            )
        schema = {
            "exchange": pl.String, "symbol": pl.String, "timeframe": pl.String, "rows_in": pl.Int64,
            "added": pl.Int64, "changed": pl.Int64, "partitions": pl.Int64,
        }  # fmt: skip
        return pl.DataFrame(rows, schema=schema)


def import_paths(
    paths: Iterable[str | Path],
    catalog: Catalog,
    *,
    fmt: str = "auto",
    exchange: str | None = None,
    symbol: str | None = None,
    timeframe: Timeframe | None = None,
    mapping: dict[str, str] | None = None,
    drop: Iterable[str] = (),
    progress: bool = False,
) -> ImportReport:
    """Import files and directories into ``catalog``; all-or-nothing on bad input.

    ``drop``: canonical bar columns left out of every file (``--drop funding_rate`` for files
    whose funding is a rate repeated on every bar, not the settlements inside it)."""
    check_format(fmt)
    if exchange is not None:  # before any file is read: the name becomes a catalog folder
        validate_exchange_name(exchange)
    opts = ImportOptions(fmt=fmt, exchange=exchange, symbol=symbol, timeframe=timeframe,
                         mapping=dict(mapping or {}), drop=check_drop(drop))  # fmt: skip
    report = ImportReport()
    jobs = list(plan_files(paths, opts, report.skipped))
    report.files = [str(path) for path, _ in jobs]
    with _progress(progress) as bar:
        parsed = parse_all(jobs, opts, bar)
        report.notes.extend(drop_columns(parsed, opts.drop))
        for p in parsed:
            report.notes.extend(p.notes)
            if p.skipped:
                report.skipped[p.file] = p.skipped
        series = merge_batches(parsed, catalog, opts)
        report.notes.extend(fill_coinm_oi(series, catalog))  # decision 0506
        check_finite(series)
        _write(series, parsed, catalog, report, bar)
    return report


def check_drop(names: Iterable[str]) -> tuple[str, ...]:
    """``--drop`` names, checked before any file is read: canonical bar value columns."""
    out = tuple(dict.fromkeys(n.strip() for n in names))
    droppable = list(BAR_VALUE_COLUMNS)
    bad = [n for n in out if n not in droppable]
    if bad:
        raise InputError(f"--drop {bad[0]!r} is not a column that can be left out; "
                         f"it takes one of {droppable}")  # fmt: skip
    return out


def drop_columns(parsed: list[ParsedFile], drop: tuple[str, ...]) -> list[str]:
    """Leave ``drop``'s columns out of every parsed bar batch (and the funding settlements out
    when ``funding_rate`` is dropped); a note per column dropped, or not found in any file."""
    if not drop:
        return []
    found: dict[str, int] = dict.fromkeys(drop, 0)
    for p in parsed:
        for b in p.bars:
            here = [c for c in drop if c in b.frame.columns]
            for c in here:
                found[c] += b.frame[c].count()
            b.frame = b.frame.drop(here)
        p.bars = [b for b in p.bars if b.frame.width > 1]  # nothing but ``ts`` left: no bars
        if "funding_rate" in drop and p.funding:
            found["funding_rate"] += sum(ev.frame.height for ev in p.funding)
            p.funding = []
    return [f"--drop {c}: {n:,} value(s) left out" if n else f"--drop {c}: no file has values in it"
            for c, n in found.items()]  # fmt: skip


def _progress(enabled: bool) -> Progress | nullcontext[None]:
    return Progress(transient=True) if enabled else nullcontext()


def parse_all(
    jobs: list[tuple[Path, str]], opts: ImportOptions, bar: Progress | None = None
) -> list[ParsedFile]:
    """Parse (and validate) every file; archive files go together to the archive parser."""
    archives = [path for path, name in jobs if name == "binance-archive"]
    parsed = [_parse_one(path, name, opts, bar) for path, name in jobs if name != "binance-archive"]
    if archives:
        parsed.extend(parse_archive_files(archives, opts))
    return parsed


def _parse_one(path: Path, name: str, opts: ImportOptions, bar: Progress | None) -> ParsedFile:
    task = bar.add_task(escape(f"parse {path.name}"), total=None) if bar else None
    parsed = parser_for(name)(path, opts)
    if bar is not None and task is not None:
        bar.remove_task(task)
    return parsed


def merge_batches(
    parsed: list[ParsedFile], catalog: Catalog, opts: ImportOptions
) -> dict[SeriesKey, tuple[pl.DataFrame, Source]]:
    """One frame per series: batches concatenated in file order, funding summed into bars."""
    groups: dict[SeriesKey, list[BarBatch]] = {}
    for p in parsed:
        for b in p.bars:
            if b.frame.height:
                groups.setdefault(b.key, []).append(b)
    for p in parsed:
        for ev in p.funding:
            for key in _funding_targets(ev, groups, catalog, opts):
                frame = bucket_funding(ev.frame, key.timeframe)
                groups.setdefault(key, []).append(BarBatch(key=key, frame=frame, file=ev.file))
    out = {}
    for key in sorted(groups, key=str):
        batches = groups[key]
        sources = {b.source for b in batches}
        source = sources.pop() if len(sources) == 1 else Source.FILE
        frame = estimate_quote_volume(combine_frames([b.frame for b in batches]))
        out[key] = (storable(frame, key, batches), source)
    return out


def _funding_targets(
    ev: FundingEvents,
    groups: dict[SeriesKey, list[BarBatch]],
    catalog: Catalog,
    opts: ImportOptions,
) -> list[SeriesKey]:
    same = [k for k in groups if (k.exchange, k.symbol) == (ev.exchange, ev.symbol)]
    if opts.timeframe is not None:
        tfs = {opts.timeframe}
    else:
        stored = [
            k for k in catalog.stored_keys() if (k.exchange, k.symbol) == (ev.exchange, ev.symbol)
        ]
        tfs = {k.timeframe for k in [*same, *stored]}
    if not tfs:
        raise InputError(
            f"funding settlements of {ev.exchange} {ev.symbol} have no bar series to go into: "
            "import the candles in the same run, or pass --timeframe",
            file=ev.file,
        )
    return [
        SeriesKey(exchange=ev.exchange, symbol=ev.symbol, timeframe=tf)
        for tf in sorted(tfs, key=lambda t: t.ms)
    ]


def _after_partial_write(exc: StoreError, report: ImportReport) -> StoreError:
    """Say which series of this import were written before a write failed (series commit one
    by one, each atomically)."""
    if not report.series:
        return exc
    done = ", ".join(str(k) for k in report.series)
    return StoreError(
        f"{exc} (this import had already written {len(report.series)} other series: {done}; "
        "re-running it is safe: what is already stored is not written twice)"
    )


def _write(
    series: dict[SeriesKey, tuple[pl.DataFrame, Source]],
    parsed: list[ParsedFile],
    catalog: Catalog,
    report: ImportReport,
    bar: Progress | None,
) -> None:
    task = bar.add_task("write", total=len(series) + 1) if bar else None
    # One hold of the (re-entrant) catalog lock for the whole import: a `demo --fresh` or another
    # destructive step cannot run between two series of it.
    with catalog.lock():
        for key, (frame, source) in series.items():
            try:
                report.series[key] = catalog.write_bars(key, frame, source)
            except StoreError as exc:
                raise _after_partial_write(exc, report) from None
            if bar is not None and task is not None:
                bar.advance(task)
        liqs = [f for p in parsed for f in p.liquidations]
        if liqs:
            frame = pl.concat(liqs, how="diagonal_relaxed")
            report.liquidations = catalog.write_liquidations(frame)
