"""One validation path for every imported bar frame.

Rows are named by their **1-based data row**: the first record after the header is row 1, in a
CSV as in a JSON array or a Parquet file (in a CSV with a header line, the file line is row + 1).
Parsers keep that number in a ``_row`` column while they filter or reshape, so an error still
names the row of the original file.

Checks, each refused with :class:`~oiradar.errors.InputError` naming file, row, column and value:
missing required column, non-numeric or non-finite value (the first offending cell), unparsable or
missing ``ts``, ``ts`` off the timeframe grid, negative volume / quote_volume / taker_buy_volume /
oi / oi_value / oi_raw, non-positive price, ``high < low``, open or close outside ``[low, high]``,
duplicate ``ts`` and out-of-order ``ts``.
"""

from __future__ import annotations

import polars as pl

from oiradar.errors import InputError
from oiradar.model import BAR_VALUE_COLUMNS, Timeframe

ROW = "_row"
ROW_NOTE = "(rows are 1-based data rows; the header line is not counted)"
NUMERIC_COLUMNS: tuple[str, ...] = (*BAR_VALUE_COLUMNS, "oi_raw")
NON_NEGATIVE = ("volume", "quote_volume", "taker_buy_volume", "oi", "oi_value", "oi_raw")
PRICES = ("open", "high", "low", "close")
_PASSTHROUGH = ("oi_unit", "quote_volume_estimated")
# ms since epoch between 1990 and 2100: anything else is seconds, microseconds or garbage.
_TS_MIN, _TS_MAX = 631_152_000_000, 4_102_444_800_000


def refuse(
    message: str,
    *,
    file: str,
    row: int | None = None,
    column: str | None = None,
    value: object = None,
) -> InputError:
    """An InputError whose message says how rows are counted when it names one."""
    note = f" {ROW_NOTE}" if row is not None else ""
    return InputError(f"{message}{note}", file=file, row=row, column=column, value=value)


def add_rows(frame: pl.DataFrame, first_row: int = 1) -> pl.DataFrame:
    """Number the data rows (``_row``, 1-based by default) unless a parser already did."""
    if ROW in frame.columns:
        return frame
    return frame.with_row_index(ROW, offset=first_row).with_columns(pl.col(ROW).cast(pl.Int64))


def first_bad(frame: pl.DataFrame, mask: pl.Expr, column: str) -> tuple[int, object] | None:
    """The ``(_row, value of column)`` of the first row where ``mask`` holds, or None."""
    hit = frame.select(ROW, column, mask.alias("_bad")).filter(pl.col("_bad")).head(1)
    if hit.is_empty():
        return None
    return int(hit[ROW][0]), hit[column][0]


