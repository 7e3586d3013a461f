"""Check the estimated map where the truth is known: the simulator's positions and liquidations.

:func:`recovery` runs the model over simulated bars with several leverage mixes and compares it
with the ground truth: the true open notional by liquidation-price bin (snapshots), the true
liquidated notional by price bin (whole run), and the by-price score of :mod:`.score` with the
simulator's liquidation log as the realized record. A mix that matches the simulator's should
score best; a wrong one should score worse (the score can tell a good model from a bad one).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.liquidations.heatmap import MapSpec, build_heatmap, without_heat
from oiradar.liquidations.levels import LevelRun, PriceGrid, level_inputs
from oiradar.liquidations.score import extremes_baseline, price_hits, summarize, top_quartile
from oiradar.liquidations.tiers import TierTable, table_from_rows
from oiradar.model import SIDES

F8 = NDArray[np.float64]


def sim_tiers(params: dict[str, Any], symbol: str) -> TierTable:
    """The simulator's maintenance tiers ``(max notional, mmr, cum)`` as a :class:`TierTable`."""
    rows, floor = [], 0.0
    for cap, mmr, cum in params["mmr_tiers"]:
        cap = float(cap) if np.isfinite(cap) else 1e18
        rows.append(
            {
                "min_notional": floor,
                "max_notional": cap,
                "mmr": mmr,
                "max_leverage": 125.0,
                "cum": cum,
            }
        )
        floor = cap
    return table_from_rows(rows, exchange="sim", symbol=symbol, origin="sim", notional_unit="quote")


def true_mix(params: dict[str, Any]) -> str:
    return ",".join(
        f"{lv:g}:{w:g}"
        for lv, w in zip(params["leverages"], params["leverage_weights"], strict=True)
    )


class _SimSpec(MapSpec):
    """A MapSpec whose tiers are the simulator's, not a venue's."""

    _tiers: TierTable

    def tiers(self) -> TierTable:
        return self._tiers


def sim_spec(sim: Any, mix: str, bins: int) -> MapSpec:
    """A map spec with the simulator's own maintenance tiers (not a venue's)."""
    symbol = sim.params["symbol"]
    spec = _SimSpec(exchange="sim", symbol=symbol, mix=_parse(mix), bins=bins)
    object.__setattr__(spec, "_tiers", sim_tiers(sim.params, symbol))
    return spec


def _parse(mix: str) -> Any:
    from oiradar.liquidations.levels import parse_mix

    return parse_mix(mix)


def truth_open_by_bin(positions: pl.DataFrame, ts: int, grid: PriceGrid) -> tuple[F8, F8]:
    """True open notional (qty x liq price) by liquidation-price bin at time ``ts``, long and short."""
    open_ = positions.filter(
        (pl.col("entry_ts") <= ts) & (pl.col("exit_ts").is_null() | (pl.col("exit_ts") > ts))
    )
    out = []
    for side in SIDES:
        p = open_.filter(pl.col("side") == side.value)
        b = grid.bin_of(p["liq_price"].to_numpy())
        w = (p["qty"] * p["liq_price"]).to_numpy()
        out.append(np.bincount(b[b >= 0], w[b >= 0], grid.n).astype(np.float64))
    return out[0], out[1]


def truth_liq_by_bin(liqs: pl.DataFrame, grid: PriceGrid) -> F8:
    b = grid.bin_of(liqs["price"].to_numpy())
    w = liqs["quote_qty"].to_numpy()
    return np.bincount(b[b >= 0], w[b >= 0], grid.n).astype(np.float64)


def _corr(x: F8, y: F8) -> float:
    if np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _top_share(model: F8, truth: F8, seed: int) -> tuple[float, float]:
    """Share of true notional in the model's top-quartile bins, among bins with any truth or model
    mass inside the traded range; and the chance share ``k / n``."""
    keep = (model > 0) | (truth > 0)
    top = top_quartile(model[keep], np.random.default_rng(seed))
    return float(truth[keep][top].sum() / truth[keep].sum()), float(top.mean())


def recovery(
    sim: Any,
    mixes: list[str],
    *,
    bins: int = 200,
    snapshots: int = 12,
    n_boot: int = 200,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per mix: correlations and top-quartile shares against the simulator's truth."""
    bars = sim.bars
    inputs = level_inputs(bars)
    grid = PriceGrid.around(inputs.low, inputs.high, bins, 0.3)
    bar_ms = sim.timeframe.ms
    snaps = [int(t) for t in np.linspace(len(bars) // 5, len(bars) - 1, snapshots)]
    truth_liq = truth_liq_by_bin(sim.liquidations, grid)
    truth_open = [
        truth_open_by_bin(sim.positions, int(bars["ts"][t]) + bar_ms, grid) for t in snaps
    ]
    rows = []
    for mix in mixes:
        run = build_heatmap(bars, sim_spec(sim, mix, bins), grid=grid, inputs=inputs)
        rows.append(
            {"mix": mix}
            | _compare(run, snaps, truth_open, truth_liq, sim, inputs, bar_ms, n_boot, seed)
        )
        run = without_heat(run)  # one heatmap alive at a time
    base = extremes_baseline(run, inputs.close)
    hits = price_hits(base, inputs.high, inputs.low, sim.liquidations, bar_ms, seed=seed)
    sc = (
        summarize(hits, n_boot=n_boot, seed=seed).filter(pl.col("side") == "all").row(0, named=True)
    )
    rows.append({"mix": "baseline", "score": sc["score"], "score_chance": sc["chance"],
                 "score_lo": sc["score_lo"], "score_hi": sc["score_hi"]})  # fmt: skip
    return pl.DataFrame(rows)


def _compare(
    run: LevelRun, snaps, truth_open, truth_liq, sim, inputs, bar_ms, n_boot, seed
) -> dict[str, float]:
    corr_open = [
        _corr(np.r_[run.heat_long[t], run.heat_short[t]], np.r_[tl, ts_])
        for t, (tl, ts_) in zip(snaps, truth_open, strict=True)
    ]
    model_liq = run.liq_bin_long + run.liq_bin_short
    share, chance = _top_share(model_liq, truth_liq, seed)
    hits = price_hits(run, inputs.high, inputs.low, sim.liquidations, bar_ms, seed=seed)
    sc = (
        summarize(hits, n_boot=n_boot, seed=seed).filter(pl.col("side") == "all").row(0, named=True)
    )
    return {
        "corr_open_by_bin": float(np.nanmean(corr_open)), "corr_liq_by_bin": _corr(model_liq, truth_liq),
        "top_quartile_liq_share": share, "top_quartile_chance": chance, "score": sc["score"],
        "score_chance": sc["chance"], "score_lo": sc["score_lo"], "score_hi": sc["score_hi"],
        "est_liq_usd": float(model_liq.sum()), "true_liq_usd": float(truth_liq.sum()),
    }  # fmt: skip
