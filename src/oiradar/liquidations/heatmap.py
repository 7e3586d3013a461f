"""The estimated liquidation heatmap (time x price bins) from canonical bars.

:func:`build_heatmap` is the Python API: bars in, a :class:`~oiradar.liquidations.levels.LevelRun`
out (arrays ``heat_long`` / ``heat_short`` of shape ``rows x bins``); :func:`heatmap_frame` turns it
into a long-format frame. Every number here is **estimated** from OI, volume and an assumed
leverage mix; realized liquidations are never mixed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from oiradar.config import LiquidationSettings
from oiradar.liquidations.levels import (
    LevelInputs,
    LevelRun,
    LeverageMix,
    PriceGrid,
    Turnover,
    level_factors,
    level_inputs,
    parse_mix,
    run_levels,
)
from oiradar.liquidations.tiers import TierTable, load_tiers
from oiradar.model import MarginType, margin_type

LABEL = "estimated"


@dataclass(frozen=True)
class MapSpec:
    """Everything the model assumes, so a map can say what it was built from."""

    exchange: str
    symbol: str
    mix: LeverageMix
    position_notional: float = 5_000.0
    colour_long_share: float = 0.6
    bins: int = 400
    grid_pad: float = 0.3
    # ageing and churn of the levels (default: none, the three rules of the level model)
    turnover: Turnover = field(default_factory=Turnover)

    @classmethod
    def from_settings(
        cls, s: LiquidationSettings, exchange: str, symbol: str, mix: str | None = None
    ) -> MapSpec:
        return cls(
            exchange=exchange, symbol=symbol, mix=parse_mix(mix or s.mix),
            position_notional=s.position_notional, colour_long_share=s.colour_long_share,
            bins=s.bins, grid_pad=s.grid_pad,
        )  # fmt: skip

    def with_mix(self, mix: str | LeverageMix) -> MapSpec:
        return replace(self, mix=parse_mix(mix) if isinstance(mix, str) else mix)

    @property
    def inverse(self) -> bool:
        return margin_type(self.symbol) is MarginType.INVERSE

    def tiers(self) -> TierTable:
        return load_tiers(self.exchange, self.symbol)


def build_heatmap(
    bars: pl.DataFrame, spec: MapSpec, *, grid: PriceGrid | None = None, record_every: int = 1,
    record: bool = True, inputs: LevelInputs | None = None,
) -> LevelRun:  # fmt: skip
    """Run the level model over ``bars`` (sorted by ``ts``) and return the heatmap and estimates."""
    inputs = inputs or level_inputs(bars, spec.colour_long_share)
    grid = grid or PriceGrid.around(inputs.low, inputs.high, spec.bins, spec.grid_pad)
    tiers = spec.tiers()
    ref = float(np.nanmedian(inputs.close)) if tiers.in_base else 1.0
    factors = level_factors(
        spec.mix, tiers, position_notional=spec.position_notional,
        inverse=spec.inverse, ref_price=ref,
    )  # fmt: skip
    return run_levels(
        inputs, factors, grid, record_every=record_every, record=record, turnover=spec.turnover
    )


def without_heat(run: LevelRun) -> LevelRun:
    """``run`` without its heatmap arrays (what a baseline map and the estimates still read), so
    that their memory goes before the next run's heatmap is built."""
    empty = np.zeros((0, run.grid.n), np.float32)
    return replace(run, heat_long=empty, heat_short=empty)


FRAME_CELLS = 2_000_000  # heatmap cells per frame of heatmap_frames (at most 0.1 GB of frame)


def heatmap_frames(
    run: LevelRun, *, last_rows: int | None = None, nonzero: bool = True,
    cells: int = FRAME_CELLS,
) -> Iterator[pl.DataFrame]:  # fmt: skip
    """:func:`heatmap_frame` by time: consecutive rows of the heatmap, ``cells`` cells (rows x
    bins) at a time, each as its own long-format frame (a frame even when empty). Concatenated,
    they are :func:`heatmap_frame`; a caller who writes and drops each holds one at a time."""
    rows = np.arange(run.heat_long.shape[0])
    if last_rows is not None:
        rows = rows[-last_rows:]
    n_bins = run.grid.n
    edges = run.grid.edges
    step = max(1, cells // max(1, n_bins))
    for i in range(0, max(len(rows), 1), step):
        part = rows[i : i + step]
        ts = np.repeat(run.ts[run.row_bar[part]], n_bins)
        b = np.tile(np.arange(n_bins), len(part))
        long_usd, short_usd = run.heat_long[part].ravel(), run.heat_short[part].ravel()
        if nonzero:
            keep = (long_usd > 0) | (short_usd > 0)
            ts, b, long_usd, short_usd = ts[keep], b[keep], long_usd[keep], short_usd[keep]
        yield pl.DataFrame({
            "ts": ts, "price_lo": edges[:-1][b], "price_hi": edges[1:][b],
            "long_usd": long_usd.astype(np.float64), "short_usd": short_usd.astype(np.float64),
        }).with_columns(pl.lit(LABEL).alias("kind"))  # fmt: skip


def heatmap_frame(
    run: LevelRun, *, last_rows: int | None = None, nonzero: bool = True
) -> pl.DataFrame:
    """Long-format heatmap: one row per (bar, price bin) with estimated long and short notional
    (``nonzero``: the cells holding any). Built by time (:func:`heatmap_frames`), so that the peak
    memory is the frame and one chunk, not a full-length column per field before the filter."""
    return pl.concat(list(heatmap_frames(run, last_rows=last_rows, nonzero=nonzero)))


def estimates_frame(run: LevelRun) -> pl.DataFrame:
    """Per bar: estimated liquidated notional and estimated open notional, by side."""
    return pl.DataFrame({
        "ts": run.ts, "est_liq_long_usd": run.liq_long, "est_liq_short_usd": run.liq_short,
        "est_open_long_usd": run.open_long_total, "est_open_short_usd": run.open_short_total,
    }).with_columns(pl.lit(LABEL).alias("kind"))  # fmt: skip
