"""The pooled study: totals over the single-series studies, a two-way (series x calendar block)
bootstrap that counts one move seen on ten venues once, and the events and symbol-years needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from oiradar.errors import InputError
from oiradar.evidence.claims import SEED_CLAIMS, Claim, Verdict, control_fdr
from oiradar.evidence.pooled import (
    YEAR_MS,
    judge_pooled,
    pool,
    pooled_verdict_table,
    series_part,
)
from oiradar.evidence.study import StudyArrays, StudyConfig, run_study
from oiradar.model import Side
from oiradar.stats import multinomial_weights, two_way_interval, z_test_greater

H4 = 4 * 3_600_000
BLOCK = 24 * H4  # the study's default block (2 x H bars) at 4h
CFG = StudyConfig(reps=400, seed=3)
RATE_70 = SEED_CLAIMS[0]  # divergence: reversal rate > 0.7 (matched baseline)
EDGE = Claim(name="edge", text="t", signal="divergence", metric="lift", value=0.0,
             baseline="near_high")  # fmt: skip


def _walk(seed: int, n: int = 3000, every: int = 0, p: float = 0.6) -> StudyArrays:
    """A random walk on a 4h grid. With ``every``: an event each ``every`` bars whose next bar
    jumps 3 ATR down (a reversal, with probability ``p``) or up: its outcome is Bernoulli(p)."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0, 0.002 if every else 0.01, n)
    events = np.zeros(n, dtype=bool)
    if every:
        at = np.arange(20, n - 30, every)
        events[at] = True
        ret[at + 1] = np.where(rng.random(at.size) < p, -0.03, 0.03)
    else:
        events = rng.random(n) < 0.03
    close = 100 * np.exp(np.cumsum(ret))
    return StudyArrays(close=close, high=close * 1.001, low=close * 0.999, atr=close * 0.01,
                       events=events, near_high=rng.random(n) < 0.2,
                       ts=np.arange(n, dtype=np.int64) * H4)  # fmt: skip


def _pool(arrays: list[StudyArrays], cfg: StudyConfig = CFG):
    parts = [series_part(f"v{i}", a, Side.SHORT, cfg, BLOCK) for i, a in enumerate(arrays)]
    return pool(parts, "divergence", Side.SHORT, cfg, BLOCK)


def test_point_estimates_are_totals_of_the_single_series_studies():
    """Oracle: plain Python sums over each series' own study."""
    arrays = [_walk(s, n=2000 + 300 * s) for s in range(4)]
    single = [run_study(a, Side.SHORT, CFG) for a in arrays]
    res = _pool(arrays)
    assert [p.result.rate for p in res.parts] == [r.rate for r in single]
    k = sum(r.rate.wins for r in single)
    n = sum(r.n_counted for r in single)
    assert (res.rate.wins, res.n_counted) == (k, n)
    assert res.rate.rate == pytest.approx(k / n)
    assert res.n_events == sum(r.n_events for r in single)
    assert (res.wins, res.losses, res.timeouts) == tuple(
        sum(getattr(r, f) for r in single) for f in ("wins", "losses", "timeouts")
    )
    for b in ("all", "near_high"):
        kb = sum(r.baselines[b].wins for r in single)
        nb = sum(r.baselines[b].n for r in single)
        assert (res.baselines[b].wins, res.baselines[b].n) == (kb, nb)
        assert res.baselines[b].rate == pytest.approx(kb / nb)
        assert res.lift[b].estimate == pytest.approx(k / n - kb / nb)
    # matched: each series' own matched rate, weighted by its counted events
    matched = sum(r.baselines["matched"].rate * r.n_counted for r in single) / n
    assert res.baselines["matched"].rate == pytest.approx(matched)
    fwd = sum(r.forward[12].estimate * r.n_events for r in single) / res.n_events
    assert res.forward[12].estimate == pytest.approx(fwd)
    years = sum((a.ts[-1] - a.ts[0] + H4) / YEAR_MS for a in arrays)
    assert res.years == pytest.approx(years)


def test_ten_venues_with_the_same_events_are_as_wide_as_one():
    """The property the pooling must have: one move seen on ten venues is one event in time."""
    one = _pool([_walk(1, every=25)])
    ten = _pool([_walk(1, every=25) for _ in range(10)])
    assert ten.n_counted == 10 * one.n_counted
    assert ten.rate.interval == one.rate.interval  # the same blocks drawn: the same interval
    assert ten.lift["near_high"] == one.lift["near_high"]
    assert ten.deff == pytest.approx(10 * one.deff)
    assert ten.effective_events == pytest.approx(one.effective_events, rel=0.02)
    # what pooling them as independent events would claim: sqrt(10) narrower
    naive = 2 * 1.96 * math.sqrt(ten.rate.rate * (1 - ten.rate.rate) / ten.n_counted)
    width = ten.rate.interval.high - ten.rate.interval.low
    assert width > 2.5 * naive


