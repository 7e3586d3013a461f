"""What a file parser returns and the options it reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from oiradar.model import SeriesKey, Source, Timeframe


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    """User options of ``oiradar import`` that parsers may need (all optional)."""

    fmt: str = "auto"
    exchange: str | None = None
    symbol: str | None = None
    timeframe: Timeframe | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()  # canonical bar columns left out of the import (``--drop``)


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
