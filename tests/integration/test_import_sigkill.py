"""An import killed with SIGKILL leaves every partition whole: old or new, never torn.

A subprocess imports a generated file of two years of 5-minute bars (24 monthly partitions) into
a catalog that already holds an older version of the same bars. It is killed with ``kill -9``
at many moments: during parsing, and at increasing delays after the first staged file appears.
After each kill every ``*.parquet`` is readable, and each month of the series equals either its
before-state or its after-state. A final clean re-run equals a clean import.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.model import SeriesKey, Timeframe
from oiradar.sources import import_paths
from oiradar.store import Catalog
from oiradar.store.atomic import Manifest

KEY = SeriesKey(exchange="test", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
OPTS = {"exchange": KEY.exchange, "symbol": KEY.symbol, "timeframe": KEY.timeframe}
MONTHS_OF_BARS = 2 * 365 * 288  # two years of 5m bars: 24 partitions
SCRIPT = (
    "import sys\n"
    "from oiradar.model import Timeframe\n"
    "from oiradar.sources import import_paths\n"
    "from oiradar.store import Catalog\n"
    "import_paths([sys.argv[1]], Catalog(sys.argv[2]), exchange='test',\n"
    "             symbol='KSM/USDT:USDT', timeframe=Timeframe.M5)\n"
)


def bars(n: int, scale: float) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 0.1, n))
    open_ = np.r_[100.0, close[:-1]]
    return pl.DataFrame({
        "ts": 1_672_531_200_000 + np.arange(n, dtype=np.int64) * 300_000,
        "open": open_ * scale, "close": close * scale,
        "high": (np.maximum(open_, close) + 0.05) * scale,
        "low": (np.minimum(open_, close) - 0.05) * scale,
        "volume": rng.uniform(1, 10, n) * scale, "oi": rng.uniform(1e3, 2e3, n) * scale,
    })  # fmt: skip


def months(cat: Catalog) -> dict[str, pl.DataFrame]:
    """Committed content per month, without the ingestion time (it differs run to run)."""
    folder = cat.series_dir(KEY)
    parts = Manifest.load(folder).partitions
    return {m: pl.read_parquet(folder / name).drop("ingested_at") for m, name in parts.items()}


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sigkill")
    old, new = root / "old.csv", root / "new.csv"
    bars(MONTHS_OF_BARS, 1.01).write_csv(old)
    bars(MONTHS_OF_BARS, 1.0).write_csv(new)
    before = root / "before"
    import_paths([old], Catalog(before), **OPTS)
    after = root / "after"
    shutil.copytree(before, after)
    import_paths([new], Catalog(after), **OPTS)
    return {"new": new, "before": before, "after": after, "root": root}


def run_and_kill(csv: Path, home: Path, *, after_staging: float | None, delay: float) -> int | None:
    """Start the import; SIGKILL it ``delay`` s after start, or after the first staged file."""
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(csv), str(home)])
    folder = Catalog(home).series_dir(KEY)
    start = time.monotonic()
    if after_staging is not None:
        while proc.poll() is None and time.monotonic() - start < 60:
            if any(p.name.endswith(".tmp") for p in folder.iterdir()):
                break
            time.sleep(0.0005)
        time.sleep(after_staging)
    else:
        time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    return proc.wait()


def test_sigkill_never_tears_a_partition(states: dict[str, Path]) -> None:
    before, after = months(Catalog(states["before"])), months(Catalog(states["after"]))
    assert len(before) == 24 and all(not before[m].equals(after[m]) for m in before)
    moments = [("start", d) for d in (0.3, 0.8)] + [
        ("staging", d) for d in (0.0, 0.002, 0.01, 0.04, 0.12)
    ]
    killed = mid_write = 0
    for i, (when, delay) in enumerate(moments):
        home = states["root"] / f"kill{i}"
        shutil.copytree(states["before"], home)
        rc = run_and_kill(
            states["new"], home, delay=delay, after_staging=delay if when == "staging" else None
        )
        killed += rc == -signal.SIGKILL
        folder = Catalog(home).series_dir(KEY)
        committed = set(Manifest.load(folder).partitions.values())
        leftovers = [
            p
            for p in folder.iterdir()
            if p.name.endswith(".tmp") or (p.suffix == ".parquet" and p.name not in committed)
        ]
        mid_write += bool(leftovers)
        for path in home.rglob("*.parquet"):
            pl.read_parquet(path)  # readable: nothing torn under a .parquet name
        state = months(Catalog(home))
        assert set(state) == set(before)
        for month, frame in state.items():
            assert frame.equals(before[month]) or frame.equals(after[month]), (i, month)
        last = home
    assert killed >= len(moments) // 2, "the import finished before most kills: grow the file"
    assert mid_write >= 1, "no kill landed while partitions were being staged"
    import_paths([states["new"]], Catalog(last), **OPTS)  # a clean re-run after the last kill
    final = months(Catalog(last))
    assert all(final[m].drop("source").equals(after[m].drop("source")) for m in after)
