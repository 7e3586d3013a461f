"""``oiradar liqmap --walk-forward`` end to end: the verdict line, its JSON, bad inputs, and the
real Coinalyze venues of ../shared/data (skipped when absent, an error under CI=true)."""

from __future__ import annotations

import json
import os
import re

import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app

from ..conftest import SHARED_DATA, shared_file

runner = CliRunner()
VERDICT = re.compile(
    r"^(?P<series>.+?): map [\d.]+% \[[\d.]+%, [\d.]+%\] (?P<vb>BEATS|TIES|LOSES) the no-OI "
    r"baseline [\d.]+% \[[\d.]+%, [\d.]+%\] \([+-][\d.]+ pp \[[+-][\d.]+, [+-][\d.]+\]\); "
    r"(?P<vc>BEATS|TIES|LOSES) chance [\d.]+% \([+-][\d.]+ pp \[[+-][\d.]+, [+-][\d.]+\]\)$"
)


def _ok(args: list[str]) -> str:
    res = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture(scope="module")
def sim_home(tmp_path_factory):
    from oiradar.sim import simulate
    from oiradar.store import Catalog

    home = tmp_path_factory.mktemp("home")
    simulate("ksm", days=12, seed=3).write(Catalog(home))
    return str(home)


def test_walk_forward_prints_one_verdict_line_and_the_folds(sim_home):
    out = _ok(["--home", sim_home, "liqmap", "--walk-forward", "-e", "sim", "-s", "KSM/USDT:USDT",
               "-t", "1h", "--folds", "3"])  # fmt: skip
    lines = [ln for ln in out.splitlines() if VERDICT.match(ln)]
    assert len(lines) == 1, out
    assert VERDICT.match(lines[0])["series"] == "sim KSM/USDT:USDT 1h"
    assert "by price" in out and "3 folds" in out
    assert "the unfitted map (default) scores" in out


def test_walk_forward_json_has_the_scores_intervals_and_verdicts(sim_home):
    out = json.loads(_ok(["--home", sim_home, "liqmap", "--walk-forward", "-t", "1h", "--folds",
                          "3", "--format", "json"]))  # fmt: skip
    assert out["kind"] == "estimated vs realized, walk-forward"
    (venue,) = out["venues"]  # every venue with realized liquidations: the simulated one
    assert venue["series"] == "sim KSM/USDT:USDT 1h"
    for name in ("map", "unfitted", "baseline", "chance", "map_minus_baseline"):
        iv = venue[name]
        assert iv["lo"] <= iv["score"] <= iv["hi"], name
    assert venue["verdict"] in {"beats", "ties", "loses"}
    assert venue["verdict_vs_chance"] in {"beats", "ties", "loses"}
    assert len(venue["fold_table"]) == 3
    assert {"mix", "half_life_bars", "churn", "fit_score"} <= set(venue["fold_table"][0])
    csv = _ok(["--home", sim_home, "liqmap", "--walk-forward", "-t", "1h", "--folds", "3",
               "--format", "csv"])  # fmt: skip
    assert csv.splitlines()[0].startswith("exchange,symbol,timeframe,scored_bars,map,map_lo")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--folds", "0"], "--folds must be >= 1"),
        (["--folds", "200"], "pass fewer --folds"),
        (["-e", "nowhere"], "no realized liquidations stored for -e nowhere"),
        (["--mix", "lognormal:3"], "lognormal:MEDIAN:SPREAD"),
    ],
)
def test_walk_forward_bad_inputs_are_clean(sim_home, args, message):
    res = runner.invoke(app, ["--home", sim_home, "liqmap", "--walk-forward", "-t", "1h", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_the_map_takes_the_fitted_turnover(sim_home):
    base = ["--home", sim_home, "liqmap", "-e", "sim", "-s", "KSM/USDT:USDT", "-t", "1h"]
    plain = _ok(base)
    aged = _ok([*base, "--mix", "lognormal:20:0.3", "--half-life", "48", "--churn", "0.01"])
    assert "turnover:" not in plain
    assert "turnover: half-life 48 bars, churn 0.01 a bar" in aged
    assert "leverage mix: 10x 3%, 15x 24%, 20x 38%" in aged
    res = runner.invoke(app, [*base, "--churn", "1.5"])
    assert res.exit_code == 2 and "churn must be in [0, 1)" in res.output


def test_walk_forward_without_realized_liquidations(tmp_path):
    res = runner.invoke(app, ["--home", str(tmp_path), "liqmap", "--walk-forward", "-t", "1d"])
    assert res.exit_code == 2 and "no realized liquidations stored" in res.output


# ---------------------------------------------------------------- the real Coinalyze venues
def _real(*parts: str):
    if os.environ.get("CI") == "true" and not SHARED_DATA.joinpath(*parts).exists():
        pytest.fail(f"CI lays ../shared/data beside the checkout; {parts} is missing")
    return shared_file(*parts)


@pytest.fixture(scope="module")
def coinalyze_home(tmp_path_factory):
    folder = _real("btc_daily_multivenue")
    home = str(tmp_path_factory.mktemp("coinalyze"))
    _ok(["--home", home, "import", str(folder), "-q"])
    _ok(["--home", home, "link", "*:BTC/*", "--prices", "binance:BTC/USDT"])
    return home


# docs/liquidations.md, "Walk-forward": map, baseline and the verdict, as the docs table has them
DOCS = {
    "binanceusdm BTC/USDT:USDT 1d": (0.418, 0.438, "ties"),
    "okx BTC/USDT:USDT 1d": (0.545, 0.547, "ties"),
}


def test_coinalyze_walk_forward_reproduces_the_docs(coinalyze_home):
    """Two venues of the docs table, 545 daily bars each (5 folds of about 91 days scored)."""
    out = json.loads(_ok(["--home", coinalyze_home, "liqmap", "--walk-forward", "-e",
                          "binanceusdm,okx", "-s", "BTC/USDT:USDT", "-t", "1d", "--json"]))  # fmt: skip
    got = {v["series"]: v for v in out["venues"]}
    assert set(got) == set(DOCS)
    for series, (score, base, word) in DOCS.items():
        v = got[series]
        assert v["map"]["score"] == pytest.approx(score, abs=0.0005), series
        assert v["baseline"]["score"] == pytest.approx(base, abs=0.0005), series
        assert v["verdict"] == word and v["verdict_vs_chance"] == "beats"
        assert v["scored_bars"] == 454 and v["chance"]["score"] == pytest.approx(0.25, abs=0.005)
        assert v["map"]["score"] > v["unfitted"]["score"]  # the fit helps out of sample here
