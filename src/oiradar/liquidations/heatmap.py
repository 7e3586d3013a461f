"""The estimated liquidation heatmap (time x price bins) from canonical bars.

:func:`build_heatmap` is the Python API: bars in, a :class:`~oiradar.liquidations.levels.LevelRun`
out (arrays ``heat_long`` / ``heat_short`` of shape ``rows x bins``); :func:`heatmap_frame` turns it
into a long-format frame. Every number here is **estimated** from OI, volume and an assumed
leverage mix; realized liquidations are never mixed in.
"""

from __future__ import annotations

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


def heatmap_frame(
    run: LevelRun, *, last_rows: int | None = None, nonzero: bool = True
) -> pl.DataFrame:
    """Long-format heatmap: one row per (bar, price bin) with estimated long and short notional."""
    rows = np.arange(run.heat_long.shape[0])
    if last_rows is not None:
        rows = rows[-last_rows:]
    n_bins = run.grid.n
    ts = np.repeat(run.ts[run.row_bar[rows]], n_bins)
    b = np.tile(np.arange(n_bins), len(rows))
    frame = pl.DataFrame({
        "ts": ts, "price_lo": run.grid.edges[:-1][b], "price_hi": run.grid.edges[1:][b],
        "long_usd": run.heat_long[rows].ravel().astype(np.float64),
        "short_usd": run.heat_short[rows].ravel().astype(np.float64),
    })  # fmt: skip
    if nonzero:
        frame = frame.filter((pl.col("long_usd") > 0) | (pl.col("short_usd") > 0))
    return frame.with_columns(pl.lit(LABEL).alias("kind"))


def estimates_frame(run: LevelRun) -> pl.DataFrame:
    """Per bar: estimated liquidated notional and estimated open notional, by side."""
    return pl.DataFrame({
        "ts": run.ts, "est_liq_long_usd": run.liq_long, "est_liq_short_usd": run.liq_short,
        "est_open_long_usd": run.open_long_total, "est_open_short_usd": run.open_short_total,
    }).with_columns(pl.lit(LABEL).alias("kind"))  # fmt: skip
