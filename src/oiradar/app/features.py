"""``features``: a series' bars with every feature (docs/analysis.md) and the phase of each bar;
without ``--symbol``, every selected series."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import polars as pl

from oiradar.app.availability import with_input_notes
from oiradar.app.batches import (
    LOCAL,
    BatchOptions,
    Indexed,
    Tried,
    estimate_rows,
    plan_batches,
    run_batches,
    settle,
    try_each,
)
from oiradar.app.series import (
    AS_STORED,
    SeriesOptions,
    Skipped,
    load_series,
    select_keys,
    summary_notes,
)
from oiradar.app.session import Session
from oiradar.features import compute_features, feature_columns
from oiradar.model import SeriesKey, Timeframe
from oiradar.signals import signal_states, with_liquidations

# The columns a person reads first (the table; --wide shows them all); --out writes every column.
KEY_COLUMNS = ("ts", "close", "oi", "oi_z_30d", "oi_chg_7d", "oi_dd", "phase")
# What ``--format csv|json`` printed before the table had key columns; kept for scripts.
VIEW_COLUMNS = ("ts", "close", "oi", "oi_z_30d", "oi_chg_7d", "oi_vol_ratio", "oi_dd",
                "oi_down_streak", "new_high", "near_high", "rejection", "atr_14", "phase")  # fmt: skip


@dataclass(frozen=True)
class FeaturesResult:
    key: SeriesKey
    frame: pl.DataFrame  # the bars on a regular grid, every feature column, ``phase``
    notes: tuple[str, ...] = ()  # how the bars were built (stored timeframe, prices)

    @property
    def n_features(self) -> int:
        return len(feature_columns())  # built-ins and registered ones


def series_features(
    session: Session,
    key: SeriesKey,
    since: int | None = None,
    series: SeriesOptions = AS_STORED,
) -> FeaturesResult:
    """Features of ``key`` (realized liquidations joined in when stored), bars from ``since`` on.

    The bars come with their prices (``--prices``, the price link or their own): a series without
    any is an error that names the fix, never rows of empty features."""
    catalog = session.catalog
    loaded = with_input_notes(load_series(catalog, key, series))
    key = loaded.key
    settings = session.settings.for_symbol(key.symbol)
    bars = with_liquidations(catalog, key, loaded.bars)
    feats = compute_features(bars, key.timeframe, settings)
    feats = feats.with_columns(signal_states(feats, key.timeframe, settings)["phase"])
    if since is not None:
        feats = feats.filter(pl.col("ts") >= since)
    return FeaturesResult(key, feats, loaded.notes)


@dataclass(frozen=True)
class FeaturesReport:
    """``features`` over every selected series: the results, and what was skipped and why."""

    results: list[FeaturesResult]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def every_series_features(
    session: Session,
    exchange: str | None,
    symbol: str | None,
    timeframe: Timeframe,
    since: int | None = None,
    series: SeriesOptions = AS_STORED,
    batch: BatchOptions = LOCAL,
) -> FeaturesReport:
    """:func:`series_features` of every selected series; one that fails is skipped and listed.
    Holds every series' frame: :func:`feature_batches` streams them instead."""
    stream = feature_batches(session, exchange, symbol, timeframe, since, series, batch)
    results = [r for results in stream for r in results]
    return FeaturesReport(results, stream.skipped, stream.notes)


def feature_batches(
    session: Session,
    exchange: str | None,
    symbol: str | None,
    timeframe: Timeframe,
    since: int | None = None,
    series: SeriesOptions = AS_STORED,
    batch: BatchOptions = LOCAL,
) -> FeatureBatches:
    """:func:`every_series_features` as a stream: each batch of series' results in turn (the
    order of the selection), computed when the caller asks for it, so that a caller who writes
    or reduces each batch and drops it holds one batch at a time. The skipped series and the
    notes are known once the stream is exhausted."""
    keys = select_keys(session.catalog, exchange, symbol, timeframe, series.margin)
    if series.prices is not None and len(keys) > 1:
        keys = [k for k in keys if (k.exchange, k.symbol) != series.prices.pair]
    return FeatureBatches(session, keys, since, series, batch)


class FeatureBatches:
    """Iterate for the lists of :class:`FeaturesResult` of each batch (once); then ``skipped``
    and ``notes`` say what :class:`FeaturesReport` says. Raises :class:`NothingDone` at the end
    when every series was skipped."""

    def __init__(self, session: Session, keys: Sequence[SeriesKey], since: int | None,
                 series: SeriesOptions, batch: BatchOptions) -> None:  # fmt: skip
        self.session, self.keys = session, list(keys)
        self.batch = batch.resolved(session.settings)
        rows = partial(estimate_rows, session.catalog) if len(self.keys) > 1 else None
        self.plan = plan_batches(self.keys, self.batch.series or 1, self.batch.rows, rows)
        self._args = (since, series, len(self.keys) == 1)
        self._seen: list[Tried[tuple[SeriesKey, tuple[str, ...]]]] = []
        self.skipped: list[Skipped] = []
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[list[FeaturesResult]]:
        for tried in run_batches(self.session, features_batch, self._args, self.plan, self.batch):
            self._seen += [Tried(t.index, None if t.value is None else (t.value.key, t.value.notes),
                                 t.skipped) for t in tried]  # fmt: skip
            results = [t.value for t in tried if t.value is not None]
            del tried  # held no longer than the caller holds the batch: one batch at a time
            yield results
            del results
        noted, self.skipped = settle(self._seen, "features")
        self.notes = summary_notes(noted)


def features_batch(
    session: Session, since: int | None, series: SeriesOptions, strict: bool, batch: Indexed
) -> list[Tried[FeaturesResult]]:
    """One batch of :func:`feature_batches`: :func:`series_features` of each of its keys."""
    return try_each(batch, lambda k: series_features(session, k, since, series), strict)


__all__ = [
    "KEY_COLUMNS",
    "VIEW_COLUMNS",
    "FeatureBatches",
    "FeaturesReport",
    "FeaturesResult",
    "every_series_features",
    "feature_batches",
    "features_batch",
    "series_features",
]
