"""One validation path for every imported bar frame.

Rows are named by their **1-based data row**: the first record after the header is row 1, in a
CSV as in a JSON array or a Parquet file (in a CSV with a header line, the file line is row + 1).
Parsers keep that number in a ``_row`` column while they filter or reshape, so an error still
names the row of the original file.

Checks, each refused with :class:`~oiradar.errors.InputError` naming file, row, column and value:
missing required column, non-numeric value, NaN or infinity (the first offending cell; an empty cell
is a missing value), unparsable, fractional or missing ``ts``, ``ts`` off the timeframe grid, a
file that mixes timeframes (:func:`check_one_timeframe`), negative volume / quote_volume /
taker_buy_volume / oi / oi_value / oi_raw, non-positive price, ``high < low``, open or close
outside ``[low, high]``, a derived ``quote_volume`` (``volume * (high + low + close) / 3``, SPEC)
that overflows, duplicate ``ts`` and out-of-order ``ts``.
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
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
NAMED_ROWS = 5  # how many offending rows a message lists
MIXED_RUN = 3  # consecutive equal steps that make a cadence (one longer step is a gap)


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


def user_columns(frame: pl.DataFrame) -> list[str]:
    """The file's own column names (without the internal ``_row``), for messages."""
    return [c for c in frame.columns if c != ROW]


