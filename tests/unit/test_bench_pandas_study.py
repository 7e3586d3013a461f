"""``bench/pandas_study.py``, the pandas peer ``bench_universe.py`` times against the pooled study,
does the same work: on a small simulated universe its per-claim counts equal ``pooled_study``'s
and its rates, baselines, lifts and intervals equal them to 1e-9, pooled and per series."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bench.pandas_study import pooled_rate_claims

from oiradar.app.session import Session
from oiradar.app.sim import UniverseOptions, simulate_universe
from oiradar.app.study import StudyOptions, pooled_study
from oiradar.config import Settings
from oiradar.model import SeriesKey, Timeframe

REPS = 200
COUNTS = ("series", "blocks", "signals", "events", "wins", "losses", "timeouts", "counted",
          "reversals", "base_all_n", "base_near_high_n")  # fmt: skip
SERIES_COUNTS = ("signals", "events", "wins", "losses", "timeouts", "counted", "reversals")
# user claims beside the seed's: long sides (long_side on) and a signal no seed claim names
USER_CLAIMS = [
    {"name": "t.div_long", "text": "t", "signal": "divergence", "side": "long"},
    {"name": "t.entry_long", "text": "t", "signal": "entry", "side": "long", "metric": "lift"},
    {"name": "t.extreme", "text": "t", "signal": "oi_extreme", "side": "short", "metric": "lift",
     "baseline": "all"},
]  # fmt: skip


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    # 40 days: the 30-day OI z-score exists for 10 of them, so trigger and oi_extreme fire too
    home = tmp_path_factory.mktemp("universe")
    simulate_universe(Session(Settings(), home), UniverseOptions(symbols=3, days=40, seed=7))
    return home


def _settings(rule: str | None) -> Settings:
    if rule is None:
        return Settings()
    return Settings(signals={"long_side": True},
                    evidence={"timeouts": rule, "claims": USER_CLAIMS})  # fmt: skip


def _same(got, want) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=0, abs_tol=1e-9)


def _values(row: dict) -> list[str]:
    """The float fields the peer gives: rates, baselines, lifts (with intervals), returns."""
    return [k for k in row if k.startswith(("rate", "base_", "lift_", "fwd_")) and not
            k.endswith("_n")]  # fmt: skip


@pytest.mark.parametrize("rule", [None, "exclude", "fail", "sign"])
def test_pandas_peer_equals_pooled_study(home, rule):
    session = Session(_settings(rule), home)
    report = pooled_study(session, StudyOptions(timeframe=Timeframe.M5, exchange="sim", reps=REPS))
    keys = [SeriesKey(exchange="sim", symbol=s["symbol"], timeframe=Timeframe.M5)
            for s in report.series if (s["signal"], s["side"]) == ("divergence", "short")]  # fmt: skip
    assert len(keys) == 3
    peer = pooled_rate_claims(session.catalog, keys, session.settings, reps=REPS)

    # the claims: every rate claim but the derived signals, which it names as left out
    pooled = {(r["signal"], r["side"]): r for r in report.pooled}
    mine = {(r["signal"], r["side"]): r for r in peer.claims}
    assert set(pooled) - set(mine) == {("mtf_entry", "short"), ("liq_fade", "short")}
    assert {"mtf_entry/short", "liq_fade/short"} <= peer.left_out.keys()
    assert peer.block_ms == report.block_ms
    assert peer.rows == 3 * 40 * 288
    if rule is not None:
        assert {("divergence", "long"), ("entry", "long"), ("oi_extreme", "short")} <= mine.keys()

    for w, got in mine.items():
        want = pooled[w]
        for c in COUNTS:
            assert got[c] == want[c], (w, c)
        for c in _values(got):
            assert _same(got[c], want[c]), (w, c, got[c], want[c])

    theirs = {(r["symbol"], r["signal"], r["side"]): r for r in report.series}
    assert len(peer.series) == 3 * len(mine)
    for got in peer.series:
        want = theirs[(got["symbol"], got["signal"], got["side"])]
        for c in SERIES_COUNTS:
            assert got[c] == want[c], (got["symbol"], got["signal"], c)
        for c in _values(got):
            assert _same(got[c], want[c]), (got["symbol"], got["signal"], c, got[c], want[c])

    # what it checked is not empty: events of every kind, and intervals shown
    assert mine[("trigger", "short")]["events"] > 0
    assert any(r["rate_low"] is not None for r in mine.values())
    assert sum(r["timeouts"] for r in mine.values()) > 0
