"""What a file parser returns, the options it reads, and the report of an import."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from oiradar.model import SeriesKey, Source, Timeframe
from oiradar.store import WriteResult


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    """User options of ``oiradar import`` that parsers may need (all optional)."""

    fmt: str = "auto"
    exchange: str | None = None
    symbol: str | None = None
    timeframe: Timeframe | None = None
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class BarBatch:
    """Validated canonical bars of one series from one file (``ts`` unique and increasing)."""

    key: SeriesKey
    frame: pl.DataFrame
    file: str
    source: Source = Source.FILE


@dataclass(kw_only=True)
class FundingEvents:
    """Funding settlements (``ts`` = settlement time, ``funding_rate``) not yet bucketed into bars.

    A funding file (freqtrade ``-funding_rate``) has no bar timeframe of its own: its settlements
    are summed into the bars of every timeframe of the same (exchange, symbol) that the import
    writes or that the catalog already holds (SPEC: funding is a flow, summed per bar).
    """

    exchange: str
    symbol: str
    frame: pl.DataFrame
    file: str


@dataclass(kw_only=True)
class ParsedFile:
    """Everything one file contributes; ``skipped`` says why a recognised file adds nothing."""

    file: str
    fmt: str
    bars: list[BarBatch] = field(default_factory=list)
    funding: list[FundingEvents] = field(default_factory=list)
    liquidations: list[pl.DataFrame] = field(default_factory=list)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """Per-series write results, liquidation results, files read and files skipped."""

    series: dict[SeriesKey, WriteResult] = field(default_factory=dict)
    liquidations: WriteResult = field(default_factory=WriteResult)
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return sum(r.rows_in for r in self.series.values()) + self.liquidations.rows_in

    @property
    def partitions_written(self) -> int:
        return sum(len(r.partitions) for r in self.series.values()) + len(
            self.liquidations.partitions
        )

    def summary(self) -> pl.DataFrame:
        """One row per series (and one for liquidations): rows in/added/changed, partitions."""
        rows = [
            {
                "exchange": k.exchange,
                "symbol": k.symbol,
                "timeframe": k.timeframe.value,
                "rows_in": r.rows_in,
                "added": r.rows_added,
                "changed": r.rows_changed,
                "partitions": len(r.partitions),
            }
            for k, r in sorted(self.series.items(), key=lambda kv: str(kv[0]))
        ]
        liq = self.liquidations
        if liq.rows_in:
            rows.append(
                {
                    "exchange": "(liquidations)",
                    "symbol": "",
                    "timeframe": "",
                    "rows_in": liq.rows_in,
                    "added": liq.rows_added,
                    "changed": 0,
                    "partitions": len(liq.partitions),
                }
            )
        schema = {
            "exchange": pl.String, "symbol": pl.String, "timeframe": pl.String, "rows_in": pl.Int64,
            "added": pl.Int64, "changed": pl.Int64, "partitions": pl.Int64,
        }  # fmt: skip
        return pl.DataFrame(rows, schema=schema)
