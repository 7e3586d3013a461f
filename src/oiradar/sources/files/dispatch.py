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

import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path

import polars as pl
from rich.markup import escape
from rich.progress import Progress

from oiradar.errors import InputError, StoreError
from oiradar.model import SeriesKey, Source, Timeframe, conform_bars, validate_exchange_name
from oiradar.sources.files.base import (
    BarBatch,
    FundingEvents,
    ImportOptions,
    ImportReport,
    ParsedFile,
)
from oiradar.sources.files.detect import detect_format
from oiradar.sources.files.validate import quote_volume_estimate
from oiradar.store import Catalog

Parser = Callable[[Path, ImportOptions], ParsedFile]


def _formats() -> dict[str, Parser]:
    """Format name -> parser (imported lazily so one broken parser cannot break the others)."""
    from oiradar.sources.files import (
        archive,
        binance_json,
        coinalyze,
        freqtrade,
        generic,
        liquidations,
        polls,
        prices,
    )

    return {
        "csv": generic.parse_generic,
        "parquet": generic.parse_generic,
        "binance-archive": archive.parse_archive,
        "freqtrade": freqtrade.parse_freqtrade,
        "coinalyze": coinalyze.parse_coinalyze,
        "binance-json": binance_json.parse_binance_json,
        "bybit-kline": prices.parse_bybit_kline,
        "close-only": prices.parse_close_only,
        "binance-liquidations": liquidations.parse_binance_liquidations,
        "hyperliquid": liquidations.parse_hyperliquid,
        "polls": polls.parse_polls,
    }


FORMAT_NAMES = (
    "auto", "csv", "parquet", "binance-archive", "freqtrade", "coinalyze", "binance-json",
    "bybit-kline", "close-only", "binance-liquidations", "hyperliquid", "polls",
)  # fmt: skip


def import_paths(
    paths: Iterable[str | Path],
    catalog: Catalog,
    *,
    fmt: str = "auto",
    exchange: str | None = None,
    symbol: str | None = None,
    timeframe: str | Timeframe | None = None,
    mapping: dict[str, str] | None = None,
    progress: bool = False,
) -> ImportReport:
    """Import files and directories into ``catalog``; all-or-nothing on bad input."""
    from oiradar.sources.files.archive import fill_coinm_oi

    if fmt not in FORMAT_NAMES:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMAT_NAMES)}")
    tf = Timeframe.parse(str(timeframe)) if timeframe else None
    if exchange is not None:  # before any file is read: the name becomes a catalog folder
        validate_exchange_name(exchange)
    opts = ImportOptions(
        fmt=fmt, exchange=exchange, symbol=symbol, timeframe=tf, mapping=dict(mapping or {})
    )
    report = ImportReport()
    jobs = list(_plan_files(paths, opts, report))
    report.files = [str(path) for path, _ in jobs]
    with _progress(progress) as bar:
        parsed = parse_all(jobs, opts, bar)
        for p in parsed:
            report.notes.extend(p.notes)
            if p.skipped:
                report.skipped[p.file] = p.skipped
        series = merge_batches(parsed, catalog, opts)
        report.notes.extend(fill_coinm_oi(series, catalog))  # decision 0506
        check_finite(series)
        _write(series, parsed, catalog, report, bar)
    return report


def _progress(enabled: bool) -> Progress | nullcontext[None]:
    return Progress(transient=True) if enabled else nullcontext()


def _plan_files(
    paths: Iterable[str | Path], opts: ImportOptions, report: ImportReport
) -> Iterator[tuple[Path, str]]:
    """(file, format name) for every file to parse; unrecognised files inside folders are skipped."""
    for given in paths:
        root = given if isinstance(given, Path) else Path(given)
        if str(root).startswith("~"):
            root = root.expanduser()
        try:  # one stat per path: a year of daily files is 730 of them
            mode = root.stat().st_mode
        except OSError:
            raise InputError(f"no such file or directory: {root}", file=str(root)) from None
        if stat.S_ISDIR(mode):
            for path in sorted(p for p in root.rglob("*") if not p.is_dir()):
                if any(part.startswith(".") for part in path.relative_to(root).parts):
                    continue
                if not path.is_file():  # a pipe, socket or device (or a broken link)
                    report.skipped[str(path)] = "not a regular file"
                    continue
                if path.name.endswith(".CHECKSUM"):  # verified beside its zip, never parsed
                    report.skipped[str(path)] = "checksum (verified beside its zip)"
                    continue
                name = _format_for(path, opts, explicit=False)
                if name is None or name.startswith("skip:"):
                    report.skipped[str(path)] = name[5:] if name else "unrecognised format"
                    continue
                yield path, name
            continue
        if not stat.S_ISREG(mode):  # opening a named pipe would wait for a writer forever
            raise InputError(
                f"not a regular file ({_kind_of(mode)}): give a file or a folder", file=str(root)
            )
        name = _format_for(root, opts, explicit=True)
        if name is not None and name.startswith("skip:"):
            report.skipped[str(root)] = name[5:]
            continue
        assert name is not None
        yield root, name


_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def _format_for(path: Path, opts: ImportOptions, *, explicit: bool) -> str | None:
    if opts.fmt != "auto":
        return opts.fmt
    name = detect_format(path)
    if name is None and explicit:
        suffix = path.suffix.lower()
        if suffix in (".csv", ".txt"):
            return "csv"  # the generic parser names what is missing
        if suffix in (".parquet", ".feather"):
            return "parquet"
        raise InputError(
            f"cannot tell this file's format; pass --format (one of {', '.join(FORMAT_NAMES[1:])})",
            file=str(path),
        )
    return name


