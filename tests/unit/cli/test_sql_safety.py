"""``oiradar sql`` is read-only: it runs queries only, touches no file outside the catalog unless
``--allow-files``, and cannot unlock itself. Every refusal is exit code 2 and leaves the catalog as it was."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog
from oiradar.store.catalog import committed_files

KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
N = 48
RUNNER = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    ts = np.arange(N, dtype=np.int64) * KEY.timeframe.ms
    frame = pl.DataFrame({"ts": ts, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5,
                          "volume": 1.0, "oi": np.arange(N) + 1.0})  # fmt: skip
    Catalog(home).write_bars(KEY, frame)
    return home


def sql(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(app, ["--home", str(home), "sql", *args], env={"COLUMNS": "200"})


def snapshot(home: Path) -> dict[str, str]:
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file()}  # fmt: skip


def partition(home: Path) -> Path:
    return committed_files(Catalog(home).bars_dir)[0]


def refused_cases(home: Path, outside: Path) -> list[str]:
    part = partition(home)
    return [
        f"copy (select * from bars) to '{outside / 'out.csv'}'",
        f"copy (select * from bars where false) to '{part}' (format parquet)",
        f"select 1; copy (select * from bars where false) to '{part}' (format parquet)",
        f"export database '{outside / 'dump'}'",
        "select * from read_csv('/etc/passwd')",
        "select * from read_text('/etc/hostname')",
        f"select * from glob('{outside}/*')",
        f"attach '{outside / 'x.duckdb'}' as x",
        "install httpfs",
        "load httpfs",
        "set enable_external_access = true",
        "set lock_configuration = false",
        "pragma enable_profiling",
        "call pragma_version()",
        f"explain analyze copy (select 1) to '{outside / 'e.csv'}'",
        "create table t as select * from bars",
        "insert into bars select * from bars",
    ]


def test_every_write_or_escape_is_refused_and_the_catalog_is_unchanged(
    home: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.csv").write_text("a,b\n1,2\n")
    before = snapshot(home)
    for query in refused_cases(home, outside):
        res = sql(home, query)
        assert res.exit_code == 2, (query, res.output)
        assert "error:" in res.output and "Traceback" not in res.output, (query, res.output)
        assert "root:" not in res.output  # nothing of /etc/passwd leaked
    assert snapshot(home) == before
    assert sorted(p.name for p in outside.iterdir()) == ["mine.csv"]
    assert Catalog(home).sql("select count(*) as n from bars")["n"][0] == N


def test_refusals_say_why(home: Path, tmp_path: Path) -> None:
    res = sql(home, f"copy (select * from bars) to '{tmp_path / 'o.csv'}'")
    assert "COPY statement" in res.output and "oiradar export" in res.output
    res = sql(home, "select * from read_csv('/etc/passwd')")
    assert "/etc/passwd" in res.output and "--allow-files" in res.output


def test_queries_still_work(home: Path) -> None:
    res = sql(home, "select symbol, count(*) as n, max(oi) as m from bars group by 1",
              "--format", "csv")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == ["symbol,n,m", f"KSM/USDT:USDT,{N},{float(N)}"]
    for query in ("describe bars", "summarize bars", "from bars limit 1",
                  "with x as (select oi from bars) select count(*) from x"):  # fmt: skip
        assert sql(home, query).exit_code == 0, query


def test_allow_files_reads_other_files_but_still_writes_nothing(home: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n1,2\n3,4\n")
    query = f"select sum(a) as s from read_csv('{mine}')"
    assert sql(home, query).exit_code == 2
    res = sql(home, query, "--allow-files", "--format", "csv")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == ["s", "4"]
    before = snapshot(home)
    part = partition(home)
    for query in (f"copy (select * from bars where false) to '{part}' (format parquet)",
                  f"copy (select 1) to '{tmp_path / 'w.csv'}'",
                  "set enable_external_access = false"):  # fmt: skip
        assert sql(home, query, "--allow-files").exit_code == 2, query
    assert snapshot(home) == before and not (tmp_path / "w.csv").exists()


def test_the_connection_cannot_be_unlocked(catalog: Catalog) -> None:
    """Behind the statement check, DuckDB itself refuses: settings locked, no file outside."""
    import duckdb

    con = catalog.connect()
    try:
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("set enable_external_access = true")
        with pytest.raises(duckdb.PermissionException):
            con.execute("select * from read_csv('/etc/passwd')")
    finally:
        con.close()


def test_console_script_exit_code_and_no_traceback(home: Path) -> None:
    before = snapshot(home)
    out = subprocess.run(
        [sys.executable, "-c", "from oiradar.cli.main import main; main()", "--home", str(home),
         "sql", f"copy (select * from bars where false) to '{partition(home)}' (format parquet)"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error:") and "Traceback" not in out.stderr
    assert snapshot(home) == before
