"""`oiradar simulate --universe N` end to end: what it writes and prints, running it again, the
pooled study on it, and the inputs it refuses (exit 2, one message, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app

runner = CliRunner()
UNIVERSE = ("simulate", "--universe", "3", "--days", "10", "--timeframe", "1h", "--seed", "1")


def cli(home: Path, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--home", str(home), *args])
    return res.exit_code, res.stdout, res.stderr


def test_universe_is_written_listed_rerun_and_studied(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, err = cli(home, *UNIVERSE, "--edge", "0.65")
    assert code == 0, err
    assert "Simulated a universe of 3 on sim (U001/USDT:USDT .. U003/USDT:USDT)" in out
    assert "reversal rate 0.65 planted after divergence" in out and "720 bars added" in out
    assert "crash at 2024-01-" in out and "planted:" in out
    params = json.loads((home / "sim/sim/U002-USDT-USDT/params.json").read_text())
    assert params["universe"]["edge"] == 0.65 and len(params["universe"]["crashes"]) == 1
    code, out, _ = cli(home, "list", "--format", "csv")
    assert code == 0
    assert [f"sim,U00{i}/USDT:USDT,1h" in out for i in (1, 2, 3)] == [True] * 3
    code, out, _ = cli(home, *UNIVERSE, "--edge", "0.65")  # the same universe: nothing changes
    assert code == 0 and "0 bars added, 0 changed" in out
    code, _, err = cli(home, *UNIVERSE, "--edge", "none")
    assert code == 2 and "already holds another universe (edge 0.65, not none)" in err
    assert "--replace" in err
    code, out, err = cli(home, *UNIVERSE, "--edge", "50%", "--replace")
    assert code == 0, err
    assert "reversal rate 0.5 planted" in out
    code, out, err = cli(home, "study", "--pooled", "-t", "1h", "-e", "sim", "--signal",
                         "divergence", "--reps", "200", "--format", "json")  # fmt: skip
    assert code == 0, err
    pooled = json.loads(out)
    assert {r["signal"] for r in pooled["pooled"]} >= {"divergence"}


def test_universe_on_its_own_exchange_leaves_a_single_market_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "simulate", "--preset", "ksm", "--days", "2", "--symbol", "U001/USDT:USDT")[0] == 0
    code, _, err = cli(home, "simulate", "--universe", "2", "--days", "2", "--timeframe", "1h")
    assert code == 2 and "already holds a single market" in err
    code, out, err = cli(home, "simulate", "--universe", "2", "--days", "2", "--timeframe", "1h",
                         "--exchange", "simu", "--workers", "2", "--correlation", "0")  # fmt: skip
    assert code == 0, err
    assert "on simu" in out and "correlation 0," in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--universe", "0"), "--universe must be 1 to 999 symbols, got 0"),
        (("--universe", "1000"), "--universe must be 1 to 999 symbols, got 1000"),
        (("--universe", "2", "--edge", "1.5"), "--edge must be a rate such as 0.65"),
        (("--universe", "2", "--edge", "sixty"), "--edge must be a rate such as 0.65"),
        (("--universe", "2", "--correlation", "1"), "--correlation must be in [0, 0.95], got 1.0"),
        (("--universe", "2", "--workers", "0"), "--workers must be 1 or more, got 0"),
        (("--universe", "2", "--symbol", "X/USDT:USDT"), "--symbol names one market"),
        (("--universe", "2", "--preset", "nul"), "did you mean 'null'"),
        (("--universe", "2", "--timeframe", "7m"), "unknown timeframe '7m'"),
        (("--universe", "2", "--days", "0"), "--days must be 1 or more, got 0"),
        (("--universe", "2", "--seed", "-1"), "--seed must be 0 or more, got -1"),
        (("--edge", "0.65",), "--edge goes with --universe N"),
        (("--correlation", "0.3",), "--correlation goes with --universe N"),
    ],
)  # fmt: skip
def test_bad_universe_options_are_refused(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    home = tmp_path / "home"
    code, out, err = cli(home, "simulate", "--days", "2", *args)
    assert code == 2
    assert message in err and err.strip().count("\n") == 0, err  # one message
    assert not out.strip(), out
    assert not (home / "catalog").exists() or not any((home / "catalog").rglob("*.parquet"))
