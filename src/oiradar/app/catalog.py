"""The catalog as users see it: stored series, their gaps, SQL over them, one series exported."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog

GAP_SCHEMA = {"exchange": pl.String, "symbol": pl.String, "timeframe": pl.String,
              "gap_start": pl.Int64, "gap_end": pl.Int64, "bars": pl.Int64}  # fmt: skip


def list_series(catalog: Catalog) -> pl.DataFrame:
    """Every stored series with its first/last bar (epoch ms), rows and missing bars."""
    return catalog.coverage()


@dataclass(frozen=True)
class SeriesFilter:
    """Which stored series a command covers; ``None`` matches every value."""

    exchange: str | None = None
    symbol: str | None = None
    timeframe: Timeframe | None = None

    def matches(self, key: SeriesKey) -> bool:
        return (
            self.exchange in (None, key.exchange)
            and self.symbol in (None, key.symbol)
            and self.timeframe in (None, key.timeframe)
        )


def gaps(catalog: Catalog, which: SeriesFilter = SeriesFilter()) -> pl.DataFrame:
    """Runs of missing bars inside the stored range of every matching series."""
    frames = [
        catalog.gaps(key).select(
            pl.lit(key.exchange).alias("exchange"),
            pl.lit(key.symbol).alias("symbol"),
            pl.lit(key.timeframe.value).alias("timeframe"),
            pl.all(),
        )
        for key in catalog.stored_keys()
        if which.matches(key)
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=GAP_SCHEMA)


def sql(catalog: Catalog, query: str, *, allow_files: bool = False) -> pl.DataFrame:
    """A read-only DuckDB query over the views ``bars`` and ``liquidations``."""
    return catalog.sql(query, allow_files=allow_files)


def read_series(catalog: Catalog, key: SeriesKey) -> pl.DataFrame:
    """One series' bars at ``key.timeframe`` (resampled from a finer stored one if needed)."""
    return catalog.read_bars(key)


__all__ = ["SeriesFilter", "gaps", "list_series", "read_series", "sql"]