def parse_all(
    jobs: list[tuple[Path, str]], opts: ImportOptions, bar: Progress | None = None
) -> list[ParsedFile]:
    """Parse (and validate) every file; archive files go together to the archive parser."""
    from oiradar.sources.files.archive import parse_archive_files

    archives = [path for path, name in jobs if name == "binance-archive"]
    parsed = [_parse_one(path, name, opts, bar) for path, name in jobs if name != "binance-archive"]
    if archives:
        parsed.extend(parse_archive_files(archives, opts))
    return parsed


def _parse_one(path: Path, name: str, opts: ImportOptions, bar: Progress | None) -> ParsedFile:
    task = bar.add_task(escape(f"parse {path.name}"), total=None) if bar else None
    parsed = _formats()[name](path, opts)
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
        out[key] = (_storable(frame, key, batches), source)
    return out


def _storable(frame: pl.DataFrame, key: SeriesKey, batches: list[BarBatch]) -> pl.DataFrame:
    """Cast to the stored schema now, so that no write can fail on a type after validation."""
    try:
        return conform_bars(frame)
    except pl.exceptions.PolarsError as exc:
        files = sorted({b.file for b in batches})
        raise InputError(f"cannot store the bars of {key}: {exc}", file=", ".join(files)) from None


def estimate_quote_volume(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill a missing ``quote_volume`` with ``volume * (high + low + close) / 3``, flagged (SPEC)."""
    if not {"volume", "high", "low", "close"} <= set(frame.columns):
        return frame
    est = quote_volume_estimate()
    given = pl.col("quote_volume") if "quote_volume" in frame.columns else pl.lit(None, pl.Float64)
    old_flag = (
        pl.col("quote_volume_estimated")
        if "quote_volume_estimated" in frame.columns
        else pl.lit(None, pl.Boolean)
    )
    flag = (
        pl.when(given.is_not_null())
        .then(old_flag.fill_null(False))
        .when(est.is_not_null())
        .then(True)
        .otherwise(None)
    )
    return frame.with_columns(
        pl.coalesce(given, est).alias("quote_volume"), flag.alias("quote_volume_estimated")
    )


def check_finite(series: dict[SeriesKey, tuple[pl.DataFrame, Source]]) -> None:
    """No infinite or NaN value reaches the catalog, derived columns included.

    Each file's values are checked row by row when parsed; this catches what merging and
    deriving across files (quote_volume, COIN-M oi) could still overflow.
    """
    for key, (frame, _source) in series.items():
        for col, dtype in frame.schema.items():
            if not dtype.is_float():
                continue
            bad = frame.filter(~pl.col(col).is_finite()).head(1)
            if bad.height:
                raise InputError(
                    f"the {col} of {key} at ts {bad['ts'][0]} is not a finite number "
                    "(derived from values that are too large): check the input's units",
                    column=col,
                    value=bad[col][0],
                )


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


def bucket_funding(events: pl.DataFrame, timeframe: Timeframe) -> pl.DataFrame:
    """Sum settlements into the bar that contains them: ``groupby(ts - ts % tf).sum()``."""
    return (
        events.with_columns((pl.col("ts") - pl.col("ts") % timeframe.ms).alias("ts"))
        .group_by("ts", maintain_order=True)
        .agg(pl.col("funding_rate").sum())
        .sort("ts")
    )


def combine_frames(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Merge frames of one series; for a ts present twice the later non-null value wins.

    Frames with the same columns are stacked; stacks with disjoint value columns (klines and
    metrics of one symbol) are joined on ``ts``, which is much cheaper than a group-by.
    """
    if len(frames) == 1:
        return frames[0]
    by_columns: dict[tuple[str, ...], list[pl.DataFrame]] = {}
    for f in frames:
        by_columns.setdefault(tuple(sorted(f.columns)), []).append(f)
    stacks = [_stack(group) for group in by_columns.values()]
    seen: set[str] = set()
    for stack in stacks:
        values = set(stack.columns) - {"ts"}
        if values & seen:
            return _stack(frames)
        seen |= values
    out = stacks[0]
    for stack in stacks[1:]:
        out = _join_on_ts(out, stack)
    return out.sort("ts")


def _join_on_ts(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """``left.join(right, on="ts", how="full", coalesce=True)`` for frames sorted by unique ts.

    When both hold the very same ``ts`` (klines and metrics of the same days, the common case)
    the join is a side-by-side stack, which costs nothing; otherwise the real join.
    """
    if left["ts"].equals(right["ts"]):
        return left.hstack(right.drop("ts").get_columns())
    return left.join(right, on="ts", how="full", coalesce=True)


def _stack(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate in order; duplicated ts collapse to the last non-null value of each column."""
    stacked = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    if _strictly_increasing(stacked["ts"]):  # the common case: nothing to sort or collapse
        return stacked
    if not stacked["ts"].is_duplicated().any():
        return stacked.sort("ts")
    values = [c for c in stacked.columns if c != "ts"]
    return (
        stacked.with_row_index("_order")
        .sort("ts", "_order")
        .group_by("ts", maintain_order=True)
        .agg([pl.col(c).drop_nulls().last().alias(c) for c in values])
    )


def _strictly_increasing(ts: pl.Series) -> bool:
    """Sorted without repeats (an O(n) scan, cheaper than a hash of every ts)."""
    return ts.null_count() == 0 and (ts.len() < 2 or bool((ts.diff().drop_nulls() > 0).all()))


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
