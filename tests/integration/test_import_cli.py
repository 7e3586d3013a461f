"""``oiradar import`` end to end: the typer app in process, and the console entry point in a
subprocess for the exit code and the absence of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "files"
RUNNER = CliRunner()


def invoke(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(app, ["--home", str(home), *args], env={"COLUMNS": "200"})


def table_row(stdout: str, needle: str) -> list[str]:
    line = next(line for line in stdout.splitlines() if needle in line and "│" in line)
    return [c.strip() for c in line.strip("│ ").split("│")]


def test_import_prints_a_summary_and_is_idempotent(tmp_path: Path) -> None:
    args = ["import", str(FIXTURES / "bars_5m.csv"), "--exchange", "test",
            "--symbol", "KSM/USDT:USDT", "--timeframe", "5m", "-q"]  # fmt: skip
    first = invoke(tmp_path, *args)
    assert first.exit_code == 0, first.output
    assert table_row(first.output, "KSM/USDT:USDT")[3:] == ["4", "4", "0", "1"]
    second = invoke(tmp_path, *args)
    assert second.exit_code == 0
    assert table_row(second.output, "KSM/USDT:USDT")[3:] == ["4", "0", "0", "0"]
    key = SeriesKey(exchange="test", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
    assert Catalog(tmp_path).read_stored(key).height == 4


def test_map_option_and_directory_walk(tmp_path: Path) -> None:
    res = invoke(tmp_path, "import", str(FIXTURES / "bars_iso_mapped.csv"), "-e", "x",
                 "-s", "A/USDT:USDT", "--map", "time=ts", "--map", "o=open", "--map", "h=high",
                 "--map", "l=low", "--map", "c=close", "--map", "vol=volume", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert table_row(res.output, "A/USDT:USDT")[2] == "1h"
    res = invoke(tmp_path, "import", str(FIXTURES / "coinalyze"), "-q")
    assert res.exit_code == 0, res.output
    assert table_row(res.output, "binancecoinm")[1] == "BTC/USD:BTC"
    assert "skipped" in res.output and "markets.csv" in res.output


def test_bad_map_syntax(tmp_path: Path) -> None:
    res = invoke(tmp_path, "import", str(FIXTURES / "bars_5m.csv"), "--map", "nonsense")
    assert res.exit_code != 0 and "SRC=DST" in res.output


def test_refused_file_exits_nonzero_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,open,high,low,close,volume\n1704067200000,1,2,0.5,1,-3\n")
    res = subprocess.run(
        [sys.executable, "-c", "from oiradar.cli.main import main; main()",
         "--home", str(tmp_path / "home"), "import", str(bad), "-e", "x", "-s", "A/USDT:USDT",
         "-t", "5m"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    assert "negative volume" in res.stderr and "row 1" in res.stderr and "'volume'" in res.stderr
    assert not (tmp_path / "home" / "catalog" / "bars").exists()