def test_independent_series_narrow_the_interval():
    one = _pool([_walk(1, every=25)])
    ten = _pool([_walk(s, every=25) for s in range(1, 11)])
    w1 = one.rate.interval.high - one.rate.interval.low
    w10 = ten.rate.interval.high - ten.rate.interval.low
    assert 0.2 < w10 / w1 < 0.5  # about 1 / sqrt(10)
    assert 0.6 < ten.deff < 1.6


def test_the_interval_covers_a_known_rate_about_95_percent_of_the_time():
    """Bernoulli(0.6) outcomes on 8 independent series: the 95 % interval covers 0.6 in about
    95 % of 120 repetitions (the pigeonhole interval without the two-way correction: 99.5 %)."""
    cfg = StudyConfig(reps=300, seed=0)
    hits = 0
    reps = 120
    for rep in range(reps):
        res = _pool([_walk(1000 * rep + s, n=1200, every=25) for s in range(8)], cfg)
        iv = res.rate.interval
        hits += iv.low <= 0.6 <= iv.high
    assert 0.88 <= hits / reps <= 0.99, hits


def test_series_that_share_their_blocks_widen_the_interval_not_the_count():
    """Half the venues copy one venue's events, half have their own: between the two cases."""
    copies = _pool([_walk(1, every=25) for _ in range(6)])
    own = _pool([_walk(s, every=25) for s in range(1, 7)])
    mixed = _pool([_walk(1, every=25)] * 3 + [_walk(s, every=25) for s in range(2, 5)])
    width = {k: r.rate.interval.high - r.rate.interval.low
             for k, r in (("copies", copies), ("own", own), ("mixed", mixed))}  # fmt: skip
    assert width["own"] < width["mixed"] < width["copies"]
    assert own.deff < mixed.deff < copies.deff


def test_events_needed_and_symbol_years_match_the_closed_form():
    res = _pool([_walk(s, every=40) for s in range(5)])
    j = judge_pooled(RATE_70, res)
    p0, p1 = res.baselines["matched"].rate, 0.7
    za, zb = sps.norm.ppf(0.95), sps.norm.ppf(0.8)
    n = math.ceil(
        ((za * math.sqrt(p0 * (1 - p0)) + zb * math.sqrt(p1 * (1 - p1))) / (p1 - p0)) ** 2
    )
    assert j.needed == n
    per_year = res.n_counted / res.years
    assert res.years_needed(j.needed) == pytest.approx(n * max(1.0, res.deff) / per_year)
    edge = judge_pooled(EDGE, res)  # "lift > 0" is taken to promise 10 points
    b = res.baselines["near_high"].rate
    q0, q1 = b, b + 0.10
    n2 = math.ceil(
        ((za * math.sqrt(q0 * (1 - q0)) + zb * math.sqrt(q1 * (1 - q1))) / (q1 - q0)) ** 2
    )
    assert edge.needed == n2


def test_p_values_are_z_tests_with_the_two_way_variance():
    res = _pool([_walk(s, every=25) for s in range(6)])
    n = res.n_counted
    j = judge_pooled(RATE_70, res)
    se = math.sqrt(max(res.variance["rate"], 0.7 * 0.3 / n))
    assert j.p == pytest.approx(sps.norm.sf((res.rate.rate - 0.7) / se))
    e = judge_pooled(EDGE, res)
    q0 = res.baselines["near_high"].rate
    se = math.sqrt(max(res.variance["lift_near_high"], q0 * (1 - q0) / n))
    assert e.p == pytest.approx(sps.norm.sf(res.lift["near_high"].estimate / se))
    assert res.p_value["near_high"] == pytest.approx(e.p)


def test_copies_of_one_venue_are_not_enough_events():
    """100+ counted events that are 10 copies of ~11 give ~11 effective events: insufficient."""
    cfg = StudyConfig(reps=300, seed=1, min_events=80)
    res = _pool([_walk(2, n=400, every=25) for _ in range(10)], cfg)
    assert res.n_counted >= 100 and res.effective_events < 20
    assert judge_pooled(RATE_70, res).verdict is Verdict.INSUFFICIENT


