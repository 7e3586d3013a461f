"""Binance public-archive files (``metrics``, ``klines``, ``fundingRate``; zip or csv).

The parsing lives in :mod:`oiradar.sources.binance_archive`; this module only turns its output
into import batches. All archive files of one import are parsed together (one ``read_csv`` per
kind and symbol), which is what makes a year of daily files fast.
"""

from __future__ import annotations

from pathlib import Path

from oiradar.model import SeriesKey, Source, Timeframe
from oiradar.sources.files.base import BarBatch, FundingEvents, ImportOptions, ParsedFile

EXCHANGE = "binanceusdm"


def parse_archive(path: Path, opts: ImportOptions) -> ParsedFile:
    """One archive file (the dispatcher prefers :func:`parse_archive_files` for many)."""
    return parse_archive_files([path], opts)[0]


def parse_archive_files(paths: list[Path], opts: ImportOptions) -> list[ParsedFile]:
    """Every archive file of the import at once; one ParsedFile per (kind, symbol, timeframe)."""
    from oiradar.sources import binance_archive as ba

    exchange = opts.exchange or EXCHANGE
    label = f"{len(paths)} archive file(s) from {paths[0].parent}" if paths else ""
    # Funding lands on 5m bars: every timeframe is a multiple of 5m, so these are the raw
    # settlements, re-bucketed later into the timeframes the import writes.
    groups = ba.read_archive_files(paths, funding_timeframe=Timeframe.M5)
    out = []
    for kind, symbol, tf, frame in groups:
        name = f"{label} ({kind.value} {symbol})"
        if kind is ba.ArchiveKind.FUNDING:
            events = FundingEvents(exchange=exchange, symbol=symbol, frame=frame, file=name)
            out.append(ParsedFile(file=name, fmt="binance-archive", funding=[events]))
            continue
        key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=tf)
        batch = BarBatch(key=key, frame=frame, file=name, source=Source.ARCHIVE)
        out.append(ParsedFile(file=name, fmt="binance-archive", bars=[batch]))
    return out
