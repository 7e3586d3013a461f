"""The catalog commands end to end through the real CLI (console script in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog

KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from oiradar.cli.main import main; main()",
            "--home",
            str(home),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    n = 600
    ts = np.arange(n, dtype=np.int64) * KEY.timeframe.ms
    frame = pl.DataFrame(
        {
            "ts": ts,
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.5,
            "volume": 1.0,
            "oi": np.arange(n) + 1.0,
        }
    ).filter(pl.col("ts") != 100 * KEY.timeframe.ms)
    Catalog(home).write_bars(KEY, frame)
    return home


def test_sql_json_and_csv(home: Path) -> None:
    out = run_cli(home, "sql", "select count(*) as n, max(oi) as m from bars", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"n": 599, "m": 600.0}]
    out = run_cli(home, "sql", "select symbol from bars limit 1", "--format", "csv")
    assert out.stdout.splitlines() == ["symbol", "KSM/USDT:USDT"]


def test_sql_error_is_clean(home: Path) -> None:
    out = run_cli(home, "sql", "select nope from bars")
    assert out.returncode == 2
    assert "SQL error" in out.stderr and "Traceback" not in out.stderr


def test_list_and_gaps(home: Path) -> None:
    out = run_cli(home, "list", "--format", "json")
    (row,) = json.loads(out.stdout)
    assert (row["rows"], row["missing_bars"]) == (599, 1)
    gaps = json.loads(run_cli(home, "gaps", "--format", "json").stdout)
    assert gaps == [
        {"exchange": "binanceusdm", "symbol": "KSM/USDT:USDT", "timeframe": "5m",
         "gap_start": 100 * KEY.timeframe.ms, "gap_end": 100 * KEY.timeframe.ms, "bars": 1}
    ]  # fmt: skip


def test_export_resamples(home: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "ksm_1h.parquet"
    res = run_cli(
        home,
        "export",
        "-e",
        "binanceusdm",
        "-s",
        "KSM/USDT:USDT",
        "-t",
        "1h",
        "--out",
        str(out_file),
    )
    assert res.returncode == 0, res.stderr
    frame = pl.read_parquet(out_file)
    assert frame.height == 50
    assert frame["oi"][0] == 12.0 and frame["complete"].to_list()[:9] == [True] * 8 + [False]


def test_unknown_series_is_a_clean_error(home: Path, tmp_path: Path) -> None:
    res = run_cli(
        home,
        "export",
        "-e",
        "okx",
        "-s",
        "KSM/USDT:USDT",
        "-t",
        "1h",
        "--out",
        str(tmp_path / "x.csv"),
    )
    assert res.returncode == 2
    assert "no series okx KSM/USDT:USDT 1h" in res.stderr
