"""Binance public-archive files (``metrics``, ``klines``, ``fundingRate``; zip or csv).

USD-M files (``BTCUSDT-...``) go to exchange ``binanceusdm``, COIN-M files (``BTCUSD_PERP-...``)
to ``binancecoinm`` with the inverse symbol ``BTC/USD:BTC``. The parsing lives in
:mod:`oiradar.sources.decode.binance_archive`; this module turns its output into import batches
(COIN-M ``oi`` is derived at write time: :mod:`oiradar.sources.ingest.coinm`). All archive
files of one import are parsed together (one ``read_csv`` per kind and symbol), which is what
makes a year of daily files fast.
"""

from __future__ import annotations

from pathlib import Path

from oiradar.errors import InputError
from oiradar.model import SeriesKey, Source, Timeframe
from oiradar.sources.decode.binance_archive import (
    EXCHANGE,
    ArchiveFile,
    ArchiveKind,
    detect,
    read_archive_files,
)
from oiradar.sources.decode.files.base import BarBatch, FundingEvents, ImportOptions, ParsedFile


def parse_archive(path: Path, opts: ImportOptions) -> ParsedFile:
    """One archive file (the dispatcher prefers :func:`parse_archive_files` for many)."""
    return parse_archive_files([path], opts)[0]


def parse_archive_files(paths: list[Path], opts: ImportOptions) -> list[ParsedFile]:
    """Every archive file of the import at once; one ParsedFile per (kind, symbol, timeframe)."""
    infos = [detect(p) for p in paths]
    venues = {info.symbol: info.exchange for info in infos if info is not None}
    label = f"{len(paths)} archive file(s) from {paths[0].parent}" if paths else ""
    # Funding lands on 5m bars: every timeframe is a multiple of 5m, so these are the raw
    # settlements, re-bucketed later into the timeframes the import writes.
    groups = read_archive_files(paths, funding_timeframe=Timeframe.M5)
    out = []
    for kind, symbol, tf, frame in groups:
        name = f"{label} ({kind.value} {symbol})"
        _check_symbol(opts, symbol, paths, infos)
        exchange = opts.exchange or venues.get(symbol, EXCHANGE)
        if kind is ArchiveKind.FUNDING:
            events = FundingEvents(exchange=exchange, symbol=symbol, frame=frame, file=name)
            out.append(ParsedFile(file=name, fmt="binance-archive", funding=[events]))
            continue
        key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=tf)
        batch = BarBatch(key=key, frame=frame, file=name, source=Source.ARCHIVE)
        out.append(ParsedFile(file=name, fmt="binance-archive", bars=[batch]))
    return out


def _check_symbol(
    opts: ImportOptions, symbol: str, paths: list[Path], infos: list[ArchiveFile | None]
) -> None:
    """``--symbol`` cannot rename archive files: their names say the symbol (and its units)."""
    if opts.symbol is None or opts.symbol == symbol:
        return
    file = next(str(p) for p, i in zip(paths, infos, strict=True) if i and i.symbol == symbol)
    raise InputError(
        f"--symbol {opts.symbol} does not match the file's symbol {symbol}: archive file names "
        "say their symbol; leave --symbol out",
        file=file,
        value=opts.symbol,
    )