def test_enough_independent_events_get_a_verdict_and_the_table_has_its_columns():
    res = _pool([_walk(s, n=2500, every=25, p=0.85) for s in range(6)])
    assert res.effective_events >= 80
    judged = control_fdr([judge_pooled(RATE_70, res), judge_pooled(EDGE, res)], 0.05)
    assert judged[0].verdict is Verdict.SUPPORTED  # 0.85 against a claimed 0.70
    table = pooled_verdict_table([(j, res) for j in judged])
    row = table.row(0, named=True)
    assert row["events"] == res.n_counted and row["reversals"] == res.rate.wins
    assert row["series"] == 6 and row["needed"] == judged[0].needed
    assert row["rate_low"] < row["rate"] < row["rate_high"]
    assert row["years_needed"] == pytest.approx(res.years_needed(judged[0].needed))


def test_pooling_needs_times_and_a_block():
    a = _walk(1)
    no_ts = StudyArrays(close=a.close, high=a.high, low=a.low, atr=a.atr, events=a.events)
    with pytest.raises(InputError, match="needs the bars' times"):
        series_part("x", no_ts, Side.SHORT, CFG, BLOCK)
    with pytest.raises(InputError, match="block"):
        series_part("x", a, Side.SHORT, CFG, 0)
    with pytest.raises(InputError, match="nothing to pool"):
        pool([], "divergence", Side.SHORT, CFG, BLOCK)


def test_series_on_different_calendars_pool_on_common_blocks():
    """A series that starts later shares only the blocks it has bars in."""
    early = _walk(1, n=2000)
    late = _walk(2, n=1000)
    late = StudyArrays(close=late.close, high=late.high, low=late.low, atr=late.atr,
                       events=late.events, near_high=late.near_high, ts=late.ts + 1500 * H4)  # fmt: skip
    res = _pool([early, late])
    assert res.n_blocks == len(np.unique(np.r_[early.ts, late.ts] // BLOCK))
    assert res.rate.interval.low < res.rate.rate < res.rate.interval.high


# ---------------------------------------------------------------------- the statistics below it
def test_two_way_variance_is_right_where_the_pigeonhole_is_three_times_too_wide():
    """iid cells: the product weights' variance is about 3x the truth; the corrected one is the
    truth (sigma^2 / (rows x cols))."""
    rng = np.random.default_rng(0)
    rows, cols, reps = 30, 40, 3000
    x = rng.normal(0, 1, (rows, cols))
    w = multinomial_weights(rows, reps, rng)
    v = multinomial_weights(cols, reps, rng)

    def mean(wr, vc):
        return np.einsum("ri,rj,ij->r", wr, vc, x) / np.einsum("ri,rj->r", wr, vc)

    ones_r, ones_c = np.ones_like(w), np.ones_like(v)
    tw = two_way_interval(float(x.mean()), mean(w, ones_c), mean(ones_r, v), mean(w, v))
    truth = 1.0 / (rows * cols)
    assert 0.75 < tw.variance / truth < 1.3
    assert 2.2 < (tw.rows + tw.cols + tw.cells) / truth < 3.8


def test_two_way_variance_follows_a_row_effect_and_a_column_effect():
    rng = np.random.default_rng(1)
    rows, cols, reps = 40, 50, 3000
    x = rng.normal(0, 1, (rows, 1)) + rng.normal(0, 1, (1, cols)) + rng.normal(0, 0.1, (rows, cols))
    w = multinomial_weights(rows, reps, rng)
    v = multinomial_weights(cols, reps, rng)

    def mean(wr, vc):
        return np.einsum("ri,rj,ij->r", wr, vc, x) / np.einsum("ri,rj->r", wr, vc)

    tw = two_way_interval(float(x.mean()), mean(w, np.ones_like(v)), mean(np.ones_like(w), v),
                          mean(w, v))  # fmt: skip
    truth = 1 / rows + 1 / cols  # var of the row effects' mean + the column effects' mean
    assert 0.6 < tw.variance / truth < 1.5


def test_multinomial_weights_and_the_z_test():
    w = multinomial_weights(7, 50, np.random.default_rng(0))
    assert w.shape == (50, 7) and (w.sum(axis=1) == 7).all()
    for est, h0, var in ((0.62, 0.5, 0.003), (0.4, 0.5, 0.01), (0.9, 0.7, 1e-6)):
        assert z_test_greater(est, h0, var) == pytest.approx(
            sps.norm.sf((est - h0) / math.sqrt(var)), rel=1e-9, abs=1e-300
        )
    assert z_test_greater(0.6, 0.5, 0.0) == 0.0 and z_test_greater(0.5, 0.5, 0.0) == 1.0
    assert math.isnan(z_test_greater(math.nan, 0.5, 0.1))
