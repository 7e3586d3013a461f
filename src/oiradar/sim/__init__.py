"""The market simulator: an agent-based perpetual-futures market with its ground truth.

    from oiradar.sim import simulate
    res = simulate("ksm", days=30, seed=7)          # SimResult: bars, liquidations, positions, regimes
    res.write(catalog)                              # bars + liquidations into the catalog

    from oiradar.sim import UniverseSpec, universe_markets
    for m in universe_markets(UniverseSpec(symbols=10, days=30, edge=0.65)):
        m.result.write(catalog, "sim", m.symbol)    # N correlated markets, one at a time

See ``docs/simulator.md`` for the model and its invariants.
"""

from oiradar.sim.params import PRESETS, SimParams, resolve_params
from oiradar.sim.plant import PlantSpec
from oiradar.sim.regimes import Regime
from oiradar.sim.simulate import Overlay, SimResult, SimWrite, simulate
from oiradar.sim.universe import UniverseSpec, universe_markets
from oiradar.store import ground_truth_dir  # the store owns the layout; kept here for callers

__all__ = [
    "PRESETS",
    "Overlay",
    "PlantSpec",
    "Regime",
    "SimParams",
    "SimResult",
    "SimWrite",
    "UniverseSpec",
    "ground_truth_dir",
    "resolve_params",
    "simulate",
    "universe_markets",
]
