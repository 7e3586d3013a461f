"""`oiradar simulate` and `oiradar demo` end to end: in-process (typer runner) and once through the
real console entry point in a subprocess, as `make demo` runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.model import SeriesKey, Timeframe
from oiradar.sim import ground_truth_dir
from oiradar.store import Catalog

KEY = SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)
runner = CliRunner()


def cli(home: Path, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--home", str(home), *args])
    return res.exit_code, res.stdout, res.stderr


def test_simulate_writes_a_series_and_refuses_to_mix_markets(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, err = cli(home, "simulate", "--preset", "ksm", "--days", "2", "--seed", "7")
    assert code == 0, err
    assert "Simulated sim KSM/USDT:USDT 5m: 576 bars" in out
    cat = Catalog(home)
    assert cat.read_stored(KEY).height == 576
    assert (ground_truth_dir(cat, "sim", KEY.symbol) / "positions.parquet").exists()
    code, out, _ = cli(home, "list", "--format", "csv")
    assert code == 0 and "sim,KSM/USDT:USDT,5m" in out
    # The same run again is a no-op; a different one needs --replace.
    code, out, _ = cli(home, "simulate", "--preset", "ksm", "--days", "2", "--seed", "7")
    assert code == 0 and "0 bars added, 0 changed" in out
    code, _, err = cli(home, "simulate", "--preset", "planted", "--days", "1", "--seed", "7")
    assert code == 2 and "--replace" in err
    code, _, err = cli(home, "simulate", "--preset", "planted", "--days", "1", "--replace")
    assert code == 0, err
    assert cat.read_stored(KEY).height == 288


def test_simulate_options_and_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, _, err = cli(
        home, "simulate", "--preset", "btc", "--days", "1", "--seed", "3", "--exchange", "simbtc",
        "--timeframe", "1h", "--start", "2025-03-01",
    )  # fmt: skip
    assert code == 0, err
    key = SeriesKey(exchange="simbtc", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)
    bars = Catalog(home).read_stored(key)
    assert bars.height == 24 and bars["ts"][0] == 1740787200000  # 2025-03-01 00:00 UTC
    code, _, err = cli(home, "simulate", "--preset", "nul", "--days", "1")
    assert code == 2 and "did you mean 'null'" in err
    code, _, err = cli(home, "simulate", "--days", "1", "--start", "2024-01-01T00:03")
    assert code == 2 and "aligned" in err


def test_simulate_defaults_come_from_the_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "oiradar.toml").write_text('[sim]\npreset = "null"\nseed = 3\ndays = 1\n')
    code, out, err = cli(home, "simulate")
    assert code == 0, err
    assert "288 bars" in out
    cat = Catalog(home)
    params = (ground_truth_dir(cat, "sim", KEY.symbol) / "params.json").read_text()
    assert '"preset": "null"' in params and '"seed": 3' in params


def test_demo_in_process_replaces_its_own_series(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, err = cli(home, "demo", "--days", "2", "--seed", "8")
    assert code == 0, err
    code, out, err = cli(home, "demo", "--days", "3", "--seed", "7")
    assert code == 0, err
    assert Catalog(home).read_stored(KEY).height == 3 * 288
    code, out, err = cli(
        home, "sql", "select side, count(*) as n from liquidations group by 1", "--format", "csv"
    )
    assert code == 0, err
    assert set(pl.read_csv(out.encode())["side"]) == {"long", "short"}
    code, out, err = cli(
        home,
        "export",
        "-e",
        "sim",
        "-s",
        "KSM/USDT:USDT",
        "-t",
        "4h",
        "--out",
        str(tmp_path / "k.csv"),
    )
    assert code == 0, err
    assert pl.read_csv(tmp_path / "k.csv").height == 18


def test_demo_fresh_through_the_console_script(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "catalog" / "bars" / "junk").mkdir(parents=True)
    (home / "sim" / "old").mkdir(parents=True)
    (home / "notes.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-c", "from oiradar.cli.main import main; main()",
         "--home", str(home), "demo", "--fresh", "--days", "3"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for needle in ("Simulated market: sim KSM/USDT:USDT 5m", "coverage", "open interest", "KSM",
                   "liquidations (longs)", "liquidations (shorts)", "funding", "regimes",
                   "Next steps", "oiradar --home"):  # fmt: skip
        assert needle in proc.stdout, needle
    assert (home / "notes.txt").read_text() == "keep me"
    assert not (home / "catalog" / "bars" / "junk").exists() and not (home / "sim" / "old").exists()
    cat = Catalog(home)
    assert [str(k) for k in cat.stored_keys()] == ["sim KSM/USDT:USDT 5m"]
    assert cat.read_stored(KEY).height == 3 * 288
