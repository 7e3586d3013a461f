"""The framework's parts that had no claim of their own (issue 16, item 2), end to end: the
multi-timeframe entry, the OI-turn exit against the barriers, the fade into a liquidation cluster,
liquidations after OI spikes, and the OI summed over venues beside each venue's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.model import Source, Timeframe
from oiradar.sim import simulate
from oiradar.store import Catalog

NEW = ("seed.mtf_entry_edge", "seed.oi_turn_exit", "seed.liq_fade_edge",
       "seed.oi_spike_liquidations")  # fmt: skip


@pytest.fixture(scope="module")
def two_venues(tmp_path_factory) -> Path:
    """Two simulated venues of one symbol, 120 days of 1h bars, with their liquidations."""
    home = tmp_path_factory.mktemp("two")
    for exchange, seed in (("sima", 1), ("simb", 2)):
        simulate("planted", days=120, seed=seed, timeframe=Timeframe.H1).write(
            Catalog(home), exchange=exchange
        )
    return home


def _cli(home: Path, *args: str, code: int = 0) -> str:
    out = CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "250"})
    assert out.exit_code == code, out.output
    return out.output if code else out.stdout


def _verdicts(home: Path, *args: str) -> dict[tuple[str, str], dict]:
    data = json.loads(_cli(home, "study", "--reps", "200", "--json", *args))
    return {(v["series"], v["claim"]): v for v in data["verdicts"]}


def test_each_new_claim_has_a_verdict_with_counts(two_venues):
    v = _verdicts(two_venues, "-t", "1h")
    for series in ("sima KSM/USDT:USDT", "simb KSM/USDT:USDT"):
        for claim in NEW:
            row = v[(series, claim)]
            assert row["events"] > 0, row
            assert row["verdict"] in ("supported", "not supported", "insufficient data")
            assert "cannot" not in row["measured"] and "no realized" not in row["measured"]
    assert v[("sima KSM/USDT:USDT", "seed.oi_turn_exit")]["measured"].startswith(
        ("gain ", "n too small"))  # fmt: skip
    assert "liquidated" in v[("sima KSM/USDT:USDT", "seed.oi_spike_liquidations")]["baseline"]


def test_the_table_says_why_a_claim_cannot_be_measured(two_venues, tmp_path):
    v = _verdicts(two_venues, "-t", "4h")
    row = v[("sima KSM/USDT:USDT", "seed.mtf_entry_edge")]
    assert row["measured"].startswith("cannot fire at 4h") and row["verdict"] == "insufficient data"
    pooled = json.loads(_cli(two_venues, "study", "-t", "4h", "--pooled", "--reps", "200",
                             "--json"))  # fmt: skip
    mtf = next(r for r in pooled["verdicts"] if r["claim"] == "seed.mtf_entry_edge")
    assert mtf["measured"].startswith("cannot fire at 4h") and mtf["events"] == 0
    assert not any(r["signal"] == "mtf_entry" for r in pooled["pooled"])
    # bars without stored liquidations: the liquidation claim says so, the others are measured
    home = tmp_path / "noliq"
    res = simulate("planted", days=120, seed=3, timeframe=Timeframe.H1)
    Catalog(home).write_bars(res.key(), res.bars, Source.SIM)
    v = _verdicts(home, "-t", "1h")
    assert v[("sim KSM/USDT:USDT", "seed.oi_spike_liquidations")]["measured"].startswith(
        "no realized liquidations on the bars")  # fmt: skip
    assert v[("sim KSM/USDT:USDT", "seed.liq_fade_edge")]["events"] > 0


def test_with_total_puts_the_summed_oi_beside_each_venue(two_venues):
    v = _verdicts(two_venues, "-t", "1h", "--with-total", "--signal", "divergence")
    series = {s for s, _ in v}
    assert series == {"sima KSM/USDT:USDT", "simb KSM/USDT:USDT", "all KSM/USD"}
    assert v[("all KSM/USD", "seed.divergence_edge")]["verdict"]
    text = _cli(two_venues, "study", "-t", "1h", "--with-total", "--signal", "divergence",
                "--reps", "200")  # fmt: skip
    assert "all KSM/USD" in text and "sima KSM/USDT:USDT" in text


def test_pooled_study_judges_the_new_claims(two_venues):
    data = json.loads(_cli(two_venues, "study", "-t", "1h", "--pooled", "--reps", "200", "--json"))
    v = {r["claim"]: r for r in data["verdicts"]}
    for claim in NEW:
        row = v[claim]
        assert row["events"] > 0 and row["series"] == 2, row


def test_backtest_exits_and_the_new_entry_signals(two_venues):
    def run(*args: str) -> dict:
        return json.loads(_cli(two_venues, "backtest", "-t", "1h", "-e", "sima", "--json", *args))

    turn, bars = run("--exit", "oi_turn"), run("--exit", "barriers")
    assert turn["exit"] == "oi_turn" and turn["params"]["take_profit_r"] == 0
    assert bars["params"]["thesis_streak"] == 0
    assert "take_profit" not in {t["reason"] for t in turn["trades"]}
    assert "thesis" not in {t["reason"] for t in bars["trades"]}
    assert turn["metrics"] != bars["metrics"]
    for signal, side in (("mtf_entry", "short"), ("liq_fade", "short"), ("liq_fade", "long")):
        assert run("--signal", signal, "--side", side)["metrics"]["trades"] > 0


def test_scan_names_the_derived_signals(two_venues):
    rows = json.loads(_cli(two_venues, "scan", "-t", "1h", "--signal", "mtf_entry", "--signal",
                           "liq_fade", "--json"))  # fmt: skip
    assert {r["signal"] for r in rows} == {"mtf_entry", "liq_fade"}
    assert all(r["why"] for r in rows)


@pytest.mark.parametrize(("args", "says"), [
    (("backtest", "-t", "1h", "--exit", "sideways"), ("--exit", "sideways")),
    (("backtest", "-t", "1h", "--exit", "oi_turn", "-p", "take_profit_r=1"),
     ("--exit oi_turn", "take_profit_r")),
    (("study", "-t", "1h", "--with-total", "--pooled"), ("--with-total", "--exchange all")),
])  # fmt: skip
def test_bad_inputs_are_refused(two_venues, args, says):
    out = _cli(two_venues, *args, code=2)
    assert all(s in out for s in says), out
    assert "Traceback" not in out


def test_watch_evaluates_the_derived_signals_when_named(two_venues):
    from oiradar.app.live import evaluate
    from oiradar.app.session import Session
    from oiradar.config import Settings
    from oiradar.model import SeriesKey

    session = Session(Settings(), two_venues)
    key = SeriesKey(exchange="sima", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
    named = evaluate(session, key, None, 2**62, ("mtf_entry", "liq_fade")).events
    assert set(named["signal"]) == {"mtf_entry", "liq_fade"}
    assert "liq_fade" not in set(evaluate(session, key, None, 2**62).events["signal"])
