"""Hand-made bars and a one-tier table for the level-model tests."""

from __future__ import annotations

import numpy as np
import polars as pl

from oiradar.liquidations.tiers import TierTable, table_from_rows


def flat_tiers(mmr: float = 0.005, max_leverage: float = 125.0) -> TierTable:
    rows = [
        {
            "min_notional": 0.0,
            "max_notional": 1e15,
            "mmr": mmr,
            "max_leverage": max_leverage,
            "cum": 0.0,
        }
    ]
    return table_from_rows(
        rows, exchange="test", symbol="X/USDT:USDT", origin="test", notional_unit="quote"
    )


def bars(
    open_, high, low, close, oi, volume=None, taker=None, step_ms: int = 3_600_000
) -> pl.DataFrame:
    n = len(close)
    vol = np.ones(n) if volume is None else np.asarray(volume, float)
    f8 = [np.asarray(x, dtype=np.float64) for x in (open_, high, low, close, oi)]
    open_, high, low, close, oi = f8
    frame = {
        "ts": np.arange(n, dtype=np.int64) * step_ms, "open": open_, "high": high, "low": low,
        "close": close, "oi": oi, "volume": vol, "quote_volume": vol * np.asarray(close, float),
    }  # fmt: skip
    if taker is not None:
        frame["taker_buy_volume"] = vol * np.asarray(taker, float)
    return pl.DataFrame(frame).with_columns(pl.col("oi").cast(pl.Float64))


def random_bars(n: int, seed: int, *, nan_oi: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.01, n))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.01, n))
    oi = 1000 + np.cumsum(rng.normal(0, 20, n))
    if nan_oi and n > 6:
        oi[rng.integers(1, n, 3)] = np.nan
    taker = rng.uniform(0.3, 0.7, n)
    if n > 4:
        taker[2] = np.nan
    return bars(o, h, lo, c, oi, rng.uniform(1, 2, n), taker)
