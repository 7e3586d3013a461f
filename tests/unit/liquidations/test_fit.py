"""The walk-forward fit of the map's free parameters: expected top-quartile hits, the fit never
sees the period it is scored on, the verdict, and recovery of a known leverage mix on the
simulator."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from oiradar.errors import InputError
from oiradar.liquidations.fit import (
    Candidate,
    PrefixModel,
    PriceTarget,
    SearchSpace,
    TimeTarget,
    _boot_totals,
    expected_top,
    fit,
    fold_edges,
    mix_grid,
    turnover_grid,
    verdict,
    walk_forward_on,
)
from oiradar.liquidations.heatmap import MapSpec
from oiradar.liquidations.levels import LevelRun, PriceGrid, Turnover, level_inputs, parse_mix
from oiradar.liquidations.score import top_quartile
from oiradar.model import DAY_MS
from oiradar.stats import Interval

from .helpers import random_bars

SPEC = MapSpec(exchange="binanceusdm", symbol="BTC/USDT:USDT", mix=parse_mix("default"), bins=60)
SMALL = SearchSpace(
    [parse_mix(m) for m in ("default", "clustered10x", "lognormal:5:0.7", "lognormal:50:0.7")],
    [Turnover(), Turnover(half_life=10.0, churn=0.2)],
)


@pytest.mark.parametrize("x", [[0, 5, 1, 9, 0, 0, 0, 2.0], [0.0] * 7, [3, 3, 1, 1, 1, 0, 3, 2.0]])
def test_expected_top_is_the_mean_over_random_tie_breaks(x):
    x = np.array(x)
    p, chance = expected_top(x)
    rng = np.random.default_rng(0)
    mean = np.mean([top_quartile(x, rng) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(p, mean, atol=0.03)
    assert p.sum() == pytest.approx(max(1, round(len(x) / 4)))
    assert chance == pytest.approx(p.sum() / len(x))


def test_price_target_ranks_the_bins_of_the_bar_like_price_hits():
    """The case of test_score: grid 90..110 in 20 bins; the map after bar 0 holds all its long
    mass at 95..96; bar 1 trades 92..100 (9 bins, top 2). A liquidation at 95.5 is a sure hit, one
    at 93.5 is tied with 7 empty bins for the one place left: 1/8."""
    grid = PriceGrid(90.0, 110.0, 20)
    heat = np.zeros((2, 20), np.float32)
    heat[0, 5] = 1e6
    z, e = np.zeros(2), np.zeros(0)
    run = LevelRun(ts=np.array([0, 3_600_000]), grid=grid, row_bar=np.arange(2), heat_long=heat,
                   heat_short=np.zeros_like(heat), liq_long=z, liq_short=z,
                   liq_bin_long=np.zeros(20), liq_bin_short=np.zeros(20), open_long_total=z,
                   open_short_total=z, open_side=np.zeros(0, np.int8), open_price=e, open_qty=e,
                   open_lev=np.zeros(0, np.int64), open_born=np.zeros(0, np.int64),
                   leverage=np.ones(1))  # fmt: skip
    liqs = pl.DataFrame({"ts": [10, 3_600_005, 3_600_009], "side": ["long"] * 3,
                         "price": [95.5, 95.5, 93.5], "quote_qty": [1.0, 100.0, 300.0]})  # fmt: skip
    target = PriceTarget.of(liqs, run.ts, 3_600_000)
    inp = level_inputs(pl.DataFrame({"ts": run.ts, "open": [100.0, 100.0], "high": [101.0, 100.0],
                                     "low": [99.0, 92.0], "close": [100.0, 95.0],
                                     "oi": [1.0, 1.0]}))  # fmt: skip
    got = target.model(run, inp, 0, 2)
    assert got.w.tolist() == [0.0, 400.0]  # the event of bar 0 has no map before it
    assert got.hit[1] == pytest.approx(100 + 300 / 8)
    assert got.chance[1] == pytest.approx(400 * 2 / 9)


def test_verdict_words():
    assert verdict(Interval(0.05, 0.01, 0.09)) == "beats"
    assert verdict(Interval(-0.05, -0.09, -0.01)) == "loses"
    assert verdict(Interval(0.0, -0.02, 0.03)) == "ties"
    assert verdict(Interval(0.0, math.nan, math.nan)) == "n/a"


def test_bootstrap_resamples_are_as_long_as_the_data():
    x = np.ones((10, 2))
    tot = _boot_totals(x, 3, 50, seed=1)
    assert tot.shape == (50, 2)
    np.testing.assert_array_equal(tot, 10.0)


def test_fold_edges_cut_equal_blocks_and_refuse_too_many_folds():
    assert fold_edges(0, 12, 2) == [0, 4, 8, 12]
    with pytest.raises(InputError, match="fewer --folds"):
        fold_edges(0, 9, 5)
    with pytest.raises(InputError, match="--folds"):
        fold_edges(0, 100, 0)


# ---------------------------------------------------------------- never peeks
def _market(n: int = 240, seed: int = 3):
    """Random bars; realized liquidations that follow each side's adverse move, with noise."""
    frame = random_bars(n, seed, nan_oi=False)
    inp = level_inputs(frame)
    rng = np.random.default_rng(seed)
    long_ = 1e6 * (inp.open - inp.low) / inp.open * rng.lognormal(0, 0.5, n)
    short = 1e6 * (inp.high - inp.open) / inp.open * rng.lognormal(0, 0.5, n)
    return frame, (long_, short)


