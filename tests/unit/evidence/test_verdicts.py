"""Verdicts: events needed, no interval below ten events, Benjamini-Hochberg over the whole table."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from oiradar.evidence.claims import SEED_CLAIMS, Claim, Verdict, control_fdr, judge, verdict_table
from oiradar.evidence.study import StudyArrays, StudyConfig, run_study
from oiradar.model import Side
from oiradar.stats import benjamini_hochberg, binom_sf, events_needed

CFG = StudyConfig(reps=300, seed=1)
RATE_70 = SEED_CLAIMS[0]  # divergence: reversal rate > 0.7 (matched baseline)
EDGE = Claim(name="edge", text="t", signal="divergence", metric="lift", value=0.0, baseline="all")


def _study(n_events: int, n: int = 6000, seed: int = 0):
    """A random walk whose events are followed by a 5-bar fall (a reversal almost every time)."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0, 0.01, n)
    events = np.zeros(n, dtype=bool)
    events[np.linspace(50, n - 40, n_events).astype(int)] = True
    for t in np.flatnonzero(events):
        ret[t + 1 : t + 6] = -0.012
    close = 100 * np.exp(np.cumsum(ret))
    high, low = close * 1.002, close * 0.998
    atr = np.full(n, np.nan)
    atr[14:] = close[14:] * 0.01
    arrays = StudyArrays(close=close, high=high, low=low, atr=atr, events=events)
    return run_study(arrays, Side.SHORT, CFG)


def test_below_ten_events_no_interval_but_the_events_needed():
    res = _study(4)
    assert res.n_counted == 4 and not res.interval_shown
    j = judge(EDGE, res)
    base = res.baselines["all"].rate
    want = events_needed(base + CFG.detect_lift, base, CFG.alpha, CFG.power)
    assert j.needed == want and want is not None and want > 10
    assert j.measured == f"n too small (4 events; about {want} needed)"
    assert j.verdict is Verdict.INSUFFICIENT
    # a rate claim: the claimed rate 0.7 told from the claim's (matched) base rate
    r = judge(RATE_70, res)
    assert r.needed == events_needed(0.7, res.baselines["matched"].rate, 0.05, 0.8)


def test_ten_events_show_the_interval_again():
    res = _study(12)
    assert res.interval_shown
    j = judge(EDGE, res)
    assert j.measured.startswith("lift ") and "[" in j.measured and "(12 events)" in j.measured


def test_insufficient_below_ten_even_when_min_events_is_lower():
    res = _study(6)
    cheap = replace(res, config=replace(CFG, min_events=2))
    assert judge(EDGE, cheap).verdict is Verdict.INSUFFICIENT  # no verdict from 6 events


def test_p_values_are_the_exact_binomial_tests_of_the_claims():
    res = _study(120)
    k, n = res.rate.wins, res.n_counted
    assert judge(RATE_70, res).p == pytest.approx(binom_sf(k, n, 0.7))
    assert judge(EDGE, res).p == pytest.approx(binom_sf(k, n, res.baselines["all"].rate))
    up = replace(EDGE, value=0.1)
    assert judge(up, res).p == pytest.approx(binom_sf(k, n, res.baselines["all"].rate + 0.1))


def test_bh_over_the_whole_table_decides_the_verdict():
    """A claim supported alone (p = 0.02 < 0.05) is not, once nine claims with p = 0.5 share
    its table: BH gives it q = 0.02 x 10 = 0.2."""
    res = _study(120)
    alone = judge(EDGE, res)
    assert alone.verdict is Verdict.SUPPORTED and alone.q == alone.p
    borderline = replace(alone, p=0.02)
    others = [replace(alone, p=0.5, claim=replace(EDGE, name=f"c{i}")) for i in range(9)]
    table = control_fdr([borderline, *others], 0.05)
    _, adj = benjamini_hochberg([0.02] + [0.5] * 9)
    assert [j.q for j in table] == pytest.approx(list(adj))
    assert table[0].q == pytest.approx(0.2)
    assert table[0].verdict is Verdict.NOT_SUPPORTED
    assert control_fdr([borderline], 0.05)[0].verdict is Verdict.SUPPORTED
    frame = verdict_table(table)
    assert frame["q"].to_list() == pytest.approx(list(adj))
    assert frame["p"][0] == pytest.approx(0.02)


def test_no_test_no_support():
    res = _study(0)
    j = judge(EDGE, res)
    assert math.isnan(j.p) and j.verdict is Verdict.INSUFFICIENT
    (adj,) = control_fdr([j], 0.05)
    assert math.isnan(adj.q)
    assert verdict_table([adj])["q"][0] is None
