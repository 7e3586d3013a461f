"""Whole archive files, many at once: grouped by (kind, symbol, timeframe), one parse per group."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl

from oiradar.model import Timeframe
from oiradar.sources.decode.binance_archive.csvbatch import Body, split_body
from oiradar.sources.decode.binance_archive.funding import funding_bodies_to_bars
from oiradar.sources.decode.binance_archive.klines import klines_bodies_to_bars
from oiradar.sources.decode.binance_archive.metrics import metrics_bodies_to_bars
from oiradar.sources.decode.binance_archive.names import (
    ArchiveFile,
    ArchiveKind,
    ArchiveMarket,
    coinm_contract_size,
    detect_or_fail,
)
from oiradar.sources.decode.binance_archive.reading import load_csv_bytes


def read_archive_file(
    path: str | Path, *, funding_timeframe: Timeframe = Timeframe.M5
) -> tuple[ArchiveKind, str, Timeframe, pl.DataFrame]:
    """``(kind, unified symbol, timeframe, bars)`` of one archive file, named as Binance names it.

    A ``.CHECKSUM`` beside a zip is verified. Funding rows are put on ``funding_timeframe``
    bars (default 5m, the timeframe of the metrics files they usually join).
    """
    return read_archive_files([path], funding_timeframe=funding_timeframe)[0]


def read_archive_files(
    paths: Sequence[str | Path],
    *,
    funding_timeframe: Timeframe = Timeframe.M5,
    workers: int | None = None,
) -> list[tuple[ArchiveKind, str, Timeframe, pl.DataFrame]]:
    """Many archive files at once: one frame per (kind, symbol, timeframe), in first-seen order.

    Each group's files are read and checksum-verified, then parsed by one ``read_csv`` call
    (decision 0201). The parse of a group runs in a helper thread while the next group's files
    are read: polars works outside the GIL, so reading and parsing overlap. ``workers`` > 1
    also reads files in that many threads.
    """
    infos = [detect_or_fail(p) for p in paths]
    groups: dict[tuple[ArchiveKind, str, Timeframe], list[int]] = {}
    markets = {info.symbol: info.market for info in infos}
    for i, info in enumerate(infos):
        tf = funding_timeframe if info.kind is ArchiveKind.FUNDING else info.timeframe
        groups.setdefault((info.kind, info.symbol, tf), []).append(i)
    pending: list[tuple[ArchiveKind, str, Timeframe, Future[pl.DataFrame]]] = []
    with ThreadPoolExecutor(max_workers=1) as parser:
        for (kind, symbol, tf), idx in groups.items():
            bodies = _load_all([paths[i] for i in idx], [infos[i] for i in idx], workers)
            task = parser.submit(_parse_group, kind, bodies, tf, symbol, markets[symbol])
            pending.append((kind, symbol, tf, task))
        return [(kind, symbol, tf, future.result()) for kind, symbol, tf, future in pending]


def _parse_group(
    kind: ArchiveKind,
    bodies: list[Body],
    tf: Timeframe,
    symbol: str = "",
    market: ArchiveMarket = "um",
) -> pl.DataFrame:
    if kind is ArchiveKind.METRICS:
        return metrics_bodies_to_bars(bodies, market=market)
    if kind is ArchiveKind.KLINES:
        size = coinm_contract_size(symbol.split("/")[0]) if market == "cm" else None
        return klines_bodies_to_bars(bodies, market=market, contract_size=size)
    return funding_bodies_to_bars(bodies, tf)


_FIRST_COL = {
    ArchiveKind.METRICS: "create_time",
    ArchiveKind.KLINES: "open_time",
    ArchiveKind.FUNDING: "calc_time",
}


def _load_all(
    paths: Sequence[str | Path], infos: list[ArchiveFile], workers: int | None
) -> list[Body]:
    """Read, verify and unzip every file; in ``workers`` threads, each taking a slice."""

    def load(idx: range) -> list[Body]:
        out = []
        for i in idx:
            label, data = load_csv_bytes(paths[i])
            out.append(split_body(label, data, _FIRST_COL[infos[i].kind], infos[i]))
        return out

    n = len(paths)
    workers = workers or 1
    if n < 16 or workers == 1:
        return load(range(n))
    chunks = [range(k, n, workers) for k in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(load, chunks))
    bodies: list[Body | None] = [None] * n
    for chunk, part in zip(chunks, parts, strict=True):
        for i, body in zip(chunk, part, strict=True):
            bodies[i] = body
    return [b for b in bodies if b is not None]
