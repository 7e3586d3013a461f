"""Many archive CSVs parsed by one ``read_csv`` call, each bad cell still named by file and line.

Every file's body (header stripped) is concatenated and parsed together; a row index maps each
parsed row back to its file and line, so a bad cell is reported with file, line, column and value
(decision 0201). ``row`` in an :class:`~oiradar.errors.InputError` is the **line number in the
CSV file** (1-based, the header line counted when there is one).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from oiradar.errors import InputError
from oiradar.sources.decode.binance_archive.names import ArchiveFile, detect
from oiradar.sources.decode.binance_archive.reading import CsvInput, load_csv_bytes

_MICROS_FROM = 10**14  # epoch ms stay below 1e14 until the year 5138; epoch us are above it


@dataclass(frozen=True, slots=True)
class Body:
    """One file's CSV rows without the header row (kept apart for checking), newline-ended."""

    name: str
    data: bytes
    header: tuple[str, ...] | None
    info: ArchiveFile | None = None


def split_body(name: str, data: bytes, first_col: str, info: ArchiveFile | None = None) -> Body:
    """Strip the header row (kept for checking) and make the body end with a newline."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data[:1].isspace():
        data = data.lstrip()
    header: tuple[str, ...] | None = None
    # data rows start with a digit (a time); a header row with a letter (any column order)
    if data[:1].isalpha() or data[: len(first_col)].lower() == first_col.encode():
        head, _, data = data.partition(b"\n")
        header = _header_cells(head)
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return Body(name, data, header, info or detect(name))


@functools.lru_cache(maxsize=64)
def _header_cells(head: bytes) -> tuple[str, ...]:
    return tuple(c.strip() for c in head.decode("utf-8", "replace").split(","))


def check_header(body: Body, expected: Sequence[str], required: Iterable[str]) -> None:
    if body.header is None:
        return
    missing = [c for c in required if c not in body.header]
    if missing:
        raise InputError(
            f"the header lacks column {missing[0]!r} (header: {','.join(body.header)}; "
            f"expected: {','.join(expected)})",
            file=body.name,
            row=1,
            column=missing[0],
        )


@dataclass
class ParsedRows:
    """Rows of many files parsed together; ``_row`` is each row's line in the joined text.

    Which file a row came from is worked out only when needed (an error to report, files out of
    order, duplicates): counting the lines of every file costs time that the common case of
    clean, ordered files does not need to spend.
    """

    frame: pl.DataFrame
    bodies: list[Body]
    _starts: np.ndarray | None = None

    @property
    def starts(self) -> np.ndarray:
        """The ``_row`` of each file's first line."""
        if self._starts is None:
            counts = np.array([b.data.count(b"\n") for b in self.bodies], dtype=np.int64)
            self._starts = np.cumsum(counts) - counts
        return self._starts

    def file_index(self) -> pl.Series:
        """Each row's file (index into ``bodies``)."""
        rows = self.frame["_row"].to_numpy()
        return pl.Series("_file", np.searchsorted(self.starts, rows, side="right") - 1)

    def where(self, index: int) -> tuple[str, int]:
        row = int(self.frame["_row"][index])
        file_idx = int(np.searchsorted(self.starts, row, side="right") - 1)
        body = self.bodies[file_idx]
        return body.name, row - int(self.starts[file_idx]) + 1 + (1 if body.header else 0)

    def drop_blank_lines(self) -> None:
        """Blank lines parse as all-null rows: skipped, not refused (looked for only when the
        first column has a null, which is free to know)."""
        first = next((c for c in self.frame.columns if c != "_row"), None)
        if first is not None and self.frame[first].null_count():
            self.frame = self.frame.filter(_not_blank())

    def check(self, rules: Sequence[tuple[pl.Expr, str, str]]) -> None:
        """Evaluate every ``(mask, column, message)`` rule in one pass; raise at the first bad row.

        The earliest row that breaks any rule is reported (rule order breaks ties).
        """
        if not rules or self.frame.is_empty():
            return
        firsts = self.frame.select(
            mask.fill_null(False).arg_true().first().alias(str(i))
            for i, (mask, _c, _m) in enumerate(rules)
        ).row(0)
        hits = [(row, i) for i, row in enumerate(firsts) if row is not None]
        if not hits:
            return
        index, rule = min(hits)
        _mask, column, message = rules[rule]
        name, line = self.where(int(index))
        value = self.frame[column][int(index)] if column in self.frame.columns else None
        raise InputError(message, file=name, row=line, column=column, value=value)

    def fail(self, mask: pl.Expr, column: str, message: str) -> None:
        """Raise an :class:`InputError` at the first row where ``mask`` is true."""
        self.check([(mask, column, message)])


