"""The regime chain: contiguous segments, durations from the specs, transitions as configured."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl

from oiradar.model import Timeframe
from oiradar.sim import simulate
from oiradar.sim.regimes import REGIMES, SPECS, Regime, labels_at, schedule, transition_matrix


def test_transition_rows_are_distributions() -> None:
    m = transition_matrix(0.7)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    d = REGIMES.index(Regime.DISTRIBUTION)
    assert m[d, REGIMES.index(Regime.CASCADE)] == 0.7
    assert np.isclose(m[d, REGIMES.index(Regime.NEUTRAL)], 0.3)


def test_schedule_is_contiguous_and_follows_the_specs() -> None:
    warm, steps = 4 * 1440, 400 * 1440
    seg = schedule(
        np.random.default_rng(0), warm_steps=warm, steps=steps, transitions=transition_matrix(0.6)
    )
    b = seg.bounds
    assert b[0, 0] == 0 and b[0, 1] == warm
    assert np.array_equal(b[1:, 0], b[:-1, 1])  # no gap, no overlap
    assert b[-2, 1] >= warm + steps  # covered, then the sentinel
    for (start, stop), r in zip(b[1:-1], seg.regime[1:-1], strict=True):
        lo, hi = SPECS[REGIMES[r]].hours
        assert lo * 60 <= stop - start <= hi * 60
    # Distribution -> cascade about 60 % of the time.
    names = [REGIMES[r] for r in seg.regime[1:-1]]
    after = [b for a, b in itertools.pairwise(names) if a == Regime.DISTRIBUTION]
    share = np.mean([x == Regime.CASCADE for x in after])
    assert len(after) >= 20 and 0.35 <= share <= 0.85
    assert labels_at(seg, np.array([0, warm, warm + 1]))[0] == REGIMES.index(Regime.NEUTRAL)


def test_distribution_targets_the_seeds_oi_drop() -> None:
    rng = np.random.default_rng(1)
    drops = [SPECS[Regime.DISTRIBUTION].oi_shift(rng, 24.0) for _ in range(1_000)]
    assert np.all((np.expm1(drops) <= -0.15) & (np.expm1(drops) >= -0.22))


def test_funding_follows_demand() -> None:
    """Breakouts (taker buying) pay longs' funding above the interest rate; quiet periods do not."""
    res = simulate("planted", days=120, seed=1, timeframe=Timeframe.H1)
    settled = res.bars.join(res.regimes, on="ts").filter(pl.col("funding_rate").is_not_null())
    mean = dict(settled.group_by("price_regime").agg(pl.col("funding_rate").mean()).iter_rows())
    assert mean["breakout"] > 0.0003
    assert mean["breakout"] > max(mean["accumulation"], mean["neutral"]) + 0.0002
