"""Cascade estimate: the **estimated** notional liquidated if price moved to a level, by side.

A move down to ``X`` liquidates every open long level with ``LP >= X``; a move up to ``X`` every
short level with ``LP <= X``. The optional amplification pass lets liquidated notional push price
further: with impact ``k`` (% per $1M), a move to ``X`` that liquidates ``N`` USD continues to
``X x (1 -/+ k N / 1e6 / 100)``, repeated until the price stops moving (it must: ``N`` is bounded
by the open notional). The impact is a user assumption, off (0) by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.errors import InputError
from oiradar.liquidations.levels import LevelRun, LeverageMix, level_factors
from oiradar.liquidations.tiers import TierTable
from oiradar.model import LONG, SHORT, Side

F8 = NDArray[np.float64]


@dataclass(frozen=True)
class Levels:
    """A snapshot of open estimated levels: side (its sign: LONG, SHORT), price, base qty, leverage."""

    side: NDArray[np.int8]
    price: F8
    qty: F8
    leverage: F8

    @property
    def notional(self) -> F8:
        return self.qty * self.price

    @classmethod
    def from_run(cls, run: LevelRun) -> Levels:
        return cls(run.open_side, run.open_price, run.open_qty, run.leverage[run.open_lev])

    def total(self, side: Side) -> float:
        return float(self.notional[self.side == side.sign].sum())


def liquidated_between(levels: Levels, price: float, target: float) -> tuple[float, float]:
    """``(long_usd, short_usd)`` estimated liquidated by a move from ``price`` to ``target``."""
    n = levels.notional
    if target < price:
        hit = (levels.side > 0) & (levels.price >= target)
        return float(n[hit].sum()), 0.0
    hit = (levels.side < 0) & (levels.price <= target)
    return 0.0, float(n[hit].sum())


def amplify(
    levels: Levels, price: float, target: float, impact_pct_per_musd: float, max_iter: int = 200
) -> tuple[float, float, int]:
    """Follow liquidations that push price further; returns ``(final price, liquidated usd, steps)``."""
    direction = -1.0 if target < price else 1.0
    cur, liq = target, sum(liquidated_between(levels, price, target))
    for step in range(1, max_iter + 1):
        nxt = target * (1.0 + direction * impact_pct_per_musd * liq / 1e6 / 100.0)
        nxt = max(nxt, 0.0)
        if abs(nxt - cur) <= 1e-12 * max(abs(cur), 1.0):
            return cur, liq, step
        cur, liq = nxt, sum(liquidated_between(levels, price, nxt))
    return cur, liq, max_iter


def cascade_table(
    levels: Levels, price: float, moves: list[float], impact_pct_per_musd: float = 0.0
) -> pl.DataFrame:
    """One row per move (fraction, -0.05 = 5 % down): target price and estimated liquidations."""
    rows = []
    for m in moves:
        target = price * (1.0 + m)
        lg, sh = liquidated_between(levels, price, target)
        row = {
            "move_pct": 100.0 * m,
            "target": target,
            "est_long_liq_usd": lg,
            "est_short_liq_usd": sh,
        }
        if impact_pct_per_musd > 0:
            final, total, _ = amplify(levels, price, target, impact_pct_per_musd)
            row |= {"amplified_price": final, "amplified_liq_usd": total}
        rows.append(row)
    return pl.DataFrame(rows)


def band(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Min / max of the cascade estimate across leverage-mix assumptions (one table per mix)."""
    first = next(iter(tables.values())).select("move_pct", "target")
    stacks = {
        col: np.vstack([t[col].to_numpy() for t in tables.values()])
        for col in ("est_long_liq_usd", "est_short_liq_usd")
    }
    return first.with_columns(
        pl.Series("long_low_usd", stacks["est_long_liq_usd"].min(0)),
        pl.Series("long_high_usd", stacks["est_long_liq_usd"].max(0)),
        pl.Series("short_low_usd", stacks["est_short_liq_usd"].min(0)),
        pl.Series("short_high_usd", stacks["est_short_liq_usd"].max(0)),
    )


def clusters(
    levels: Levels, price: float, *, bin_pct: float = 0.005, min_share: float = 0.02,
    max_distance: float = 0.5,
) -> pl.DataFrame:  # fmt: skip
    """The nearest significant cluster above and below price, and the largest one on each side.

    Levels are grouped in bins of ``bin_pct`` of the current price; a bin is significant when it
    holds at least ``min_share`` of all open estimated notional.
    """
    dist = levels.price / price - 1.0
    keep = np.abs(dist) <= max_distance
    b = np.floor(dist[keep] / bin_pct).astype(np.int64)
    frame = pl.DataFrame({"b": b, "long": np.where(levels.side[keep] > 0, levels.notional[keep], 0.0),
                          "short": np.where(levels.side[keep] < 0, levels.notional[keep], 0.0)})  # fmt: skip
    agg = frame.group_by("b").agg(pl.col("long").sum(), pl.col("short").sum()).sort("b")
    agg = agg.with_columns((pl.col("long") + pl.col("short")).alias("total"))
    total = float(levels.notional.sum())
    rows = []
    for where, part in (
        ("above", agg.filter(pl.col("b") >= 0)),
        ("below", agg.filter(pl.col("b") < 0)),
    ):
        sig = part.filter(pl.col("total") >= min_share * total)
        if not sig.is_empty():
            nearest = sig.row(0 if where == "above" else -1, named=True)
            rows.append(_cluster_row(where, "nearest", nearest, price, bin_pct))
        if not part.is_empty():
            largest = part.sort("total", descending=True).row(0, named=True)
            rows.append(_cluster_row(where, "largest", largest, price, bin_pct))
    return (
        pl.DataFrame(rows, schema=_CLUSTER_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=_CLUSTER_SCHEMA)
    )


