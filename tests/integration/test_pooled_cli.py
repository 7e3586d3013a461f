"""`oiradar study --pooled` end to end: two simulated series in one home, the real BTC daily data,
and `scripts/evidence_tables.py` on a slice of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.model import Source, Timeframe
from oiradar.sim import simulate
from oiradar.store import Catalog
from tests.conftest import shared_file

ROOT = Path(__file__).resolve().parents[2]
REPS = ("--reps", "200")


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Path:
    """Two planted markets, one year of 4h bars each, on venues ``sima`` and ``simb``."""
    home = tmp_path_factory.mktemp("pooled") / "home"
    catalog = Catalog(home)
    for exchange, seed in (("sima", 1), ("simb", 2)):
        res = simulate("planted", days=365, seed=seed, timeframe=Timeframe.H4)
        catalog.write_bars(res.key(exchange), res.bars, Source.SIM)
    return home


def _invoke(home: Path, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "100"})


def _cli(home: Path, *args: str) -> str:
    out = _invoke(home, *args)
    assert out.exit_code == 0, out.output
    return out.stdout


def _json(home: Path, *args: str) -> dict:
    return json.loads(_cli(home, "study", "-t", "4h", *REPS, "--format", "json", *args))


def test_pooled_table_for_people(two):
    out = _cli(two, "study", "-t", "4h", "--pooled", *REPS)
    for text in ("Pooled event study", "2 series", "symbol-years", "Pooled baselines",
                 "Verdicts, pooled", "divergence:", "needed", "deff",
                 "Each series alone", "sima KSM/USDT:USDT", "simb KSM/USDT:USDT",
                 "two-way bootstrap"):  # fmt: skip
        assert text in out, text
    table_lines = [line for line in out.splitlines() if line[:1] in "┏┃┡│└├"]
    assert max(len(line) for line in table_lines) <= 100  # fits a 100-column terminal


def test_pooled_json_has_the_fields_and_totals_of_the_single_studies(two):
    pooled = _json(two, "--pooled")
    single = _json(two)
    assert pooled["block_days"] == 4.0  # 2 x H = 24 bars of 4h
    assert pooled["timeframes"] == ["4h"]
    # the per-series breakdown is each series' own study, field for field
    assert pooled["series"] == single["studies"]
    rows = {(r["signal"], r["side"]): r for r in pooled["pooled"]}
    for (signal, side), row in rows.items():
        mine = [s for s in single["studies"] if (s["signal"], s["side"]) == (signal, side)]
        assert len(mine) == 2 and row["series"] == 2
        for f in ("signals", "events", "wins", "losses", "timeouts", "counted", "reversals",
                  "base_all_n", "base_all_wins", "base_near_high_n"):  # fmt: skip
            assert row[f] == sum(s[f] for s in mine), f
        assert row["rate"] == pytest.approx(row["reversals"] / row["counted"])
        assert row["symbol_years"] == pytest.approx(2.0, abs=0.01)
        assert row["deff"] > 0 and row["effective"] <= row["counted"]
        if row["counted"] >= 10:
            assert row["rate_low"] <= row["rate"] <= row["rate_high"]
            assert row["lift_near_high_low"] <= row["lift_near_high"] <= row["lift_near_high_high"]
    verdicts = {v["claim"]: v for v in pooled["verdicts"]}
    v = verdicts["seed.divergence_reversal_70"]
    assert {"as stated", "events", "reversals", "rate", "rate_low", "rate_high", "measured",
            "baseline", "p", "q", "deff", "effective", "needed", "years", "years_needed",
            "verdict"} <= set(v)  # fmt: skip
    div = rows[("divergence", "short")]
    assert (v["events"], v["reversals"], v["series"]) == (div["counted"], div["reversals"], 2)
    per_year = div["counted"] / div["symbol_years"]
    assert v["years_needed"] == pytest.approx(v["needed"] * max(1.0, v["deff"]) / per_year)
    assert v["verdict"] in ("supported", "not supported", "insufficient data")


def test_pooled_over_two_timeframes_and_a_block_length(two):
    data = _json(two, "--pooled", "-t", "4h,1d", "--block-days", "10")
    assert data["timeframes"] == ["4h", "1d"] and data["block_days"] == 10.0
    assert {r["timeframe"] for r in data["series"]} == {"4h", "1d"}
    assert data["pooled"][0]["series"] == 4
    csv = _cli(two, "study", "-t", "4h", *REPS, "--pooled", "--format", "csv")
    assert csv.splitlines()[0].startswith("claim,signal,side,as stated,series,events")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-t", "4h,1d"), "several timeframes are studied together with --pooled only"),
        (("--block-days", "3"), "--block-days sets the pooled study's calendar blocks"),
        (("--pooled", "--block-days", "0"), "--block-days must be a number of days above 0"),
        (("--pooled", "-e", "nowhere"), "--exchange 'nowhere': no series stored on it"),
    ],
)
def test_pooled_bad_inputs_say_what_to_do(two, args, message):
    out = _invoke(two, "study", *args)
    assert out.exit_code == 2, out.output
    assert message in " ".join(out.output.split())


def test_real_btc_daily_pooled_over_every_venue(shared_data, tmp_path):
    """The 16 BTC contracts with OI pooled: the counts per venue are each venue's own study."""
    folder = shared_file("btc_daily_multivenue")
    home = tmp_path / "home"
    for args in (
        ["import", "-q", str(folder)],
        ["link", "*:BTC/*", "--prices", "binance:BTC/USDT"],
    ):
        _cli(home, *args)
    data = json.loads(_cli(home, "study", "-t", "1d", "--pooled", *REPS, "--format", "json"))
    div = next(r for r in data["pooled"] if r["signal"] == "divergence")
    assert div["series"] == 16
    bitmex = next(r for r in data["series"] if r["signal"] == "divergence"
                  and (r["exchange"], r["symbol"]) == ("bitmex", "BTC/USDT:USDT"))  # fmt: skip
    assert (bitmex["events"], bitmex["wins"], bitmex["losses"], bitmex["timeouts"]) == (
        21,
        11,
        5,
        5,
    )
    assert div["deff"] > 1.5  # venues of one coin share their moves: fewer effective events
    # every claim on the reversal rate lacks effective events; the liquidations after OI spikes
    # (Coinalyze's daily liquidations of each venue) have enough for a verdict
    rates = [v for v in data["verdicts"] if v["reversals"] is not None]
    assert rates and all(v["verdict"] == "insufficient data" for v in rates)


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "evidence_tables.py"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)  # fmt: skip