def _not_blank() -> pl.Expr:
    """Blank lines parse as all-null rows: they are skipped, not refused."""
    return pl.any_horizontal(pl.all().exclude("_row").is_not_null())


def parse_bodies(
    bodies: list[Body], schema: dict[str, pl.DataType], keep: Sequence[str] | None = None
) -> ParsedRows:
    """Parse every body in one ``read_csv`` call; on any error, find the bad cell per file.

    ``keep``: the columns to parse (the others are skipped unread, which is much faster).
    """
    names = list(schema)
    keep = list(keep) if keep is not None else names
    bodies = [b for b in bodies if b.data]
    if not bodies:
        empty = pl.DataFrame(schema={**{c: schema[c] for c in keep}, "_row": pl.Int64()})
        return ParsedRows(empty, bodies)
    ordered = [b if _header_in_order(b, schema) else _reorder(b, schema) for b in bodies]
    try:
        frame = pl.read_csv(
            b"".join(b.data for b in ordered), has_header=False, schema=schema,
            columns=[names.index(c) for c in keep], truncate_ragged_lines=False, quote_char=None,
        )  # fmt: skip
    except pl.exceptions.PolarsError as exc:
        for body in ordered:
            _locate_bad_cell(body, schema, keep)
        raise InputError(f"cannot parse CSV: {exc}", file=ordered[0].name) from None
    # polars turns every newline-ended line into one row (a blank line into an all-null row)
    return ParsedRows(frame.with_row_index("_row").cast({"_row": pl.Int64}), ordered)


def _header_in_order(body: Body, schema: dict[str, pl.DataType]) -> bool:
    return body.header is None or body.header == tuple(schema)


def _reorder(body: Body, schema: dict[str, pl.DataType]) -> Body:
    """A file whose header has other columns or another order: rewrite its rows in ours."""
    assert body.header is not None
    frame = pl.read_csv(
        body.data, has_header=False, new_columns=list(body.header), infer_schema=False,
        quote_char=None, truncate_ragged_lines=True,
    )  # fmt: skip
    frame = frame.select(
        [pl.col(c) if c in frame.columns else pl.lit(None, pl.String).alias(c) for c in schema]
    )
    data = frame.write_csv(include_header=False)
    return Body(body.name, data.encode(), body.header, body.info)


def _locate_bad_cell(body: Body, schema: dict[str, pl.DataType], keep: Sequence[str]) -> None:
    """Slow path, only after a parse error: raise at the first cell that does not parse."""
    offset = 2 if body.header else 1
    names = list(schema)
    for i, line in enumerate(body.data.decode("utf-8", "replace").split("\n")):  # as polars
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) > len(names):
            raise InputError(
                f"{len(cells)} fields where {len(names)} are expected ({','.join(names)})",
                file=body.name, row=i + offset, value=line[:120],
            )  # fmt: skip
        for col, cell in zip(names, cells, strict=False):
            if col in keep and not _cell_ok(cell.strip(), schema[col]):
                kind = "an integer" if schema[col] == pl.Int64() else "a number"
                raise InputError(
                    f"not {kind}", file=body.name, row=i + offset, column=col, value=cell
                )


def _cell_ok(cell: str, dtype: pl.DataType) -> bool:
    if cell == "" or dtype == pl.String():
        return True
    try:
        int(cell) if dtype == pl.Int64() else float(cell)
    except ValueError:
        return False
    return True


def epoch_ms(col: str) -> pl.Expr:
    """Epoch timestamps in ms; newer archive files use microseconds (detected per value)."""
    c = pl.col(col)
    return pl.when(c >= _MICROS_FROM).then(c // 1000).otherwise(c).alias(col)


def bad_number(col: str) -> pl.Expr:
    """Negative, NaN or infinite (a null is missing, not bad)."""
    c = pl.col(col)
    return ~c.is_finite() | (c < 0)


def load_bodies(
    sources: Sequence[CsvInput], first_col: str, names: Sequence[str | None]
) -> list[Body]:
    out = []
    for source, name in zip(sources, names, strict=True):
        label, data = load_csv_bytes(source, name)
        out.append(split_body(label, data, first_col))
    return out


def strictly_increasing(frame: pl.DataFrame) -> bool:
    """True when ``ts`` needs neither sorting nor de-duplication (the common case: skip both)."""
    return bool(frame.select((pl.col("ts").diff().drop_nulls() > 0).all()).item())