def require_columns(frame: pl.DataFrame, required: tuple[str, ...], *, file: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if not missing:
        return
    names = user_columns(frame)
    seps = [sep for sep in (";", "\t", "|") if len(names) == 1 and sep in names[0]]
    hint = (
        f"the file seems separated by {seps[0]!r}: save it comma-separated"
        if seps
        else "rename with --map SRC=DST"
    )
    raise refuse(
        f"missing required column(s) {missing}; the file has {names[:20]} ({hint})",
        file=file,
        column=missing[0],
    )


def parse_numeric(frame: pl.DataFrame, columns: tuple[str, ...], *, file: str) -> pl.DataFrame:
    """Cast ``columns`` to Float64; the first non-numeric or non-finite cell is refused.

    Text is cast with ``strict=False`` and any null that was a non-empty string is the offender.
    Empty cells are missing values (null), never zero; NaN and infinity are refused (a NaN may
    hide a computation gone wrong: a missing value is an empty cell).
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
        bad = (cast.is_infinite() | cast.is_nan()).fill_null(False)
        _raise_first(
            frame.with_columns(bad.alias("_m")),
            "_m",
            col,
            file,
            "not a finite number (leave the cell empty for a missing value)",
        )
        frame = frame.with_columns(cast.alias(col))
    return frame


def _raise_first(frame: pl.DataFrame, mask: str | pl.Expr, col: str, file: str, msg: str) -> None:
    """Refuse the first row where ``mask`` (an expression, or the name of a boolean column) holds."""
    hit = first_bad(frame, pl.col(mask) if isinstance(mask, str) else mask, col)
    if hit is not None:
        raise refuse(msg, file=file, row=hit[0], column=col, value=hit[1])


def parse_ts(
    frame: pl.DataFrame, *, file: str, column: str = "ts", naive_tz: str = "UTC"
) -> pl.DataFrame:
    """Turn ``column`` into int64 epoch ms UTC (``ts``) from epoch ms or ISO-8601 text.

    Text without an offset is read in ``naive_tz`` (UTC unless the format says otherwise).
    """
    raw = frame[column]
    if raw.dtype == pl.String and _all_numbers(raw.str.strip_chars()):
        raw = raw.str.strip_chars().cast(pl.Float64, strict=False)  # "1.7e12", "1700000000000.5"
    if raw.dtype == pl.String:
        text = raw.str.strip_chars()
        ms = _text_to_ms(text, naive_tz)
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
    _raise_first(frame, pl.col("ts").is_null(), "ts", file, "missing ts")
    out_of_range = (pl.col("ts") < _TS_MIN) | (pl.col("ts") > _TS_MAX)
    msg = "ts is not epoch milliseconds between 1990 and 2100 (seconds? use ms)"
    _raise_first(frame, out_of_range, "ts", file, msg)
    return frame


def _all_numbers(text: pl.Series) -> bool:
    """Every non-empty cell is a number, and one at least is not a plain integer."""
    filled = text.filter(text.is_not_null() & (text != ""))
    integers = filled.str.contains(r"^-?\d+$")
    return filled.len() > 0 and not integers.all() and bool(filled.str.contains(_NUMBER).all())


def _text_to_ms(text: pl.Series, naive_tz: str) -> pl.Series:
    digits = (text.str.contains(r"^-?\d+$") | (text == "")).fill_null(True)
    if bool(digits.all()):  # epoch ms; an empty cell is refused as a missing ts
        return text.cast(pl.Int64, strict=False)
    try:
        parsed = text.str.to_datetime(time_unit="ms", strict=False, exact=True)
    except pl.exceptions.PolarsError:  # no date format fits the first values: none is read
        return pl.Series(text.name, [None] * text.len(), dtype=pl.Int64)
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
    one_timeframe: bool = False,
) -> pl.DataFrame:
    """Parse and check a frame with canonical column names; return ``ts`` + canonical columns.

    ``ts`` may be text or numbers; value columns may be text (read strictly) or numbers.
    ``one_timeframe``: also refuse bars spaced at two cadences (:func:`check_one_timeframe`);
    for files of bars, not for snapshots that may be sampled sparsely.
    """
    frame = add_rows(frame, first_row)
    _check_required(frame, file)
    frame = parse_ts(frame, file=file, naive_tz=naive_tz)
    frame = parse_numeric(frame, NUMERIC_COLUMNS, file=file)
    _check_values(frame, file)
    _check_derived(frame, file)
    _check_order(frame, file, timeframe)
    if one_timeframe and timeframe is not None:
        check_one_timeframe(frame, timeframe, file=file)
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
            f"found {user_columns(frame)[:20]} (rename with --map SRC=DST)",
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


def quote_volume_estimate() -> pl.Expr:
    """SPEC: a missing ``quote_volume`` is ``volume * (high + low + close) / 3``."""
    return pl.col("volume") * (pl.col("high") + pl.col("low") + pl.col("close")) / 3.0


def _check_derived(frame: pl.DataFrame, file: str) -> None:
    """The quote_volume the import will derive for this file's rows must be a finite number."""
    if not {"volume", "high", "low", "close"} <= set(frame.columns):
        return
    given = pl.col("quote_volume") if "quote_volume" in frame.columns else pl.lit(None, pl.Float64)
    est = quote_volume_estimate()
    hit = frame.filter((given.is_null() & est.is_infinite()).fill_null(False)).head(1)
    if hit.is_empty():
        return
    r = hit.row(0, named=True)
    raise refuse(
        "the quote_volume derived as volume * (high + low + close) / 3 overflows to infinity "
        f"(volume {r['volume']}, high {r['high']}, low {r['low']}, close {r['close']}): "
        "are the prices and volume in the right units?",
        file=file,
        row=int(r[ROW]),
        column="quote_volume",
        value=float("inf"),
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
    _raise_first(frame, pl.col("ts") == prev, "ts", file, "duplicate ts (each bar once)")
    _raise_first(
        frame, pl.col("ts") < prev, "ts", file, "ts out of order (must increase row by row)"
    )
    if timeframe is not None:
        _check_grid(frame, file, timeframe)


def _check_grid(frame: pl.DataFrame, file: str, timeframe: Timeframe) -> None:
    """Every ``ts`` is the open time of a bar of ``timeframe``; name the first few that are not."""
    off = frame.filter(pl.col("ts") % timeframe.ms != 0)
    if off.is_empty():
        return
    rows = off[ROW].head(NAMED_ROWS).to_list()
    more = f" and {off.height - len(rows)} more" if off.height > len(rows) else ""
    raise refuse(
        f"ts is not the open time of a {timeframe.value} bar; rows off the {timeframe.value} "
        f"grid: {', '.join(map(str, rows))}{more} (does the file mix timeframes? import each "
        "timeframe from its own file, or pass the right --timeframe)",
        file=file,
        row=rows[0],
        column="ts",
        value=int(off["ts"][0]),
    )


def check_one_timeframe(frame: pl.DataFrame, timeframe: Timeframe, *, file: str) -> None:
    """Refuse bars spaced at two cadences: a file that mixes timeframes (needs ``_row``).

    Legal: a gap (missing bars: one step longer than the timeframe) and a file evenly spaced
    wider than its timeframe (sparse samples). Refused: :data:`MIXED_RUN` consecutive steps of
    the timeframe somewhere and as many consecutive equal steps of another length elsewhere,
    e.g. 5m bars followed by 1h bars (which lie on the 5m grid too).
    """
    runs = _step_runs(frame)
    long_enough = pl.col("steps") >= MIXED_RUN
    if runs.filter(long_enough & (pl.col("step") == timeframe.ms)).is_empty():
        return
    odd = runs.filter(long_enough & (pl.col("step") != timeframe.ms)).head(1)
    if odd.is_empty():
        return
    r = odd.row(0, named=True)
    raise refuse(
        f"the file mixes timeframes: its bars are {timeframe.value} apart, but rows "
        f"{r['from_row']} to {r['to_row']} are {_span(r['step'])} apart ({r['steps']} steps in a "
        "row; missing bars make one longer step, not several); import each timeframe from its "
        "own file",
        file=file,
        row=int(r["row"]),
        column="ts",
        value=int(r["ts"]),
    )


def _step_runs(frame: pl.DataFrame) -> pl.DataFrame:
    """Runs of equal steps between consecutive ``ts``: first/last row of each run, its length."""
    steps = frame.select(
        ROW, "ts", pl.col("ts").diff().alias("step"), pl.col(ROW).shift(1).alias("_prev")
    ).slice(1)
    run = (pl.col("step") != pl.col("step").shift(1)).fill_null(True).cum_sum()
    return (
        steps.with_columns(run.alias("_run"))
        .group_by("_run", maintain_order=True)
        .agg(
            pl.col("step").first(),
            pl.len().alias("steps"),
            pl.col("_prev").first().alias("from_row"),
            pl.col(ROW).last().alias("to_row"),
            pl.col(ROW).first().alias("row"),
            pl.col("ts").first(),
        )
    )


def _span(ms: int) -> str:
    """A step in the units a reader expects: 1h, 90m, 2d, or ms."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms} ms"


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
