"""Frames for people (rich tables) and for programs (CSV, JSON, files).

One rule per kind of column, found by name and type, so every command shows values alike:
epoch-ms columns (``ts``, ``*_ts``, ``ingested_at``, ``gap_start``/``gap_end``) as ISO UTC dates,
``*_usd`` as dollars, ``*_pct`` as percents, counts and amounts with thousands separators. A table
shows the command's key columns and fits the terminal (100 columns in a pipe); ``wide`` shows
every column. CSV and JSON keep the raw values (``ts="iso"`` turns epoch ms into ISO text in CSV).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import typer
from rich.table import Table

from oiradar.errors import InputError
from oiradar.render.console import table_console
from oiradar.render.formats import (
    Kind,
    OutFormat,
    TsFormat,
    iso,
    money,
    number,
    pct,
    percent,
    ratio,
)

TIME_NAMES = frozenset({"ts", "ingested_at", "gap_start", "gap_end"})
ISO_CSV = "%Y-%m-%dT%H:%M:%S%.3fZ"


Cell = Callable[[Any], str]
CELLS: dict[Kind, Cell] = {
    Kind.TIME: iso,
    Kind.FRACTION: percent,
    Kind.PCT: pct,
    Kind.USD: money,
    Kind.NUMBER: number,
    Kind.RATIO: ratio,
    Kind.TEXT: str,
}


def is_time_column(name: str, dtype: pl.DataType) -> bool:
    return dtype.is_integer() and (name in TIME_NAMES or name.endswith("_ts"))


def kind_of(name: str, dtype: pl.DataType) -> Kind:
    """The kind a column is shown as when the command does not say."""
    if is_time_column(name, dtype):
        return Kind.TIME
    if dtype.is_numeric():
        if name.endswith("_usd"):
            return Kind.USD
        return Kind.PCT if name.endswith("_pct") else Kind.NUMBER
    return Kind.TEXT


def _cell(fmt: Kind | Cell) -> Cell:
    fn = CELLS[fmt] if isinstance(fmt, Kind) else fmt
    return lambda v: "" if v is None else fn(v)


def header(name: str, kind: Kind) -> str:
    """A column's title: ``move_pct`` reads ``move`` when its values carry the % sign (and
    ``est_long_usd`` ``est_long`` when they carry the $ sign)."""
    suffix = {Kind.PCT: "_pct", Kind.USD: "_usd"}.get(kind)
    return name.removesuffix(suffix) if suffix and name != suffix else name


def table(
    frame: pl.DataFrame, title: str | None = None, *, key: Sequence[str] | None = None,
    wide: bool = False, kinds: Mapping[str, Kind | Cell] | None = None,
    headers: Mapping[str, str] | None = None, right: Sequence[str] = (), lines: bool = False,
) -> Table:  # fmt: skip
    """A rich table of ``frame``: its ``key`` columns (all with ``wide``), each cell formatted;
    ``right``: text columns aligned right like numbers; ``lines``: a rule between rows (for
    cells of two lines)."""
    cols = frame.columns if wide or key is None else [c for c in key if c in frame.columns]
    out = Table(title=title, show_lines=lines)
    cells = []
    for c in cols:
        given = (kinds or {}).get(c)
        kind = given if isinstance(given, Kind) else kind_of(c, frame.schema[c])
        numeric = kind not in (Kind.TEXT, Kind.TIME) and frame.schema[c].is_numeric()
        name = (headers or {}).get(c) or header(c, kind)
        # min_width: a squeezed text column keeps its header's first letters, never vanishes
        out.add_column(name, justify="right" if numeric or c in right else "left",
                       no_wrap=numeric or kind is Kind.TIME, overflow="fold",
                       min_width=min(len(name), 10))  # fmt: skip
        cells.append(_cell(given or kind))
    for row in frame.select(cols).iter_rows():
        out.add_row(*[fn(v) for fn, v in zip(cells, row, strict=True)])
    return out


def lift_constant(
    frame: pl.DataFrame, title: str | None, columns: Sequence[str]
) -> tuple[pl.DataFrame, str | None]:
    """Move ``columns`` into the title when each holds one value in every row (one series shown:
    its exchange and symbol once, in the title, leave the width to the other columns)."""
    present = [c for c in columns if c in frame.columns]
    if frame.is_empty() or not present or any(frame[c].n_unique() > 1 for c in present):
        return frame, title
    values = " ".join(str(frame[c][0]) for c in present)
    return frame.drop(present), f"{title}: {values}" if title else values


def show(
    frame: pl.DataFrame, fmt: OutFormat = OutFormat.TABLE, title: str | None = None, *,
    key: Sequence[str] | None = None, wide: bool = False,
    kinds: Mapping[str, Kind | Cell] | None = None, headers: Mapping[str, str] | None = None,
    right: Sequence[str] = (), same: Sequence[str] = (), ts: TsFormat = TsFormat.MS,
    lines: bool = False,
) -> None:  # fmt: skip
    """Print ``frame`` as a table for people, or as CSV / JSON records with the raw values.

    ``same``: columns shown once in the title when constant (see :func:`lift_constant`)."""
    if fmt is OutFormat.CSV:
        typer.echo(csv_frame(frame, ts).write_csv(), nl=False)
    elif fmt is OutFormat.JSON:  # records; polars writes them far faster than json.dumps
        typer.echo(frame.write_json())
    else:
        if not wide:
            frame, title = lift_constant(frame, title, same)
        t = table(frame, title, key=key, wide=wide, kinds=kinds, headers=headers, right=right,
                  lines=lines)  # fmt: skip
        table_console(wide).print(t)


def csv_frame(frame: pl.DataFrame, ts: TsFormat = TsFormat.MS) -> pl.DataFrame:
    """``frame`` for a CSV file: epoch-ms columns as they are, or as ISO-8601 UTC text."""
    if ts is TsFormat.MS:
        return frame
    return frame.with_columns(
        pl.from_epoch(c, time_unit="ms").dt.strftime(ISO_CSV).alias(c)
        for c, t in frame.schema.items()
        if is_time_column(c, t)
    )


OUT_SUFFIXES = (".csv", ".parquet", ".json")


def check_out(path: Path, option: str = "--out") -> None:
    """Refuse an output file that cannot be written (a wrong suffix, a folder that is not there),
    before any work is done: an InputError naming the option and the path."""
    if path.suffix.lower() not in OUT_SUFFIXES:
        raise InputError(f"{option} must end in .csv, .parquet or .json, got {path.name!r}")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"{option} {path}: the folder {folder} {what}; create it or pick another")
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file name")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{option} {path}: the folder {folder} is not writable")


def write_frame(
    frame: pl.DataFrame, path: Path, option: str = "--out", ts: TsFormat = TsFormat.MS
) -> None:
    """Write ``frame`` to ``.csv``, ``.parquet`` or ``.json`` (records), by the file's suffix.

    Parquet and JSON keep epoch ms; CSV takes ``ts`` (``iso`` for spreadsheets)."""
    check_out(path, option)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            csv_frame(frame, ts).write_csv(path)
        elif suffix == ".parquet":
            frame.write_parquet(path)
        else:
            frame.write_json(path)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write it ({exc})") from None


def write_frames(
    frames: Iterable[pl.DataFrame], path: Path, option: str = "--out", ts: TsFormat = TsFormat.MS,
    finish: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
) -> int:  # fmt: skip
    """Write what :func:`write_frame` writes for the diagonal concatenation of ``frames``, holding
    one frame at a time: each goes to a Parquet part in a temporary folder beside ``path`` as it
    comes, then one streaming pass writes the file from the parts (``.json`` is collected first: a
    JSON array is written whole). ``finish`` edits the concatenation before it is written (it
    runs once every frame was seen). Returns the rows written."""
    check_out(path, option)
    with tempfile.TemporaryDirectory(prefix=".oiradar-parts-", dir=path.parent) as tmp:
        parts = []
        for i, frame in enumerate(frames):
            parts.append(Path(tmp) / f"{i:06d}.parquet")
            frame.write_parquet(parts[-1])
            del frame  # not held while the next one is made
        if not parts:
            return 0
        lf = pl.concat([pl.scan_parquet(p) for p in parts], how="diagonal_relaxed")
        lf = finish(lf) if finish is not None else lf
        rows = int(lf.select(pl.len()).collect().item())
        _sink(lf, path, option, ts)
    return rows


def _sink(lf: pl.LazyFrame, path: Path, option: str, ts: TsFormat) -> None:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            if ts is TsFormat.ISO:
                times = [c for c, t in lf.collect_schema().items() if is_time_column(c, t)]
                lf = lf.with_columns(pl.from_epoch(c, time_unit="ms").dt.strftime(ISO_CSV).alias(c)
                                     for c in times)  # fmt: skip
            lf.sink_csv(path)
        elif suffix == ".parquet":
            lf.sink_parquet(path)
        else:
            lf.collect().write_json(path)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write it ({exc})") from None


def jsonable(value: Any) -> Any:
    """Frames as lists of records, non-finite floats as null: what ``json.dumps`` can write."""
    if isinstance(value, pl.DataFrame):
        return [jsonable(r) for r in value.to_dicts()]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def echo_json(obj: Any, *, line: bool = False) -> None:
    """One JSON document on stdout (``--format json`` of the commands that print several tables);
    ``line``: on one line, for a stream of documents (JSON Lines)."""
    typer.echo(json.dumps(jsonable(obj), default=str, indent=None if line else 1))


__all__ = [
    "OUT_SUFFIXES",
    "Kind",
    "check_out",
    "csv_frame",
    "echo_json",
    "header",
    "is_time_column",
    "jsonable",
    "kind_of",
    "lift_constant",
    "show",
    "table",
    "write_frame",
    "write_frames",
]


def as_data(fmt: OutFormat, record: Callable[[], Any], main: Callable[[], pl.DataFrame]) -> bool:
    """Print a report for machines when ``fmt`` asks for it (JSON: the whole ``record()``; CSV:
    its ``main()`` table) and say so; False leaves the table view to the caller."""
    if fmt is OutFormat.JSON:
        echo_json(record())
        return True
    if fmt is OutFormat.CSV:
        show(main(), fmt)
        return True
    return False
