"""Event study: counts, baselines and lift on paths where the answer is known."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from oiradar.config import TimeoutRule
from oiradar.evidence import outcomes as oc
from oiradar.evidence.claims import SEED_CLAIMS, Claim, Verdict, judge, verdict_table
from oiradar.evidence.study import StudyArrays, StudyConfig, run_study
from oiradar.model import Side


def _walk(seed: int, n: int, planted: np.ndarray | None = None):
    """A random walk; at each planted bar t the next 5 closes fall by 1 % each (a real reversal)."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0, 0.01, n)
    if planted is not None:
        for t in np.flatnonzero(planted):
            ret[t + 1 : t + 6] = -0.012
    close = 100 * np.exp(np.cumsum(ret))
    open_ = np.r_[close[0], close[:-1]]
    wick = rng.uniform(0, 0.004, (2, n))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    atr = np.full(n, np.nan)
    atr[14:] = close[14:] * 0.01  # ~ one daily sigma
    return close, high, low, atr


def _arrays(close, high, low, atr, events, near=None):
    return StudyArrays(close=close, high=high, low=low, atr=atr, events=events, near_high=near)


CFG = StudyConfig(reps=400, seed=1)


def test_planted_reversals_give_positive_lift():
    n = 6000
    planted = np.zeros(n, dtype=bool)
    planted[np.arange(50, n - 30, 40)] = True
    res = run_study(_arrays(*_walk(0, n, planted), planted), Side.SHORT, CFG)
    assert res.n_events == planted.sum()
    assert res.rate.rate > 0.9
    assert 0.35 < res.baselines["all"].rate < 0.6
    assert res.lift["matched"].low > 0.3
    assert res.p_value["matched"] < 1e-10
    assert res.forward[6].low > 0  # a short gains over 6 bars
    assert judge(SEED_CLAIMS[0], res).verdict is Verdict.SUPPORTED


def test_random_events_give_no_lift():
    n = 6000
    rng = np.random.default_rng(9)
    events = rng.random(n) < 0.03
    near = rng.random(n) < 0.3
    res = run_study(_arrays(*_walk(1, n), events, near), Side.SHORT, CFG)
    assert res.lift["near_high"].low < 0 < res.lift["near_high"].high
    lift = res.lift["matched"]
    assert lift.low < 0 < lift.high
    assert res.p_value["matched"] > 0.05
    assert judge(SEED_CLAIMS[1], res).verdict is Verdict.NOT_SUPPORTED
    assert judge(SEED_CLAIMS[0], res).verdict is Verdict.NOT_SUPPORTED


def _scored_oracle(out, close, rule, horizon=12, sign=-1):
    """``(counted, reversal)`` per bar, written out for each timeout rule."""
    valid = out != oc.INVALID
    at_h = np.full(out.size, np.nan)
    at_h[:-horizon] = sign * (close[horizon:] / close[:-horizon] - 1)
    win, timeout = out == oc.WIN, out == oc.TIMEOUT
    if rule is TimeoutRule.FAIL:
        return valid, win
    if rule is TimeoutRule.EXCLUDE:
        return valid & ~timeout, win
    return valid, win | (timeout & (np.nan_to_num(at_h) > 0))


@pytest.mark.parametrize("rule", list(TimeoutRule))
def test_counts_and_baselines_equal_direct_computation(rule):
    n = 3000
    close, high, low, atr = _walk(2, n)
    rng = np.random.default_rng(4)
    events = rng.random(n) < 0.05
    near = rng.random(n) < 0.3
    cfg = replace(CFG, timeouts=rule)
    res = run_study(_arrays(close, high, low, atr, events, near), Side.SHORT, cfg)
    out, _ = oc.triple_barrier(close, high, low, atr, -1, 2.0, 12)
    valid = out != oc.INVALID
    counted, win = _scored_oracle(out, close, rule)
    kept = oc.dedupe_events(events, 12) & valid
    assert res.n_signals == events.sum()
    assert res.n_events == kept.sum()
    # barrier outcomes, whatever the rule
    assert res.wins == (out[kept] == oc.WIN).sum()
    assert res.timeouts == (out[kept] == oc.TIMEOUT).sum() > 0
    assert res.wins + res.losses + res.timeouts == res.n_events
    # the rate under the rule
    assert res.rate.n == res.n_counted == (kept & counted).sum()
    assert res.rate.wins == (kept & counted & win).sum()
    assert res.baselines["all"].rate == pytest.approx(win[counted].mean())
    assert res.baselines["all"].n == counted.sum()
    assert res.baseline_outcomes["all"].total == valid.sum()
    assert res.baseline_outcomes["all"].timeouts == (out[valid] == oc.TIMEOUT).sum()
    nh = near & counted
    assert res.baselines["near_high"].rate == pytest.approx(win[nh].mean())
    # matched: rate of each ATR-% quintile weighted by the counted events in it (loop oracle)
    pct = atr / np.where(np.isfinite(close), close, 1)
    edges = np.quantile(pct[valid], [0.2, 0.4, 0.6, 0.8])
    q = np.searchsorted(edges, pct, side="right")
    ev = kept & counted
    want = sum(
        (ev & (q == j)).sum() / ev.sum() * win[counted & (q == j)].mean()
        for j in range(5)
        if (ev & (q == j)).any()
    )
    assert res.baselines["matched"].rate == pytest.approx(want)
    # forward returns are over every event, timeouts included
    fwd6 = (close[6:] / close[:-6] - 1)[np.flatnonzero(kept)[np.flatnonzero(kept) < n - 6]]
    assert res.forward[6].estimate == pytest.approx(-fwd6.mean())


