"""Import throughput: one year of 5-minute Binance ``metrics`` + ``klines`` daily zips.

Generates 365 days x 2 kinds = 730 zip files (105,120 rows each kind, ``.CHECKSUM`` beside
each, klines with and without the header row) into a temporary folder, then imports them,
in one process run, by

(a) oiradar: ``oiradar.sources.import_paths(paths, Catalog(tmp))`` -- reads each zip,
    verifies its SHA-256 ``.CHECKSUM``, parses and validates every cell, maps to canonical
    columns and upserts one series into monthly Parquet partitions;
(c) oiradar's parsers alone: the same files, klines and metrics joined, one ``write_parquet``
    (no catalog: this isolates parsing from storage);
(b) a plain pandas pipeline: each zip read with ``zipfile``, ``pd.read_csv`` on its CSV (header
    or not), ``pd.concat`` per kind, ``create_time`` parsed, ``to_parquet`` -- no checksum, no
    validation, no canonical mapping: less work than (a).

After a small warm-up of each side (imports, first calls), each side runs ``repeats`` times
(fresh output folders, alternating order); the median and best wall times, the process CPU
time, rows/s and the ratios are reported. Environment: ``BENCH_DAYS`` (365), ``BENCH_REPEATS`` (3).
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd

from oiradar.sources.decode.binance_archive import KLINE_COLUMNS
from oiradar.sources.decode.binance_archive.synthetic import write_archive_days
from oiradar.store import Catalog


def oiradar_import(paths: list[Path], out: Path) -> int:
    """(a): the real import path; returns the rows of the series written."""
    from oiradar.sources import import_paths

    report = import_paths(paths, Catalog(out))
    return int(report.rows_in)


def parsers_only(paths: list[Path], out: Path) -> int:
    """(c): oiradar's archive parsers, the two kinds joined on ``ts``, one ``write_parquet``.

    The same work as (b) plus checksums and validation, without the catalog (no upsert into
    monthly partitions, no fsync): it isolates the parsing from the storage.
    """
    from oiradar.sources.decode.binance_archive import read_archive_files

    frames = [frame for _kind, _sym, _tf, frame in read_archive_files(paths)]
    bars = frames[0].join(frames[1], on="ts", how="full", coalesce=True)
    out.mkdir(parents=True, exist_ok=True)
    bars.write_parquet(out / "bars.parquet")
    return bars.height


def pandas_import(paths: list[Path], out: Path) -> int:
    """(b): zipfile + ``pd.read_csv`` per file, concat, ``to_parquet``; returns rows read."""
    metrics, klines = [], []
    for path in paths:
        with zipfile.ZipFile(path) as zf:
            data = zf.read(zf.namelist()[0])
        if "-metrics-" in path.name:
            metrics.append(pd.read_csv(io.BytesIO(data)))
        else:
            header = 0 if data.startswith(b"open_time") else None
            klines.append(pd.read_csv(io.BytesIO(data), header=header, names=list(KLINE_COLUMNS)))
    m = pd.concat(metrics, ignore_index=True)
    m["create_time"] = pd.to_datetime(m["create_time"], format="%Y-%m-%d %H:%M:%S", utc=True)
    k = pd.concat(klines, ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    m.to_parquet(out / "metrics.parquet")
    k.to_parquet(out / "klines.parquet")
    return len(m) + len(k)


def _time(
    fn: Callable[[list[Path], Path], int], paths: list[Path], out: Path
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the process (all threads) and rows of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    rows = fn(paths, out)
    return time.perf_counter() - wall, time.process_time() - cpu, rows


def main(days: int | None = None, repeats: int | None = None) -> dict[str, object]:
    days = days or int(os.environ.get("BENCH_DAYS", "365"))
    repeats = repeats or int(os.environ.get("BENCH_REPEATS", "3"))
    with tempfile.TemporaryDirectory(prefix="oiradar-bench-") as tmp:
        root = Path(tmp)
        paths = write_archive_days(root / "archive", "BTCUSDT", date(2025, 1, 1), days, seed=7)
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"{len(paths)} zip files, {size:.1f} MB, generated under {root / 'archive'}")
        sides = {"oiradar": oiradar_import, "pandas": pandas_import, "parsers": parsers_only}
        times: dict[str, list[float]] = {k: [] for k in sides}
        cpus: dict[str, list[float]] = {k: [] for k in sides}
        rows: dict[str, int] = {}
        for name, fn in sides.items():  # warm-up: module imports, first-call set-up
            fn(paths[:4], root / f"warm-{name}")
        for i in range(repeats):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for name in order:
                seconds, cpu, n = _time(sides[name], paths, root / f"{name}-{i}")
                times[name].append(seconds)
                cpus[name].append(cpu)
                rows[name] = n
                print(f"  run {i + 1} {name:8s} {seconds:6.3f} s wall {cpu:6.3f} s CPU  {n:,} rows")
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}
    file_rows = rows["pandas"]  # CSV rows in the files, the same input for both sides
    result: dict[str, object] = {
        "files": len(paths),
        "CSV rows read": file_rows,
        "bars written by oiradar (klines+metrics joined on ts)": rows["oiradar"],
    }
    for name in sides:
        result[f"{name} wall s (median / best)"] = f"{med[name]:.3f} / {best[name]:.3f}"
        result[f"{name} CPU s (median)"] = round(cpu_med[name], 3)
        result[f"{name} CSV rows/s (median wall)"] = f"{file_rows / med[name]:,.0f}"
    result["ratio pandas/oiradar, median wall"] = round(med["pandas"] / med["oiradar"], 2)
    result["ratio pandas/oiradar, best wall"] = round(best["pandas"] / best["oiradar"], 2)
    result["ratio pandas/oiradar, median CPU"] = round(cpu_med["pandas"] / cpu_med["oiradar"], 2)
    result["ratio pandas/parsers-only, median wall"] = round(med["pandas"] / med["parsers"], 2)
    result["target"] = ">= 5x pandas"
    result["oiradar inflates zips with"] = _inflater()
    return result


def _inflater() -> str:
    """Which inflate library oiradar used (ISA-L, zlib-ng or zlib): it changes its read time."""
    from oiradar.sources.decode.binance_archive import zipread

    return str(zipread._inflate.__module__)


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key}: {value}")
