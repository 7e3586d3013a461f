"""The reversal framework (SPEC section 3): per-bar states, events, phases, cross-venue divergence.

Frame in, frame of events out; the same code serves the scan, the backtest and live monitoring.
Features are read by name (:data:`oiradar.features.FEATURE_ROW`), never by a row number.
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
from oiradar.signals.scan import (
    MTF_TIMEFRAMES,
    ScanResult,
    multi_timeframe,
    scan,
    scan_bars,
    venue_family,
    with_liquidations,
)

__all__ = [
    "EVENT_SCHEMA",
    "MTF_TIMEFRAMES",
    "PHASES",
    "SIGNALS",
    "STATES",
    "ScanResult",
    "analyse_many",
    "cross_divergence",
    "detect_many",
    "detect_signals",
    "empty_events",
    "exchange_divergence",
    "margin_divergence",
    "multi_timeframe",
    "scan",
    "scan_bars",
    "signal_params",
    "signal_states",
    "venue_family",
    "with_liquidations",
    "with_why",
]
