"""The market simulator: an agent-based perpetual-futures market with its ground truth.

    from oiradar.sim import simulate
    res = simulate("ksm", days=30, seed=7)          # SimResult: bars, liquidations, positions, regimes
    res.write(catalog)                              # bars + liquidations into the catalog

See ``docs/simulator.md`` for the model and its invariants.
"""

from oiradar.sim.params import PRESETS, SimParams, resolve_params
from oiradar.sim.regimes import Regime
from oiradar.sim.simulate import SimResult, SimWrite, simulate
from oiradar.store import ground_truth_dir  # the store owns the layout; kept here for callers

__all__ = [
    "PRESETS",
    "Regime",
    "SimParams",
    "SimResult",
    "SimWrite",
    "ground_truth_dir",
    "resolve_params",
    "simulate",
]
