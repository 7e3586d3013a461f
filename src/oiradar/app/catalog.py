"""The catalog as users see it: stored series, their gaps, SQL over them, one series exported."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from oiradar.app.series import AS_STORED, LoadedSeries, SeriesOptions, load_series, stored_markets
from oiradar.errors import InputError
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
    """Runs of missing bars inside the stored range of every matching series; an exchange or
    symbol that nothing stored has is an InputError listing what is stored."""
    stored = stored_markets(catalog)
    for option, value, known in (("--exchange", which.exchange, {e for e, _ in stored}),
                                 ("--symbol", which.symbol, {s for _, s in stored})):  # fmt: skip
        if value is not None and value not in known:
            listing = ", ".join(f"{e} {s}" for e, s in stored) or "nothing"
            raise InputError(f"{option} {value!r}: no series stored for it; stored: {listing}")
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


def export_series(
    catalog: Catalog, key: SeriesKey, series: SeriesOptions = AS_STORED
) -> LoadedSeries:
    """One series as ``export`` writes it: built from the stored timeframe covering most bars (or
    ``--from-timeframe``), with its prices (``--prices`` or the price link) and ``oi`` derived
    from ``oi_value / close`` where missing; a series without prices is written as it is."""
    return load_series(catalog, key, series, need=())


__all__ = ["SeriesFilter", "export_series", "gaps", "list_series", "read_series", "sql"]
