"""Generic CSV / Parquet files with the canonical column names (SPEC section 1).

Sample (CSV; ``ts`` as epoch ms or ISO-8601 UTC text)::

    ts,open,high,low,close,volume,oi
    1704067200000,42283.6,42554.9,42261.0,42475.2,1203.5,80123.4

Other column names are renamed with ``--map SRC=DST``. The series comes from ``--exchange``,
``--symbol`` and ``--timeframe``; a file exported by ``oiradar export`` (or any file with
single-valued ``exchange``/``symbol``/``timeframe`` columns) supplies them itself. The timeframe,
when not given, is inferred from the median ``ts`` step.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from oiradar.errors import InputError
from oiradar.model import BAR_SCHEMA, SeriesKey, Timeframe
from oiradar.sources.decode.files.base import BarBatch, ImportOptions, ParsedFile
from oiradar.sources.decode.files.reading import read_columnar, read_csv_text
from oiradar.sources.decode.files.validate import (
    ROW,
    parse_ts,
    refuse,
    require_columns,
    user_columns,
    validate_bars,
)

_KEY_COLUMNS = ("exchange", "symbol", "timeframe")
_IGNORED = ("source", "ingested_at", "complete", "ohlc_from_close", *_KEY_COLUMNS)


def parse_generic(path: Path, opts: ImportOptions) -> ParsedFile:
    """Parse a canonical CSV / Parquet file into one validated bar batch."""
    file = str(path)
    raw = read_csv_text(path) if path.suffix.lower() in (".csv", ".txt") else read_columnar(path)
    raw = apply_mapping(raw, opts.mapping, file=file)
    require_columns(raw, ("ts",), file=file)
    if raw.is_empty():
        raise refuse("the file has no data rows (only a header): nothing to import", file=file)
    exchange, symbol, tf_text = (_option_or_column(raw, c, opts, file) for c in _KEY_COLUMNS)
    unknown = [c for c in raw.columns if c not in BAR_SCHEMA and c not in (*_IGNORED, ROW)]
    frame = parse_ts(raw.select([c for c in raw.columns if c not in unknown]), file=file)
    timeframe = Timeframe.parse(tf_text) if tf_text else infer_timeframe(frame["ts"], file)
    key = series_key(exchange, symbol, timeframe, file)
    bars = validate_bars(
        frame.drop([c for c in _IGNORED if c in frame.columns]),
        file=file,
        timeframe=timeframe,
        one_timeframe=True,
    )
    mark = "; a mark price is read as the close: --map mark_price=close" * ("mark_price" in unknown)
    notes = [f"{file}: ignored columns {unknown} (not canonical; use --map{mark})"] if unknown else []  # fmt: skip
    fmt = "csv" if path.suffix.lower() in (".csv", ".txt") else "parquet"
    return ParsedFile(
        file=file, fmt=fmt, bars=[BarBatch(key=key, frame=bars, file=file)], notes=notes
    )


def apply_mapping(frame: pl.DataFrame, mapping: dict[str, str], *, file: str) -> pl.DataFrame:
    """Rename ``src`` columns to canonical ``dst`` names (``--map src=dst``)."""
    if not mapping:
        return frame
    missing = [src for src in mapping if src not in frame.columns]
    if missing:
        raise InputError(
            f"--map names column(s) {missing} that the file does not have; "
            f"it has {user_columns(frame)}",
            file=file,
            column=missing[0],
        )
    bad = [dst for dst in mapping.values() if dst not in BAR_SCHEMA]
    if bad:
        raise InputError(f"--map target(s) {bad} are not canonical columns {list(BAR_SCHEMA)}")
    clash = [dst for src, dst in mapping.items() if dst in frame.columns and dst not in mapping]
    if clash:
        raise InputError(f"--map target(s) {clash} already exist in the file", file=file)
    return frame.rename(mapping)


def _option_or_column(
    frame: pl.DataFrame, column: str, opts: ImportOptions, file: str
) -> str | None:
    given = {
        "exchange": opts.exchange,
        "symbol": opts.symbol,
        "timeframe": opts.timeframe.value if opts.timeframe else None,
    }[column]
    if given or column not in frame.columns:
        return given
    values = frame[column].cast(pl.String).drop_nulls().unique()
    if values.len() == 1:
        return str(values[0])
    raise InputError(
        f"the file's {column!r} column holds {values.len()} values; "
        f"import one series per file or pass --{column}",
        file=file,
        column=column,
    )


def series_key(
    exchange: str | None, symbol: str | None, timeframe: Timeframe, file: str
) -> SeriesKey:
    """The series a generic file goes to; a clear error when the user must say it."""
    missing = [f"--{n}" for n, v in (("exchange", exchange), ("symbol", symbol)) if not v]
    if missing:
        raise InputError(
            f"this file does not say which series it holds: pass {' and '.join(missing)} "
            "(e.g. --exchange binanceusdm --symbol KSM/USDT:USDT)",
            file=file,
        )
    try:
        return SeriesKey(exchange=str(exchange), symbol=str(symbol), timeframe=timeframe)
    except InputError as exc:
        raise InputError(str(exc), file=file) from None


def infer_timeframe(ts: pl.Series, file: str) -> Timeframe:
    """The timeframe whose length equals the median step between consecutive ``ts``."""
    if ts.len() < 2:
        what = "no data rows" if ts.is_empty() else "only one data row"
        raise InputError(
            f"the file has {what}: the timeframe cannot be inferred from the step between rows"
            + ("" if ts.is_empty() else "; pass --timeframe"),
            file=file,
        )
    # duplicates are refused later, naming their row; here they must not halve the median
    median = ts.unique().sort().diff().drop_nulls().median()
    step = float(median) if isinstance(median, (int, float)) else None
    for tf in Timeframe:
        if step is not None and tf.ms == step:
            return tf
    raise InputError(
        f"cannot infer the timeframe: the median ts step is {step} ms, which is no timeframe "
        f"({' '.join(t.value for t in Timeframe)}); pass --timeframe",
        file=file,
    )
