"""The score: top-quartile share of realized notional against chance, with bootstrap intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.liquidations.levels import LevelRun, PriceGrid
from oiradar.liquidations.score import price_hits, score_by_time, summarize, top_quartile
from oiradar.model import DAY_MS


def test_top_quartile_picks_the_largest_and_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    mask = top_quartile(np.array([0, 5, 1, 9, 0, 0, 0, 2.0]), rng)
    assert list(np.flatnonzero(mask)) == [1, 3]
    picks = [np.flatnonzero(top_quartile(np.zeros(4), rng))[0] for _ in range(200)]
    assert set(picks) == {0, 1, 2, 3}


def _run(heat_long: np.ndarray, grid: PriceGrid, ts: np.ndarray) -> LevelRun:
    n = len(ts)
    z = np.zeros(n)
    return LevelRun(
        ts=ts, grid=grid, row_bar=np.arange(n), heat_long=heat_long.astype(np.float32),
        heat_short=np.zeros_like(heat_long, np.float32), liq_long=z, liq_short=z,
        liq_bin_long=np.zeros(grid.n), liq_bin_short=np.zeros(grid.n), open_long_total=z,
        open_short_total=z, open_side=np.zeros(0, np.int8), open_price=np.zeros(0),
        open_qty=np.zeros(0), open_lev=np.zeros(0, np.int64), open_born=np.zeros(0, np.int64), leverage=np.ones(1),
    )  # fmt: skip


def test_price_hits_uses_the_previous_bar_and_the_traded_range():
    """Grid 90..110 in 20 bins of 1. Bar 1 trades 92..100; the map after bar 0 puts all its mass
    at 95..96, so a realized long liquidation at 95.5 in bar 1 is a hit; one at 93.5 is not. The
    range spans 9 bins, top quartile = 2 of 9 (chance 2/9). A liquidation in bar 0 has no prior map."""
    grid = PriceGrid(90.0, 110.0, 20)
    ts = np.array([0, 3_600_000], np.int64)
    heat = np.zeros((2, 20))
    heat[0, 5] = 1e6
    run = _run(heat, grid, ts)
    liqs = pl.DataFrame({
        "ts": [10, 3_600_000 + 5, 3_600_000 + 9], "side": ["long"] * 3, "price": [95.5, 95.5, 93.5],
        "quote_qty": [1.0, 100.0, 300.0],
    })  # fmt: skip
    hits = price_hits(run, np.array([101.0, 100.0]), np.array([99.0, 92.0]), liqs, 3_600_000)
    assert hits["hit"].to_list() == [True, False]
    assert hits["chance"].to_list() == pytest.approx([2 / 9, 2 / 9])
    out = summarize(hits, n_boot=200).filter(pl.col("side") == "long").row(0, named=True)
    assert out["score"] == pytest.approx(100 / 400)
    assert out["chance"] == pytest.approx(2 / 9)
    assert out["lift"] == pytest.approx(0.25 - 2 / 9)
    assert out["events"] == 2


def test_summary_intervals_bracket_the_estimate_and_a_perfect_model_scores_one():
    rng = np.random.default_rng(1)
    n = 400
    hits = pl.DataFrame({
        "ts": np.sort(rng.integers(0, 30 * DAY_MS, n)), "side": rng.choice(["long", "short"], n),
        "quote_qty": rng.uniform(1, 10, n), "hit": rng.random(n) < 0.5, "chance": np.full(n, 0.25),
    })  # fmt: skip
    out = summarize(hits, n_boot=500)
    for row in out.iter_rows(named=True):
        assert row["score_lo"] <= row["score"] <= row["score_hi"]
        assert row["lift_lo"] <= row["lift"] <= row["lift_hi"]
    perfect = summarize(hits.with_columns(pl.lit(True).alias("hit")), n_boot=100)
    assert perfect["score"].to_list() == [1.0, 1.0, 1.0]


def test_score_by_time_rewards_an_estimate_that_ranks_the_days():
    rng = np.random.default_rng(2)
    n = 200
    realized = rng.lognormal(0, 1, n)
    ts = np.arange(n, dtype=np.int64) * DAY_MS
    good = score_by_time(
        {"long": realized, "short": realized}, {"long": realized, "short": realized}, ts, n_boot=100
    )
    noise = score_by_time(
        {"long": rng.random(n), "short": rng.random(n)},
        {"long": realized, "short": realized},
        ts,
        n_boot=100,
    )
    g = good.filter(pl.col("side") == "long").row(0, named=True)
    b = noise.filter(pl.col("side") == "long").row(0, named=True)
    assert g["rank_corr"] == pytest.approx(1.0)
    assert g["score"] > 0.5 > b["score"]
    assert g["chance"] == pytest.approx(0.25)