_CLUSTER_SCHEMA = {
    "where": pl.String, "cluster": pl.String, "price_lo": pl.Float64, "price_hi": pl.Float64,
    "distance_pct": pl.Float64, "est_long_usd": pl.Float64, "est_short_usd": pl.Float64,
}  # fmt: skip


def _cluster_row(where: str, kind: str, row: dict, price: float, bin_pct: float) -> tuple:
    lo = price * (1.0 + row["b"] * bin_pct)
    hi = price * (1.0 + (row["b"] + 1) * bin_pct)
    mid = 100.0 * ((lo + hi) / 2.0 / price - 1.0)
    return (where, kind, lo, hi, mid, float(row["long"]), float(row["short"]))


# ---------------------------------------------------------------- the seed's what-if
@dataclass(frozen=True)
class WhatIf:
    """Synthetic book: ``oi_usd`` of positions with entries ``entry_distance`` away from price."""

    levels: Levels
    already_liquidated_usd: float  # at entry value: the part of the stated OI that cannot exist
    table: pl.DataFrame  # one row per (side, leverage): entry, liquidation price, notional


def what_if_levels(
    *, oi_usd: float, price: float, entry_distance: float, mix: LeverageMix, tiers: TierTable,
    long_share: float = 0.5, spread: float = 0.0, points: int = 21, position_notional: float = 5_000.0,
    inverse: bool = False,
) -> WhatIf:  # fmt: skip
    """Levels for "total OI of $X, average entry d away from the current price".

    Entries are ``price x (1 + entry_distance)`` (negative: below price), spread uniformly over
    ``+-spread`` around that average when ``spread > 0``. Notional splits ``long_share`` / rest
    between sides and by ``mix`` across leverages. A level already past the current price (a long
    whose ``LP >= price``) would have been liquidated: it is reported and left out of the book.
    """
    if oi_usd <= 0 or price <= 0 or not 0 <= long_share <= 1:
        raise InputError("what-if needs --oi-usd > 0, --price > 0 and 0 <= --long-share <= 1")
    if entry_distance <= -1 or not 0 <= spread < 1:
        raise InputError(
            f"what-if needs --entry-distance > -1 and 0 <= --spread < 1 (got {entry_distance}, {spread})"
        )
    ref = price * (1.0 + entry_distance)
    f = level_factors(
        mix, tiers, position_notional=position_notional, inverse=inverse, ref_price=ref
    )
    offsets = np.linspace(-spread, spread, points) if spread > 0 else np.zeros(1)
    entries = ref * (1.0 + offsets)
    sides, prices, qtys, levs, rows = [], [], [], [], []
    for side, fac, share in ((LONG, f.long, long_share), (SHORT, f.short, 1.0 - long_share)):
        for k, w in enumerate(f.weight):
            usd = oi_usd * share * w
            lp = entries * fac[k]
            sides.append(np.full(len(entries), side, np.int8))
            prices.append(lp)
            qtys.append(usd / len(entries) / entries)
            levs.append(np.full(len(entries), f.leverage[k]))
            rows.append(
                _what_if_row(
                    side, f.requested[k], f.leverage[k], w, usd, ref, float(np.mean(lp)), price
                )
            )
    lv = Levels(
        np.concatenate(sides), np.concatenate(prices), np.concatenate(qtys), np.concatenate(levs)
    )
    entry_usd = lv.qty * np.tile(entries, len(sides))
    past = ((lv.side > 0) & (lv.price >= price)) | ((lv.side < 0) & (lv.price <= price))
    kept = Levels(lv.side[~past], lv.price[~past], lv.qty[~past], lv.leverage[~past])
    return WhatIf(kept, float(entry_usd[past].sum()), pl.DataFrame(rows))


def _what_if_row(side: int, req: float, lev: float, w: float, usd: float, entry: float, lp: float,
                 price: float) -> dict:  # fmt: skip
    return {
        "side": Side.from_sign(side).value, "leverage": f"{lev:g}x" + (f" (asked {req:g}x)" if lev != req else ""),
        "share": w, "est_notional_usd": usd, "avg_entry": entry, "avg_liq_price": lp,
        "liq_distance_pct": 100.0 * (lp / price - 1.0),
        "status": "already past price" if (side > 0 and lp >= price) or (side < 0 and lp <= price) else "open",
    }  # fmt: skip