def test_timeout_rules_on_a_hand_made_path():
    """Three short-side events with known outcomes: a win, a loss, and a timeout that drifted down
    (in the short's favour). fail: 1/3; exclude: 1/2; sign: 2/3."""
    n, h = 200, 5
    close = np.full(n, 100.0)
    atr = np.full(n, 1.0)
    events = np.zeros(n, dtype=bool)
    close[21:26] = [99, 98, 97.5, 97.5, 97.5]  # event at 20: low barrier (98) first: a win
    close[61:66] = [101, 102, 102.5, 102.5, 102.5]  # event at 60: high barrier first: a loss
    close[101:106] = [99.9, 99.8, 99.7, 99.6, 99.5]  # event at 100: a timeout, down 0.5 %
    events[[20, 60, 100]] = True
    high, low = close.copy(), close.copy()
    got = {}
    for rule in TimeoutRule:
        cfg = StudyConfig(horizon=h, reps=100, timeouts=rule)
        res = run_study(_arrays(close, high, low, atr, events), Side.SHORT, cfg)
        assert (res.wins, res.losses, res.timeouts) == (1, 1, 1)
        got[rule] = (res.rate.wins, res.rate.n)
    assert got == {TimeoutRule.FAIL: (1, 3), TimeoutRule.EXCLUDE: (1, 2), TimeoutRule.SIGN: (2, 3)}


def test_a_bad_timeout_rule_is_refused():
    from oiradar.errors import InputError

    with pytest.raises(InputError, match="timeouts must be one of fail, exclude, sign"):
        StudyConfig(timeouts="never")  # type: ignore[arg-type]
    assert StudyConfig(timeouts="sign").timeouts is TimeoutRule.SIGN  # type: ignore[arg-type]
    assert StudyConfig().timeouts is TimeoutRule.EXCLUDE  # the documented default (0605)


def test_matched_baseline_differs_when_events_sit_in_high_volatility():
    # When timeouts count as failures, the volatility regime shifts the base rate (wider ATR
    # relative to moves -> more timeouts); events placed only in one regime must be compared with
    # that regime, which 'matched' does.
    n = 4000
    close, high, low, atr = _walk(3, n)
    atr[2000:] *= 3  # barriers 3x wider in the second half: mostly timeouts
    events = np.zeros(n, dtype=bool)
    events[2100 : n - 20 : 15] = True
    fail = replace(CFG, timeouts=TimeoutRule.FAIL)
    res = run_study(_arrays(close, high, low, atr, events), Side.SHORT, fail)
    assert res.baselines["matched"].rate < res.baselines["all"].rate - 0.1
    assert abs(res.lift["matched"].estimate) < abs(res.lift["all"].estimate)
    # Leaving timeouts out (the default) removes most of that: the rate is the direction of the
    # moves that came, which the barrier width does not bias.
    res = run_study(_arrays(close, high, low, atr, events), Side.SHORT, CFG)
    assert abs(res.baselines["matched"].rate - res.baselines["all"].rate) < 0.05


def test_few_events_are_insufficient_data():
    n = 500
    planted = np.zeros(n, dtype=bool)
    planted[[50, 150, 250]] = True
    res = run_study(_arrays(*_walk(0, n, planted), planted), Side.SHORT, CFG)
    assert res.n_events == 3 and not res.sufficient
    j = judge(SEED_CLAIMS[0], res)
    assert j.verdict is Verdict.INSUFFICIENT
    table = verdict_table([j])
    assert table.columns == ["claim", "as stated", "measured", "baseline", "p", "q", "events",
                             "needed", "verdict"]  # fmt: skip
    assert table["verdict"][0] == "insufficient data"
    # three events: no interval that looks precise, but what it would take
    assert j.measured == f"n too small (3 events; about {j.needed} needed)"
    assert "[" not in j.measured


def test_no_events_at_all():
    n = 300
    res = run_study(_arrays(*_walk(0, n), np.zeros(n, dtype=bool)), Side.SHORT, CFG)
    assert res.n_events == 0 and math.isnan(res.rate.rate)
    assert res.lift["matched"] is None
    assert judge(SEED_CLAIMS[1], res).verdict is Verdict.INSUFFICIENT


def test_long_side_mirrors_short():
    n = 3000
    close, high, low, atr = _walk(5, n)
    events = np.random.default_rng(1).random(n) < 0.05
    s = run_study(_arrays(close, high, low, atr, events), Side.SHORT, CFG)
    lg = run_study(_arrays(close, high, low, atr, events), Side.LONG, CFG)
    assert s.n_events == lg.n_events
    assert s.forward[3].estimate == pytest.approx(-lg.forward[3].estimate)
    assert s.mfe == pytest.approx(lg.mae)


def test_bad_claims_are_config_errors():
    from oiradar.errors import ConfigError

    with pytest.raises(ConfigError, match="metric"):
        Claim(name="x", text="t", signal="divergence", metric="sharpe")
    with pytest.raises(ConfigError, match="baseline"):
        Claim(name="x", text="t", signal="divergence", baseline="moon")
    with pytest.raises(ConfigError, match="side must be 'short' or 'long'"):
        Claim(name="x", text="t", signal="divergence", side="up")  # type: ignore[arg-type]
    # the configuration gives the side as text: it is read as a Side
    assert Claim(name="x", text="t", signal="divergence", side="long").side is Side.LONG  # type: ignore[arg-type]


def test_mismatched_array_lengths_name_the_column():
    from oiradar.errors import InputError

    close, high, low, atr = _walk(0, 100)
    with pytest.raises(InputError, match="'atr'"):
        StudyArrays(close=close, high=high, low=low, atr=atr[:50], events=np.zeros(100, bool))
