"""``oiradar brief`` and ``oiradar sheet`` through the real entry point on a simulated home."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest

from tests.integration.cli_helpers import assert_refused, run_cli

SERIES = ("-e", "sim", "-s", "KSM/USDT:USDT", "-t", "4h")
LAST_DAY = "2024-02-29"  # 60 days from 2024-01-01


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("brief-cli")
    done = run_cli(["simulate", "--days", "60", "-t", "1h", "--seed", "7"], home)
    assert done.code == 0, done.output
    return home


def test_brief_shows_the_series_for_people_and_programs(home: Path) -> None:
    res = run_cli(["brief", *SERIES], home, env={"COLUMNS": "100"})
    assert res.code == 0, res.output
    assert "Morning brief: 1 series" in res.stdout and "sim KSM/USDT:USDT 4h" in res.stdout
    for label in ("OI 7d", "z 30d", "funding", "phase", "signals", "last alert", "none yet"):
        assert label in res.stdout, label
    assert "KSM" in res.stdout and "$" in res.stdout and "%" in res.stdout
    assert max(len(line) for line in res.stdout.splitlines()) <= 100
    spark = [line for line in res.stdout.splitlines() if "sim KSM/USDT:USDT 4h  OI " in line]
    assert len(spark) == 1 and "price" in spark[0] and "█" in spark[0] and "▁" in spark[0]
    res = run_cli(["brief", *SERIES, "--format", "json"], home)
    assert res.code == 0, res.output
    rows = json.loads(res.stdout)["rows"]
    assert len(rows) == 1 and rows[0]["oi"] > 0 and rows[0]["last_alert"] == "none yet"
    assert rows[0]["bar_ts"] == 1_709_236_800_000  # 2024-02-29 20:00 UTC, the last 4h bar


def test_brief_without_series_says_how_to_name_them(home: Path) -> None:
    assert_refused(run_cli(["brief"], home), ["no series to brief", "[watch] series", "-e/-s/-t"])
    assert_refused(run_cli(["brief", "-s", "KSM/USDT:USDT"], home), ["-s without -e"])


def test_sheet_writes_csv_xlsx_and_markdown(home: Path, tmp_path: Path) -> None:
    res = run_cli(["sheet", *SERIES], home)
    assert res.code == 0, res.output
    csv = home / "sheets" / f"oiradar-sheet-{LAST_DAY}.csv"
    assert str(csv) in res.stdout
    frame = pl.read_csv(csv)
    assert frame["date"].to_list() == [LAST_DAY] and frame["exchange"].to_list() == ["sim"]
    assert frame["bar_utc"].to_list() == [f"{LAST_DAY} 20:00"] and frame["oi"][0] > 0

    res = run_cli(["sheet", *SERIES, "--date", "2024-02-10", "--format", "xlsx"], home)
    assert res.code == 0, res.output
    xlsx = home / "sheets" / "oiradar-sheet-2024-02-10.xlsx"
    with zipfile.ZipFile(xlsx) as z:
        names = set(z.namelist())
        assert {"xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= names
        assert "2024-02-10" in z.read("xl/workbook.xml").decode()  # the worksheet's name
    if importlib.util.find_spec("fastexcel") or importlib.util.find_spec("openpyxl"):
        back = pl.read_excel(xlsx)
        assert back["symbol"].to_list() == ["KSM/USDT:USDT"]

    md = tmp_path / "sheet.md"
    res = run_cli(["sheet", *SERIES, "--out", str(md)], home)
    assert res.code == 0, res.output
    lines = md.read_text().splitlines()
    assert lines[0] == f"# oiradar sheet {LAST_DAY}"
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 3 and "| sim | KSM/USDT:USDT | 4h |" in table[2]
    assert len({line.count(" | ") for line in table}) == 1  # every row has every cell


def test_sheet_refuses_a_bad_date_with_one_message(home: Path) -> None:
    res = run_cli(["sheet", *SERIES, "--date", "2024-13-01"], home)
    assert_refused(res, ["--date", "2024-13-01", "YYYY-MM-DD"])
    assert len(res.stderr.strip().splitlines()) == 1
    res = run_cli(["sheet", *SERIES, "--date", "2023-06-01"], home)
    assert_refused(res, ["2023-06-01", "outside", "2024-01-01 .. 2024-02-29"])
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (home / "sheets" / "oiradar-sheet-2023-06-01.csv").exists()
    res = run_cli(["sheet", *SERIES, "--format", "md", "--out", "x.csv"], home)
    assert_refused(res, ["--format md", "x.csv"])
