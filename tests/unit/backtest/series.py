"""Helpers shared by the backtest tests: random bar series with every input the engine takes."""

from __future__ import annotations

import numpy as np

from oiradar.backtest.run import BacktestInputs


def random_inputs(seed: int, n: int, *, p_entry: float = 0.08, vol: float = 0.02,
                  funding_every: int = 3) -> BacktestInputs:  # fmt: skip
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    gap = rng.normal(0, vol / 3, n)
    open_ = np.r_[100.0, close[:-1]] * np.exp(gap)
    high = np.maximum(open_, close) * (1 + rng.exponential(vol / 2, n))
    low = np.minimum(open_, close) * (1 - rng.exponential(vol / 2, n))
    atr = close * vol * rng.uniform(0.5, 1.5, n)
    atr[:2] = np.nan
    oi_z = rng.normal(0.5, 1.5, n)
    oi_z[rng.random(n) < 0.05] = np.nan
    funding = np.zeros(n)
    funding[::funding_every] = rng.normal(0.0001, 0.0005, funding[::funding_every].size)
    return BacktestInputs(
        open=open_, high=high, low=low, close=close, atr=atr,
        entry=rng.random(n) < p_entry, streak=rng.integers(0, 4, n).astype(float),
        oi_z=oi_z, funding=funding, ts=np.arange(n, dtype=np.int64) * 3_600_000,
        bar_ms=3_600_000,
    )  # fmt: skip
