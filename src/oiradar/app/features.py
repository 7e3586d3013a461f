"""``features``: one series' bars with every SPEC section 2 feature and the phase of each bar."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from oiradar.app.session import Session
from oiradar.features import compute_features, feature_columns
from oiradar.model import SeriesKey
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

    @property
    def n_features(self) -> int:
        return len(feature_columns())  # built-ins and registered ones


def series_features(session: Session, key: SeriesKey, since: int | None = None) -> FeaturesResult:
    """Features of ``key`` (realized liquidations joined in when stored), bars from ``since`` on."""
    settings = session.settings.for_symbol(key.symbol)
    catalog = session.catalog
    bars = with_liquidations(catalog, key, catalog.read_bars(key))
    feats = compute_features(bars, key.timeframe, settings)
    feats = feats.with_columns(signal_states(feats, key.timeframe, settings)["phase"])
    if since is not None:
        feats = feats.filter(pl.col("ts") >= since)
    return FeaturesResult(key, feats)


__all__ = ["KEY_COLUMNS", "VIEW_COLUMNS", "FeaturesResult", "series_features"]
