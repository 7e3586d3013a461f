"""``oiradar report``: the numbers in the HTML equal those of ``features``, ``scan`` and ``study``
on the same data (read back from the figure data in the file), and bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oiradar.render.report import read_report
from tests.integration.cli_helpers import assert_refused, run_cli
from tests.integration.report.helpers import SYMBOL, array, trace, two_venue_home

SINCE = "2024-03-01"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return two_venue_home(tmp_path_factory.mktemp("report") / "home")


@pytest.fixture(scope="module")
def report(home: Path) -> dict:
    out = home.parent / "report.html"
    res = run_cli(["report", "-e", "sim", "-s", SYMBOL, "-t", "4h", "--since", SINCE,
                   "--out", str(out)], home)  # fmt: skip
    assert res.code == 0, res.output
    assert f"Wrote {out}" in res.stdout
    assert not list(out.parent.glob(".report-*")), "the temporary file was left behind"
    return read_report(out)


def _json(home: Path, *args: str) -> object:
    res = run_cli([*args, "--format", "json"], home)
    assert res.code == 0, res.output
    return json.loads(res.stdout)


def test_last_values_equal_features(home: Path, report: dict) -> None:
    rows = _json(home, "features", "-e", "sim", "-s", SYMBOL, "-t", "4h", "--since", SINCE,
                 "--tail", "100000")
    assert isinstance(rows, list)
    last = [r for r in rows if r["phase"] is not None][-1]
    s = report["summary"]
    assert s["bars"] == len(rows)
    for col in ("close", "oi", "oi_z_30d", "oi_chg_7d"):
        assert s[col] == pytest.approx(last[col], rel=1e-12), col
    assert s["phase"] == last["phase"]
    oi = report["figures"]["oi"]
    drawn = array(trace(oi, "OI")["y"])
    assert np.allclose(drawn, [np.nan if r["oi"] is None else r["oi"] for r in rows],
                       equal_nan=True, rtol=1e-12)  # fmt: skip
    z = array(trace(oi, "z-score")["y"])
    want = np.array([np.nan if r["oi_z_30d"] is None else r["oi_z_30d"] for r in rows])
    assert np.allclose(z, want, equal_nan=True, rtol=1e-12)


def test_signal_dates_equal_scan(home: Path, report: dict) -> None:
    events = _json(home, "scan", "-s", SYMBOL, "-t", "4h", "--since", SINCE)
    assert isinstance(events, list)
    own = [e for e in events if e["exchange"] == "sim"]
    assert own, "the planted market should fire signals"
    price = report["figures"]["price"]
    drawn: set[tuple[str, int]] = set()
    for t in price["data"]:
        if t.get("mode") == "markers":
            drawn |= {(t["name"], int(x)) for x in array(t["x"])}
    want = {(f"{e['signal']} {e['side']}", _ms(e["ts"])) for e in own}
    assert drawn == want
    cross = [e for e in events if e["signal"] in ("exchange_divergence", "margin_divergence")]
    div = [t for t in report["figures"]["venues"]["data"] if t.get("name") == "divergence"]
    assert cross, "bybit's OI drifts apart: exchange_divergence should fire"
    assert sorted(int(x) for x in array(div[0]["x"])) == sorted(_ms(e["ts"]) for e in cross)


def _ms(ts: object) -> int:
    if isinstance(ts, int):
        return ts
    from oiradar.timeutil import parse_instant

    return parse_instant(str(ts), "ts")


def test_verdicts_equal_study(home: Path, report: dict) -> None:
    study = _json(home, "study", "-e", "sim", "-s", SYMBOL, "-t", "4h")
    assert isinstance(study, dict)
    table = report["figures"]["verdicts"]["data"][0]
    header, cells = table["header"]["values"], table["cells"]["values"]
    got = {c: cells[header.index(c)] for c in ("claim", "verdict", "events")}
    rows = study["verdicts"]
    assert got["claim"] == [r["claim"] for r in rows]
    assert got["verdict"] == [r["verdict"] for r in rows]
    assert got["events"] == [f"{r['events']:,}" for r in rows]


def test_every_part_is_drawn_and_the_heatmap_says_estimated(report: dict) -> None:
    figs = report["figures"]
    assert report["summary"]["missing"] == {}
    venues = {t["name"] for t in figs["venues"]["data"]}
    assert {"sim KSM/USDT:USDT", "bybit KSM/USDT:USDT"} <= venues
    heat = figs["heatmap"]
    assert "ESTIMATED" in heat["layout"]["title"]["text"]
    z = array(heat["data"][0]["z"])
    assert z.ndim == 2 and np.nanmax(z) > 0
    assert figs["equity"]["data"][0]["name"] == "equity"


def test_one_venue_says_why_the_venues_chart_is_empty(tmp_path: Path) -> None:
    from oiradar.model import Source, Timeframe
    from oiradar.sim import simulate
    from oiradar.store import Catalog

    res = simulate("planted", days=90, seed=1, timeframe=Timeframe.H4)
    Catalog(tmp_path / "h").write_bars(res.key(), res.bars, Source.SIM)
    out = tmp_path / "r.html"
    got = run_cli(["report", "-e", "sim", "-s", SYMBOL, "--out", str(out), "--no-study"],
                  tmp_path / "h")  # fmt: skip
    assert got.code == 0, got.output
    assert "venues not drawn: one venue only" in got.stderr
    data = read_report(out)
    assert "one venue only" in json.dumps(data["figures"]["venues"]["layout"])
    assert "not run (--no-study)" in json.dumps(data["figures"]["verdicts"]["layout"])


@pytest.mark.parametrize(("args", "fragments"), [
    (["-e", "sim", "-s", "NOPE/USDT:USDT"], ["no series sim NOPE/USDT:USDT 4h"]),
    (["-e", "sim", "-s", SYMBOL, "--out", "{tmp}"], ["is a folder"]),
    (["-e", "sim", "-s", SYMBOL, "--out", "{tmp}/missing/r.html"], ["does not exist"]),
    (["-e", "sim", "-s", SYMBOL, "--since", "2031-01-01"], ["no bar from --since on"]),
    (["-e", "sim", "-s", SYMBOL, "-t", "7m"], ["7m"]),
    (["-e", "sim", "-s", SYMBOL, "--side", "up"], ["--side"]),
])  # fmt: skip
def test_bad_input_is_refused(home: Path, tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_refused(run_cli(["report", *args, "--no-study"], home), fragments)
    assert not list(tmp_path.rglob("*.html"))
