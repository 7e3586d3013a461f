"""Low-level readers shared by the format parsers: text-first CSV, Parquet, feather, JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.sources.decode.files.validate import ROW, add_rows, refuse


def read_csv_text(path: Path, *, has_header: bool = True) -> pl.DataFrame:
    """Every column as text (values are cast later, strictly), with ``_row`` numbering rows."""
    try:
        frame = pl.read_csv(
            path,
            has_header=has_header,
            infer_schema=False,
            encoding="utf8-lossy",
            truncate_ragged_lines=False,
            missing_columns="insert",
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise _csv_error(path, exc, has_header=has_header) from None
    frame = frame.rename({c: c.lstrip("\ufeff").strip() for c in frame.columns})
    return add_rows(frame)


def _csv_error(path: Path, exc: Exception, *, has_header: bool) -> InputError:
    """Why polars could not read a CSV, naming the row when the row can be found."""
    if isinstance(exc, pl.exceptions.NoDataError):
        return InputError("the file is empty: nothing to import", file=str(path))
    bad = _first_bad_row(path, "header" if has_header else "first row")
    if bad is None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return InputError(f"cannot read CSV: {first}", file=str(path))
    row, why, line = bad
    return refuse(why, file=str(path), row=row if has_header else row + 1, value=line[:80])


def _first_bad_row(path: Path, first: str) -> tuple[int, str, str] | None:
    """``(data row, why, text)`` of the first row longer than the first line, or whose quoted
    cell runs over the end of its line (a quote left open); None when neither is found."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            width = len(next(reader, []))
            for row, cells in enumerate(reader, start=1):  # blank lines count, as in polars
                if len(cells) > width:
                    why = f"this row has {len(cells)} cells but the {first} has {width}"
                    return row, f"{why} (a stray comma or a missing quote?)", ",".join(cells)
                open_cell = next((c for c in cells if "\n" in c or "\r" in c), None)
                if open_cell is not None:
                    why = "a quote opened in this row is never closed"
                    return row, why, '"' + open_cell.splitlines()[0]
    except (OSError, csv.Error):
        return None
    return None


def read_columnar(path: Path) -> pl.DataFrame:
    """A Parquet or feather (Arrow IPC) file, with ``_row``."""
    try:
        if path.suffix.lower() in (".feather", ".arrow", ".ipc"):
            frame = pl.read_ipc(path)
        else:
            frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for a damaged file
        raise InputError(f"cannot read {path.suffix} file: {exc}", file=str(path)) from None
    return add_rows(frame)


def read_json_records(path: Path) -> pl.DataFrame:
    """A JSON array of flat objects (every value kept as text for strict casting), with ``_row``."""
    data = load_json(path)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError("expected a JSON array of objects", file=str(path))
    keys = list(dict.fromkeys(k for r in data for k in r))
    columns = {k: [_text(r.get(k)) for r in data] for k in keys}
    return add_rows(pl.DataFrame(columns, schema=dict.fromkeys(keys, pl.String)))


def load_json(path: Path) -> object:
    """The whole JSON document of ``path``; a clear InputError when it is not valid JSON."""
    try:
        return json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", file=str(path)
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid JSON: not UTF-8 text (byte {exc.start})", file=str(path)
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read JSON: {exc}", file=str(path)) from None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def head_line(path: Path) -> str:
    """The first line of a text file without BOM or line end ('' for binary or empty files)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.readline(65536)
    except OSError:
        return ""
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()


def json_first_keys(path: Path) -> list[str]:
    """Keys of the first object of a JSON array (reads a bounded prefix of the file)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return []  # the full read (load_json) says why
    start = text.find("{")
    end = text.find("}", start)
    if start < 0 or end < 0 or not text.lstrip().startswith("["):
        return []
    try:
        obj = json.loads(text[start : end + 1])
    except ValueError:
        return []
    return list(obj) if isinstance(obj, dict) else []


def keep_rows(frame: pl.DataFrame) -> list[str]:
    """Column names a parser should carry along when it selects (always ``_row``)."""
    return [ROW] if ROW in frame.columns else []