def require_columns(frame: pl.DataFrame, required: tuple[str, ...], *, file: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise refuse(
            f"missing required column(s) {missing}; the file has {frame.columns[:20]} "
            "(rename with --map SRC=DST)",
            file=file,
            column=missing[0],
        )


def parse_numeric(frame: pl.DataFrame, columns: tuple[str, ...], *, file: str) -> pl.DataFrame:
    """Cast ``columns`` to Float64; the first non-numeric or non-finite cell is refused.

    Text is cast with ``strict=False`` and any null that was a non-empty string is the offender.
    NaN and empty cells are missing values (null), never zero.
    """
    for col in columns:
        if col not in frame.columns:
            continue
        raw = frame[col]
        if raw.dtype == pl.String:
            text = raw.str.strip_chars()
            cast = text.cast(pl.Float64, strict=False)
            bad = cast.is_null() & text.is_not_null() & (text != "")
            _raise_first(
                frame.with_columns(bad.alias("_m"), text.alias(col)),
                "_m",
                col,
                file,
                "not a number",
            )
        elif raw.dtype.is_numeric() or raw.dtype == pl.Null:
            cast = raw.cast(pl.Float64)
        else:
            raise refuse(f"expected numbers, found type {raw.dtype}", file=file, column=col)
        inf = cast.is_infinite().fill_null(False)
        _raise_first(frame.with_columns(inf.alias("_m")), "_m", col, file, "not a finite number")
        frame = frame.with_columns(cast.fill_nan(None).alias(col))
    return frame


def _raise_first(frame: pl.DataFrame, mask_col: str, col: str, file: str, msg: str) -> None:
    hit = first_bad(frame, pl.col(mask_col), col)
    if hit is not None:
        raise refuse(msg, file=file, row=hit[0], column=col, value=hit[1])


def parse_ts(
    frame: pl.DataFrame, *, file: str, column: str = "ts", naive_tz: str = "UTC"
) -> pl.DataFrame:
    """Turn ``column`` into int64 epoch ms UTC (``ts``) from epoch ms or ISO-8601 text.

    Text without an offset is read in ``naive_tz`` (UTC unless the format says otherwise).
    """
    raw = frame[column]
    if raw.dtype == pl.String:
        ms = _text_to_ms(raw.str.strip_chars(), naive_tz)
        text = raw.str.strip_chars()
        bad = ms.is_null() & text.is_not_null() & (text != "")
        _raise_first(
            frame.with_columns(bad.alias("_m")),
            "_m",
            column,
            file,
            "cannot read this time: use epoch ms or ISO-8601 (UTC)",
        )
    elif isinstance(raw.dtype, pl.Datetime):
        ms = _datetime_to_ms(raw, naive_tz)
    elif raw.dtype == pl.Date:
        ms = _datetime_to_ms(raw.cast(pl.Datetime("ms")), naive_tz)
    elif raw.dtype.is_integer():
        ms = raw.cast(pl.Int64)
    elif raw.dtype.is_float():
        ms = raw.cast(pl.Int64, strict=False)
        off = (ms.cast(pl.Float64) != raw).fill_null(True) & raw.is_not_null()
        _raise_first(
            frame.with_columns(off.alias("_m")),
            "_m",
            column,
            file,
            "ts must be whole epoch milliseconds",
        )
    else:
        raise refuse(f"cannot read ts of type {raw.dtype}", file=file, column=column)
    frame = frame.with_columns(ms.alias("ts"))
    _raise_first(
        frame.with_columns(pl.col("ts").is_null().alias("_m")), "_m", "ts", file, "missing ts"
    )
    out_of_range = (pl.col("ts") < _TS_MIN) | (pl.col("ts") > _TS_MAX)
    hit = first_bad(frame, out_of_range, "ts")
    if hit is not None:
        raise refuse(
            "ts is not epoch milliseconds between 1990 and 2100 (seconds? use ms)",
            file=file,
            row=hit[0],
            column="ts",
            value=hit[1],
        )
    return frame


def _text_to_ms(text: pl.Series, naive_tz: str) -> pl.Series:
    digits = text.str.contains(r"^-?\d+$").fill_null(True)
    if bool(digits.all()):
        return text.cast(pl.Int64, strict=False)
    parsed = text.str.to_datetime(time_unit="ms", strict=False, exact=True)
    return _datetime_to_ms(parsed, naive_tz)


def _datetime_to_ms(dt: pl.Series, naive_tz: str) -> pl.Series:
    dtype = dt.dtype
    assert isinstance(dtype, pl.Datetime)
    if dtype.time_zone is None:
        dt = dt.dt.replace_time_zone(naive_tz)
    return dt.dt.convert_time_zone("UTC").dt.epoch("ms")


def validate_bars(
    frame: pl.DataFrame,
    *,
    file: str,
    timeframe: Timeframe | None = None,
    first_row: int = 1,
    naive_tz: str = "UTC",
) -> pl.DataFrame:
    """Parse and check a frame with canonical column names; return ``ts`` + canonical columns.

    ``ts`` may be text or numbers; value columns may be text (read strictly) or numbers.
    """
    frame = add_rows(frame, first_row)
    _check_required(frame, file)
    frame = parse_ts(frame, file=file, naive_tz=naive_tz)
    frame = parse_numeric(frame, NUMERIC_COLUMNS, file=file)
    _check_values(frame, file)
    _check_order(frame, file, timeframe)
    frame = _parse_flags(frame, file)
    keep = ["ts", *(c for c in (*NUMERIC_COLUMNS, *_PASSTHROUGH) if c in frame.columns)]
    return frame.select(keep)


_TRUE, _FALSE = ("true", "1", "t", "yes"), ("false", "0", "f", "no")


def _parse_flags(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    """``oi_unit`` as text; ``quote_volume_estimated`` as a boolean (text true/false/1/0 too)."""
    if "oi_unit" in frame.columns:
        frame = frame.with_columns(pl.col("oi_unit").cast(pl.String))
    col = "quote_volume_estimated"
    if col not in frame.columns or frame[col].dtype == pl.Boolean:
        return frame
    text = frame[col].cast(pl.String).str.strip_chars().str.to_lowercase()
    flag = pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False)
    parsed = frame.select(flag.otherwise(None).alias(col)).to_series()
    bad = parsed.is_null() & text.is_not_null() & (text != "")
    _raise_first(frame.with_columns(bad.alias("_m")), "_m", col, file, "not true/false")
    return frame.with_columns(parsed)


def _check_required(frame: pl.DataFrame, file: str) -> None:
    require_columns(frame, ("ts",), file=file)
    if not any(c in frame.columns for c in NUMERIC_COLUMNS):
        raise refuse(
            f"no canonical value column; expected some of {list(NUMERIC_COLUMNS)}, "
            f"found {frame.columns[:20]} (rename with --map SRC=DST)",
            file=file,
        )
    if any(c in frame.columns for c in ("open", "high", "low")):
        require_columns(frame, PRICES, file=file)


def _check_values(frame: pl.DataFrame, file: str) -> None:
    for col in NON_NEGATIVE:
        if col in frame.columns:
            _refuse_where(frame, pl.col(col) < 0, col, file, f"negative {col}")
    for col in PRICES:
        if col in frame.columns:
            _refuse_where(frame, pl.col(col) <= 0, col, file, f"{col} price must be positive")
    if "high" in frame.columns:
        _refuse_where(
            frame,
            pl.col("high") < pl.col("low"),
            "high",
            file,
            "high < low",
            bounds=True,
        )
        for col in ("open", "close"):
            outside = (pl.col(col) < pl.col("low")) | (pl.col(col) > pl.col("high"))
            _refuse_where(
                frame,
                outside,
                col,
                file,
                f"{col} outside [low, high]",
                bounds=True,
            )


def _refuse_where(
    frame: pl.DataFrame,
    mask: pl.Expr,
    col: str,
    file: str,
    msg: str,
    *,
    bounds: bool = False,
) -> None:
    hit = frame.filter(mask.fill_null(False)).head(1)
    if hit.is_empty():
        return
    row = hit.row(0, named=True)
    text = f"{msg} ([low, high] = [{row['low']}, {row['high']}])" if bounds else msg
    raise refuse(text, file=file, row=int(row[ROW]), column=col, value=row[col])


def _check_order(frame: pl.DataFrame, file: str, timeframe: Timeframe | None) -> None:
    prev = pl.col("ts").shift(1)
    dup = first_bad(frame, pl.col("ts") == prev, "ts")
    if dup is not None:
        raise refuse(
            "duplicate ts (each bar once)", file=file, row=dup[0], column="ts", value=dup[1]
        )
    back = first_bad(frame, pl.col("ts") < prev, "ts")
    if back is not None:
        raise refuse(
            "ts out of order (must increase row by row)",
            file=file,
            row=back[0],
            column="ts",
            value=back[1],
        )
    if timeframe is not None:
        off = first_bad(frame, pl.col("ts") % timeframe.ms != 0, "ts")
        if off is not None:
            raise refuse(
                f"ts is not the open time of a {timeframe.value} bar",
                file=file,
                row=off[0],
                column="ts",
                value=off[1],
            )


def check_non_negative(frame: pl.DataFrame, columns: tuple[str, ...], *, file: str) -> None:
    """Refuse the first negative value of any of ``columns`` (needs ``_row``)."""
    for col in columns:
        if col in frame.columns:
            _refuse_where(frame, pl.col(col) < 0, col, file, f"negative {col}")


def drop_exact_duplicates(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Drop rows identical in every cell to an earlier row (a venue's pagination artefact).

    Only parsers of venue exports with this known artefact call it; a duplicate ``ts`` whose
    values differ is still refused by :func:`validate_bars`.
    """
    cells = [c for c in frame.columns if c != ROW]
    out = frame.unique(subset=cells, keep="first", maintain_order=True)
    return out, frame.height - out.height
