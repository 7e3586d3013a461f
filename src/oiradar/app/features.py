"""``features``: a series' bars with every feature (docs/analysis.md) and the phase of each bar;
without ``--symbol``, every selected series."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from oiradar.app.availability import with_input_notes
from oiradar.app.series import (
    AS_STORED,
    SeriesOptions,
    Skipped,
    each_series,
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
) -> FeaturesReport:
    """:func:`series_features` of every selected series; one that fails is skipped and listed."""
    keys = select_keys(session.catalog, exchange, symbol, timeframe, series.margin)
    if series.prices is not None and len(keys) > 1:
        keys = [k for k in keys if (k.exchange, k.symbol) != series.prices.pair]
    results, skipped = each_series(keys, lambda k: series_features(session, k, since, series),
                                   "features")  # fmt: skip
    notes = summary_notes([(r.key, r.notes) for r in results])
    return FeaturesReport(results, skipped, notes)


__all__ = [
    "KEY_COLUMNS",
    "VIEW_COLUMNS",
    "FeaturesReport",
    "FeaturesResult",
    "every_series_features",
    "series_features",
]
