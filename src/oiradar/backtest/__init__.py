"""The SPEC section 4 trade model: numba engine, bar-by-bar model for paper trading, sweeps."""

from oiradar.backtest.paper import Bar, TradeModel
from oiradar.backtest.params import ExitReason, TradeParams, trade_params
from oiradar.backtest.run import (
    BacktestInputs,
    BacktestResult,
    inputs_from_features,
    inputs_from_frame,
    run_backtest,
)
from oiradar.backtest.sweep import SweepResult, SweepSpec, load_grid, run_sweep

__all__ = [
    "BacktestInputs",
    "BacktestResult",
    "Bar",
    "ExitReason",
    "SweepResult",
    "SweepSpec",
    "TradeModel",
    "TradeParams",
    "inputs_from_features",
    "inputs_from_frame",
    "load_grid",
    "run_backtest",
    "run_sweep",
    "trade_params",
]
