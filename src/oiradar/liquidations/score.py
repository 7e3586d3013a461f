"""Score the estimated map against **realized** liquidations (kept apart: they are only compared).

By price (liquidation records with a price): a realized liquidation at time ``tau`` falls in bar
``u``; the model's map after the close of bar ``u - 1`` (no look-ahead) ranks the price bins that
bar ``u`` traded through (``[low_u, high_u]``, widened to include the liquidation's own price).
The top quartile of those bins (``k = max(1, round(n / 4))`` of ``n``, ties broken at random) is
the model's guess; the score is the share of realized notional whose bin is in it. Chance gives
``k / n`` (25 % when ``n`` is a multiple of 4): the notional-weighted mean of ``k / n`` is reported
beside it, and the lift is their difference.

By time (records without a price, e.g. daily totals): the model's estimated liquidated notional per
bar ranks the bars; the score is the share of realized notional in the top-quartile bars.

Intervals: percentile bootstrap over blocks of time (days for events; ``block`` bars for series),
so clustered liquidations are not counted as independent.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.liquidations.levels import LevelRun
from oiradar.model import DAY_MS, SIDES, Side

F8 = NDArray[np.float64]
SCORE_SCHEMA = {
    "side": pl.String, "events": pl.Int64, "realized_usd": pl.Float64, "score": pl.Float64,
    "chance": pl.Float64, "lift": pl.Float64, "score_lo": pl.Float64, "score_hi": pl.Float64,
    "lift_lo": pl.Float64, "lift_hi": pl.Float64,
}  # fmt: skip


def top_quartile(mass: F8, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Mask of the ``max(1, round(n/4))`` largest entries, ties broken at random."""
    n = len(mass)
    k = max(1, round(n / 4))
    order = np.lexsort((rng.random(n), -mass))
    mask = np.zeros(n, bool)
    mask[order[:k]] = True
    return mask


