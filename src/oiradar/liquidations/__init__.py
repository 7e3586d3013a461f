"""Liquidation prices, the estimated level model, the heatmap and the cascade estimate.

The names below load on first access (PEP 562): the price formulas and tier tables are light
(numpy), the level model compiles numba kernels, so ``oiradar liqprice`` imports only the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oiradar._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # formulas and tiers: numpy only
    "liq_price_inverse": "oiradar.liquidations.prices",
    "liq_price_linear": "oiradar.liquidations.prices",
    "liq_price_tiered": "oiradar.liquidations.prices",
    "TierTable": "oiradar.liquidations.tiers",
    "load_tiers": "oiradar.liquidations.tiers",
    # the level model, the map and its score: numba
    "PRESETS": "oiradar.liquidations.levels",
    "LeverageMix": "oiradar.liquidations.levels",
    "parse_mix": "oiradar.liquidations.levels",
    "MapSpec": "oiradar.liquidations.heatmap",
    "build_heatmap": "oiradar.liquidations.heatmap",
    "band": "oiradar.liquidations.cascade",
    "cascade_table": "oiradar.liquidations.cascade",
    "what_if_levels": "oiradar.liquidations.cascade",
    "DEFAULT_MOVES": "oiradar.liquidations.mapview",
    "Snapshot": "oiradar.liquidations.mapview",
    "score_mixes": "oiradar.liquidations.mapview",
    "score_time_mixes": "oiradar.liquidations.mapview",
    "snapshot": "oiradar.liquidations.mapview",
    "with_prices": "oiradar.liquidations.mapview",
    "Turnover": "oiradar.liquidations.levels",
    "WalkForward": "oiradar.liquidations.fit",
    "walk_forward": "oiradar.liquidations.fit",
}

__all__ = [
    "DEFAULT_MOVES",
    "PRESETS",
    "LeverageMix",
    "MapSpec",
    "Snapshot",
    "TierTable",
    "Turnover",
    "WalkForward",
    "band",
    "build_heatmap",
    "cascade_table",
    "liq_price_inverse",
    "liq_price_linear",
    "liq_price_tiered",
    "load_tiers",
    "parse_mix",
    "score_mixes",
    "score_time_mixes",
    "snapshot",
    "walk_forward",
    "what_if_levels",
    "with_prices",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # what type checkers see; nothing is imported at run time
    from oiradar.liquidations.cascade import band, cascade_table, what_if_levels
    from oiradar.liquidations.fit import WalkForward, walk_forward
    from oiradar.liquidations.heatmap import MapSpec, build_heatmap
    from oiradar.liquidations.levels import PRESETS, LeverageMix, Turnover, parse_mix
    from oiradar.liquidations.mapview import (
        DEFAULT_MOVES,
        Snapshot,
        score_mixes,
        score_time_mixes,
        snapshot,
        with_prices,
    )
    from oiradar.liquidations.prices import liq_price_inverse, liq_price_linear, liq_price_tiered
    from oiradar.liquidations.tiers import TierTable, load_tiers
