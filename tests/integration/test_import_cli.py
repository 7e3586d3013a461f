"""``oiradar import`` end to end: the console entry point in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "files"


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from oiradar.cli.main import main; main()", "--home", str(home),
         *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "COLUMNS": "200"},  # rich fits tables to the width: do not truncate
    )  # fmt: skip


def test_import_prints_a_summary_and_is_idempotent(tmp_path: Path) -> None:
    args = ["import", str(FIXTURES / "bars_5m.csv"), "--exchange", "test",
            "--symbol", "KSM/USDT:USDT", "--timeframe", "5m", "-q"]  # fmt: skip
    first = run_cli(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    assert "KSM/USDT:USDT" in first.stdout and "rows_in" in first.stdout
    second = run_cli(tmp_path, *args)
    assert second.returncode == 0
    row = next(line for line in second.stdout.splitlines() if "KSM/USDT" in line)
    assert [c.strip() for c in row.strip("│ ").split("│")][3:] == ["4", "0", "0", "0"]
    key = SeriesKey(exchange="test", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
    assert Catalog(tmp_path).read_stored(key).height == 4


def test_map_option_and_directory_walk(tmp_path: Path) -> None:
    res = run_cli(tmp_path, "import", str(FIXTURES / "bars_iso_mapped.csv"), "-e", "x",
                  "-s", "A/USDT:USDT", "--map", "time=ts", "--map", "o=open", "--map", "h=high",
                  "--map", "l=low", "--map", "c=close", "--map", "vol=volume", "-q")  # fmt: skip
    assert res.returncode == 0, res.stderr
    res = run_cli(tmp_path, "import", str(FIXTURES / "coinalyze"), "-q")
    assert res.returncode == 0, res.stderr
    assert "binancecoinm" in res.stdout and "skipped" in res.stdout


def test_refused_file_exits_nonzero_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,open,high,low,close,volume\n1704067200000,1,2,0.5,1,-3\n")
    res = run_cli(tmp_path / "home", "import", str(bad), "-e", "x", "-s", "A/USDT:USDT",
                  "-t", "5m")  # fmt: skip
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    assert "negative volume" in res.stderr and "row 1" in res.stderr and "'volume'" in res.stderr
    assert not (tmp_path / "home" / "catalog" / "bars").exists()


def test_bad_map_syntax(tmp_path: Path) -> None:
    res = run_cli(tmp_path, "import", str(FIXTURES / "bars_5m.csv"), "--map", "nonsense")
    assert res.returncode != 0 and "SRC=DST" in res.stderr and "Traceback" not in res.stderr