def price_hits(
    run: LevelRun, high: F8, low: F8, liqs: pl.DataFrame, bar_ms: int, seed: int = 0
) -> pl.DataFrame:
    """Per realized liquidation (columns ts, side, price, quote_qty): ``hit`` and ``chance``.

    Events in the first bar, outside the bars or outside the price grid are dropped.
    """
    if run.heat_long.shape[0] != len(run.ts):
        raise ValueError("score by price needs a heatmap row per bar (record_every=1)")
    rng = np.random.default_rng(seed)
    ts = liqs["ts"].to_numpy()
    u = np.searchsorted(run.ts, ts, side="right") - 1
    ok = (u >= 1) & (ts < run.ts[np.clip(u, 0, None)] + bar_ms)
    prices = liqs["price"].to_numpy().astype(np.float64)
    pbin = run.grid.bin_of(prices)
    ok &= pbin >= 0
    sides = liqs["side"].to_list()
    qq = liqs["quote_qty"].to_numpy().astype(np.float64)
    rows = []
    for i in (int(x) for x in np.flatnonzero(ok)):
        heat = run.heat_long if sides[i] == Side.LONG else run.heat_short
        lo_b, hi_b = _span(run, min(low[u[i]], prices[i]), max(high[u[i]], prices[i]))
        mass = heat[u[i] - 1, lo_b : hi_b + 1].astype(np.float64)
        top = top_quartile(mass, rng)
        rows.append(
            (int(ts[i]), sides[i], float(qq[i]), bool(top[pbin[i] - lo_b]), top.sum() / len(top))
        )
    schema = {
        "ts": pl.Int64,
        "side": pl.String,
        "quote_qty": pl.Float64,
        "hit": pl.Boolean,
        "chance": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _span(run: LevelRun, lo: float, hi: float) -> tuple[int, int]:
    b = run.grid.bin_of(np.array([lo, hi]))
    lo_b = 0 if b[0] < 0 else int(b[0])
    hi_b = run.grid.n - 1 if b[1] < 0 else int(b[1])
    return lo_b, hi_b


def summarize(
    hits: pl.DataFrame, *, n_boot: int = 1000, seed: int = 0, block_ms: int = DAY_MS
) -> pl.DataFrame:
    """Score, chance and lift per side and overall, with block-bootstrap 95 % intervals."""
    rows = []
    for side in (*(s.value for s in SIDES), "all"):
        part = hits if side == "all" else hits.filter(pl.col("side") == side)
        rows.append(_score_row(side, part, n_boot, seed, block_ms))
    return pl.DataFrame(rows, schema=SCORE_SCHEMA, orient="row")


def _score_row(side: str, part: pl.DataFrame, n_boot: int, seed: int, block_ms: int) -> tuple:
    if part.is_empty() or part["quote_qty"].sum() <= 0:
        return (side, part.height, 0.0, *([math.nan] * 7))
    w = part["quote_qty"].to_numpy()
    hit = part["hit"].to_numpy().astype(np.float64)
    ch = part["chance"].to_numpy()
    score, chance = _weighted(w, hit), _weighted(w, ch)
    blocks = part["ts"].to_numpy() // block_ms
    s_ci, l_ci = _bootstrap(w, hit, ch, blocks, n_boot, seed)
    return (side, part.height, float(w.sum()), score, chance, score - chance, *s_ci, *l_ci)


def _weighted(w: F8, x: F8) -> float:
    return float((w * x).sum() / w.sum())


def _bootstrap(
    w: F8, hit: F8, ch: F8, blocks: NDArray[np.int64], n_boot: int, seed: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile intervals of score and lift, resampling whole blocks with replacement."""
    if n_boot <= 0:
        return (math.nan, math.nan), (math.nan, math.nan)
    ids, inv = np.unique(blocks, return_inverse=True)
    wb = np.bincount(inv, w, len(ids))
    hb = np.bincount(inv, w * hit, len(ids))
    cb = np.bincount(inv, w * ch, len(ids))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(ids), size=(n_boot, len(ids)))
    tw = wb[pick].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = hb[pick].sum(1) / tw
        lift = s - cb[pick].sum(1) / tw
    s, lift = s[np.isfinite(s)], lift[np.isfinite(lift)]
    return _pct(s), _pct(lift)


def _pct(x: F8) -> tuple[float, float]:
    if x.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(x, [2.5, 97.5])
    return float(lo), float(hi)


def time_hits(est: F8, realized: F8, ts: NDArray[np.int64], seed: int = 0) -> pl.DataFrame:
    """Per bar with a finite realized value: is the bar in the top quartile of the estimate?"""
    ok = np.isfinite(realized) & np.isfinite(est)
    rng = np.random.default_rng(seed)
    top = top_quartile(est[ok], rng)
    k = top.sum()
    return pl.DataFrame({
        "ts": ts[ok], "est": est[ok], "quote_qty": realized[ok], "hit": top,
        "chance": np.full(ok.sum(), k / max(ok.sum(), 1)),
    })  # fmt: skip


def score_by_time(
    est: dict[Side, F8], realized: dict[Side, F8], ts: NDArray[np.int64], *, n_boot: int = 1000,
    seed: int = 0, block: int = 7, bar_ms: int = DAY_MS,
) -> pl.DataFrame:  # fmt: skip
    """Top-quartile share per side (``est``/``realized`` keyed by ``long``/``short``), plus the
    Spearman rank correlation of estimate and realized as ``rank_corr``."""
    frames = []
    for side in SIDES:
        h = time_hits(est[side], realized[side], ts, seed)
        frames.append(h.with_columns(pl.lit(side.value).alias("side")))
    hits = pl.concat(frames)
    out = summarize(hits.drop("est"), n_boot=n_boot, seed=seed, block_ms=block * bar_ms)
    corr = {
        s.value: _spearman(f["est"].to_numpy(), f["quote_qty"].to_numpy())
        for s, f in zip(SIDES, frames, strict=True)
    }
    corr["all"] = math.nan
    return out.with_columns(
        pl.col("side").replace_strict(corr, return_dtype=pl.Float64).alias("rank_corr")
    )


def _spearman(x: F8, y: F8) -> float:
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    rx = pl.Series(x).rank("average").to_numpy()
    ry = pl.Series(y).rank("average").to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


def extremes_baseline(run: LevelRun, close: F8) -> LevelRun:
    """A map that knows nothing about OI: after bar ``t``, long liquidation mass grows with the
    distance below ``close[t]`` and short mass with the distance above it. Ranked inside a bar's
    range, it bets that liquidations happen at the bar's extremes (where cascades end)."""
    from dataclasses import replace

    c = run.grid.centers[None, :]
    ref = close[run.row_bar][:, None]
    heat_long = np.empty((ref.shape[0], c.shape[1]), np.float32)
    heat_short = np.empty_like(heat_long)
    step = max(1, _CHUNK_CELLS // max(1, c.shape[1]))
    for i in range(0, ref.shape[0], step):  # float64 differences a chunk of rows at a time:
        r = ref[i : i + step]  # the peak is the two float32 maps, not 3x their size in float64
        heat_long[i : i + step] = np.maximum(r - c, 0.0)
        heat_short[i : i + step] = np.maximum(c - r, 0.0)
    return replace(run, heat_long=heat_long, heat_short=heat_short)


_CHUNK_CELLS = 1 << 20