def _walk(frame, realized, folds=4):
    inp = level_inputs(frame)
    return walk_forward_on(TimeTarget(realized), inp, SPEC, DAY_MS, folds=folds, space=SMALL,
                           n_boot=50)  # fmt: skip


def _scramble_after(frame, realized, cut: int, seed: int):
    """Bars and realized values from bar ``cut`` on replaced by others (same shape)."""
    other, (ol, os_) = _market(frame.height, seed)
    scale = float(frame["close"][cut - 1]) / float(other["close"][cut - 1])
    px = ("open", "high", "low", "close")
    tail = other.slice(cut).with_columns(pl.col(c) * scale for c in px)
    tail = tail.with_columns(pl.col("oi") * 3.0)  # a very different OI path
    mixed = pl.concat([frame.head(cut), tail])
    return mixed, tuple(np.r_[r[:cut], o[cut:] * 5] for r, o in zip(realized, (ol, os_), strict=True))


@pytest.mark.parametrize("seed", [11, 12])
def test_walk_forward_fits_only_on_the_bars_before_each_fold(seed):
    """Changing every bar and realized value from the start of fold ``j`` on leaves the parameters
    fitted for folds 1 .. j, and the out-of-sample scores of folds 1 .. j-1, unchanged."""
    frame, realized = _market()
    base = _walk(frame, realized)
    edges = fold_edges(0, frame.height, 4)
    for j in (2, 3, 4):
        mixed, changed = _scramble_after(frame, realized, edges[j], seed)
        got = _walk(mixed, changed)
        keep = ["mix", "half_life_bars", "churn", "fit_score"]
        assert got.folds.head(j).select(keep).equals(base.folds.head(j).select(keep)), j
        assert got.folds.head(j - 1)["map"].to_list() == base.folds.head(j - 1)["map"].to_list()
        assert got.folds["fit_to"].to_list() == base.folds["fit_to"].to_list()
        assert got.folds["map"][j - 1] != base.folds["map"][j - 1]  # the change did reach fold j


def test_the_fit_uses_the_prefix_only():
    """A model of the first ``n`` bars sees their inputs alone: the grid comes from them."""
    frame, _ = _market()
    inp = level_inputs(frame)
    m = PrefixModel(SPEC, inp, 100)
    assert len(m.inp.ts) == 100
    assert m.grid.hi == pytest.approx(float(np.nanmax(inp.high[:100])) * 1.3)


def test_walk_forward_scores_beside_baseline_and_chance():
    frame, realized = _market()
    wf = _walk(frame, realized)
    assert set(wf.scores) == {"map", "unfitted", "baseline", "chance"}
    for iv in wf.scores.values():
        assert iv.low <= iv.estimate <= iv.high
    assert wf.scores["chance"].estimate == pytest.approx(0.25, abs=0.01)
    # the realized values follow the adverse move: the no-OI baseline must rank them well
    assert wf.scores["baseline"].estimate > 0.35 > wf.scores["chance"].high
    assert wf.verdict_baseline in {"beats", "ties", "loses"}
    assert wf.folds.height == 4 and wf.scored_bars == wf.realized_bars == 192  # blocks 1 .. 4 of 48 bars


# ---------------------------------------------------------------- recovery on the simulator
@pytest.fixture(scope="module", params=[(20.0, 1), (50.0, 2)], ids=["20x", "50x"])
def known_mix(request):
    """A simulated market whose every position opens at one known leverage (no notional cap,
    no leverage tilt), and the in-sample fit of the map on its liquidations (by price)."""
    from oiradar.liquidations.evaluate import sim_spec
    from oiradar.sim import simulate

    lev, seed = request.param
    # one leverage leaves the simulator's (unused, tilt 0) high/low-leverage tables empty: 0 / 0
    with np.errstate(invalid="ignore"):
        sim = simulate("ksm", days=20, seed=seed, leverages=(lev,), leverage_weights=(1.0,),
                       long_tilt_scale=0.0, leverage_brackets=((math.inf, 125.0),))  # fmt: skip
    spec = sim_spec(sim, "default", 400)
    inp = level_inputs(sim.bars)
    target = PriceTarget.of(sim.liquidations, inp.ts, sim.timeframe.ms)
    space = SearchSpace(mix_grid(spec.mix), turnover_grid(sim.timeframe.ms))
    got = fit(target, PrefixModel(spec, inp, len(inp.ts)), [target.span()], space,
              Candidate(spec.mix))  # fmt: skip
    return lev, got


def test_the_fit_improves_on_the_default_and_recovers_the_leverage(known_mix):
    """The simulator's default mix (5x .. 100x) is wrong for a market opened at one leverage: the
    fitted parameters score higher in sample, and the fitted mix centres on the true leverage
    (its notional-weighted geometric mean within a factor 1.5). On other seeds the recovery holds
    in most runs, not all (docs/liquidations.md)."""
    lev, got = known_mix
    assert got.score > got.start_score
    w, lv = np.array(got.best.mix.weight), np.array(got.best.mix.leverage)
    centre = math.exp(float((w * np.log(lv)).sum()))
    assert lev / 1.5 <= centre <= lev * 1.5, (got.best.mix.name, centre)
