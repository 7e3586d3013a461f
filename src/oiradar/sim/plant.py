"""A known edge planted in a simulated market: the outcome after each ``divergence`` event.

The engine watches the ``divergence`` signal (short side) on the bars the event study will read,
with the same arithmetic as the features and signals (``engine._divergence_kept``), and the same
cool-down as the study. At each event the study will count, it draws a reversal with probability
``rate`` and makes it happen: the price is pushed ``push_atr`` ATRs down (a reversal: the lower
barrier, ``width`` ATRs away, is touched first) or up (no reversal) within the first twelfth of
the next bar. The push is an outside move: the book reacts to it (stops and liquidations fire),
and the ground truth keeps every event with its planted outcome.

So the reversal rate after ``divergence`` is exactly Bernoulli(``rate``) per counted event,
whatever the regimes do: 0.65 is an edge of 15 points over a coin, 0.5 is no edge (the null).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.model import Timeframe
from oiradar.sim import engine as E
from oiradar.timeutil import duration_ms

PUSH_SHARE = 12  # the push lasts a twelfth of a planting bar (at least one step)


@dataclass(frozen=True, kw_only=True)
class PlantSpec:
    """Where and how the outcome after ``divergence`` is planted (windows in planting bars)."""

    rate: float  # probability of a reversal after each counted event
    timeframe: str  # the bars the study reads (a multiple of the simulated timeframe)
    window: int  # peak window (oi_peak, price_high)
    need: int  # bars of the window that must hold a value (min_coverage)
    near_pct: float
    divergence_dd: float
    atr_bars: int
    cooldown: int  # the study's cool-down between counted events
    width: float  # the study's barrier width, in ATRs
    push_atr: float  # the push, in ATRs (beyond the barrier)

    @classmethod
    def from_settings(
        cls, rate: float, timeframe: Timeframe, settings: Settings | None = None
    ) -> PlantSpec:
        """The spec that matches what ``oiradar study`` reads with ``settings`` (its defaults)."""
        if not 0.0 <= rate <= 1.0:
            raise InputError(f"the planted rate must be in [0, 1], got {rate!r}", value=rate)
        s = settings or Settings()
        fs, ev = s.features, s.evidence
        window = timeframe.bars(duration_ms(fs.peak_window))
        return cls(
            rate=rate, timeframe=timeframe.value, window=window,
            need=max(1, math.ceil(fs.min_coverage * window - 1e-9)), near_pct=fs.near_pct,
            divergence_dd=s.signals.divergence_dd, atr_bars=fs.atr_bars,
            cooldown=ev.horizon if ev.cooldown is None else ev.cooldown, width=ev.width,
            push_atr=ev.width + 1.0,
        )  # fmt: skip

    def vector(self, stored: Timeframe) -> np.ndarray:
        """The engine's parameter vector for bars simulated at ``stored``."""
        tf = Timeframe(self.timeframe)
        if tf.ms % stored.ms:
            raise InputError(
                f"the edge's timeframe {tf.value} must be a multiple of the simulated {stored.value}",
                column="timeframe",
                value=tf.value,
            )
        p = np.zeros(E.N_PLANT_PARAMS)
        p[E.PP_RATIO] = tf.ms // stored.ms
        p[E.PP_WINDOW], p[E.PP_NEED] = self.window, self.need
        p[E.PP_NEAR], p[E.PP_DD] = self.near_pct, self.divergence_dd
        p[E.PP_ATR_N], p[E.PP_COOLDOWN], p[E.PP_RATE] = self.atr_bars, self.cooldown, self.rate
        p[E.PP_PUSH_ATR] = self.push_atr
        p[E.PP_PUSH_STEPS] = max(1, tf.ms // 60_000 // PUSH_SHARE)
        return p

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plant_state() -> np.ndarray:
    """The engine's planting state before the first bar."""
    s = np.zeros(E.N_PLANT_STATE)
    s[E.PS_LAST] = -1e18  # no event kept yet
    s[E.PS_CLOSE] = np.nan
    return s


def plant_log_rows(days: int, spec: PlantSpec) -> int:
    """Room for every event the cool-down lets through in ``days``."""
    bars = days * 86_400_000 // Timeframe(spec.timeframe).ms
    return bars // max(1, spec.cooldown) + 2