@pytest.mark.parametrize(
    ("table", "folder", "rows", "study", "series"),
    [
        (
            "btc-daily",
            "btc_daily_multivenue",
            "200",
            "study -t 1d --pooled",
            "bitmex BTC/USDT:USDT",
        ),
        ("bybit-4h", "bybit_perps", "6000", "study -t 4h --pooled", "bybit ETH/USDT:USDT"),
    ],
)
def test_evidence_tables_script_writes_between_the_markers(
    shared_data, tmp_path, table, folder, rows, study, series
):
    shared_file(folder)
    page = tmp_path / "evidence.md"
    before, after = "# Page\n\ntext before\n\n", "\n\ntext after\n"
    page.write_text(f"{before}<!-- pooled:{table} -->\nstale\n<!-- /pooled:{table} -->{after}")
    res = _script(table, "--slice", rows, "--reps", "200", "--page", str(page))
    assert res.returncode == 0, res.stderr
    text = page.read_text()
    assert text.startswith(f"{before}<!-- pooled:{table} -->\n")
    assert text.endswith(f"\n<!-- /pooled:{table} -->{after}")
    assert "stale" not in text
    assert f"python scripts/evidence_tables.py {table} --slice {rows} --reps 200" in text
    assert f" {study}\n" in text
    assert "| claim | events (effective) | reversals | rate | all | near_high | matched |" in text
    assert "| divergence: reversal rate > 0.7 |" in text
    assert f"| {series} |" in text


def test_evidence_tables_script_refuses_an_unknown_table(tmp_path):
    bad = _script("nope", "--page", str(tmp_path / "page.md"))
    assert bad.returncode == 2 and "unknown table(s) nope" in bad.stderr


def test_real_bybit_pooled_counts_are_each_symbol_alone(shared_data, tmp_path):
    """Three Bybit perps (a year of hourly marks each): the pooled study's per-symbol rows are
    `oiradar study` of each symbol alone, and the pooled counts their sums."""
    import polars as pl

    home = tmp_path / "home"
    for sym in ("ETH", "SOL", "XRP"):
        src = shared_file("bybit_perps", "markoi_1h", f"{sym}USDT.parquet")
        path = tmp_path / src.name
        pl.read_parquet(src).tail(24 * 365).write_parquet(path)
        _cli(home, "import", "-q", str(path), "-e", "bybit", "-s", f"{sym}/USDT:USDT", "-t", "1h",
             "--map", "datetime=ts", "--map", "mark_price=close",
             "--map", "open_interest_usd=oi_value")  # fmt: skip
    single = _json(home)
    pooled = _json(home, "--pooled")
    assert pooled["series"] == single["studies"]
    div = next(r for r in pooled["pooled"] if r["signal"] == "divergence")
    alone = [s for s in single["studies"] if s["signal"] == "divergence"]
    assert div["series"] == 3 and div["symbol_years"] == pytest.approx(3.0, abs=0.01)
    for f in ("events", "wins", "losses", "timeouts", "counted", "reversals"):
        assert div[f] == sum(s[f] for s in alone), f
