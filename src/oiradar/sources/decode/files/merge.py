"""Pure frame work between parsing and writing: merge a series' batches, estimate what is missing,
and check that nothing non-finite remains (no I/O; :mod:`oiradar.sources.ingest.imports` calls it).
"""

from __future__ import annotations

import polars as pl

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Source, Timeframe, conform_bars
from oiradar.sources.decode.files.base import BarBatch
from oiradar.sources.decode.files.validate import quote_volume_estimate


def storable(frame: pl.DataFrame, key: SeriesKey, batches: list[BarBatch]) -> pl.DataFrame:
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
