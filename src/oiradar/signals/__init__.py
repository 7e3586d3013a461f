"""The reversal framework (SPEC section 3): per-bar states, events, phases, cross-venue divergence.

Frame in, frame of events out; the same code serves the scan, the backtest and live monitoring.
"""

from oiradar.signals.cross import cross_divergence, exchange_divergence, margin_divergence
from oiradar.signals.frame import (
    EVENT_SCHEMA,
    SIGNALS,
    analyse_many,
    detect_many,
    detect_signals,
    empty_events,
    signal_params,
    signal_states,
    with_why,
)
from oiradar.signals.kernels import PHASES, STATES

__all__ = [
    "EVENT_SCHEMA",
    "PHASES",
    "SIGNALS",
    "STATES",
    "analyse_many",
    "cross_divergence",
    "detect_many",
    "detect_signals",
    "empty_events",
    "exchange_divergence",
    "margin_divergence",
    "signal_params",
    "signal_states",
    "with_why",
]
