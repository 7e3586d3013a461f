"""Market regimes: what each one asks of price and OI, and the seeded chain that schedules them.

A regime is a **segment** of time with a target path for the log price (what value traders think
the market is worth) and one for the log OI (how keen traders are to open rather than close).
The engine steers order flow toward those targets; everything else (volatility, liquidations,
cascades, funding) comes out of the order flow.

Targets are set at a segment's first step from the state at that moment ``(lp_s, lo_s)``::

    lp_end = lp_s + price_pull x (log price0 - lp_s) + price_shift
    lo_end = lo_s + oi_pull    x (log oi0    - lo_s) + oi_shift

and followed linearly over the segment, each with its own controller gain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

MINUTE_STEPS_PER_HOUR = 60


class Regime(StrEnum):
    """Ground-truth regime labels (SPEC section 3 phases)."""

    NEUTRAL = "neutral"
    ACCUMULATION = "accumulation"
    BREAKOUT = "breakout"
    DISTRIBUTION = "distribution"
    CASCADE = "cascade"


REGIMES: tuple[Regime, ...] = tuple(Regime)

Sampler = Callable[[np.random.Generator, float], float]  # (rng, hours) -> shift


@dataclass(frozen=True, kw_only=True, slots=True)
class RegimeSpec:
    """How one regime moves price and OI (shifts are log changes drawn per segment)."""

    hours: tuple[int, int]
    price_pull: float
    price_shift: Sampler
    price_gain: float
    rate: float  # multiplier of the base order rate
    oi_pull: float
    oi_shift: Sampler
    oi_gain: float
    long_tilt: float  # share of new longs drawn from the high-leverage tiers (shorts: low tiers)


def _uniform(lo: float, hi: float) -> Sampler:
    return lambda rng, _hours: float(rng.uniform(lo, hi))


def _per_day(lo: float, hi: float, cap: float) -> Sampler:
    return lambda rng, hours: float(min(rng.uniform(lo, hi) * hours / 24.0, cap))


def _normal(sd: float) -> Sampler:
    return lambda rng, _hours: float(rng.normal(0.0, sd))


def _drop(lo: float, hi: float) -> Sampler:
    """OI falling by a fraction in [lo, hi] of its level at the segment's start (the seed's 15-20 %)."""
    return lambda rng, _hours: float(np.log1p(-rng.uniform(lo, hi)))


SPECS: dict[Regime, RegimeSpec] = {
    # Quiet: price and OI drift back toward their long-run levels.
    Regime.NEUTRAL: RegimeSpec(
        hours=(24, 96), price_pull=0.3, price_shift=_normal(0.04), price_gain=3.0, rate=1.0,
        oi_pull=0.4, oi_shift=_normal(0.05), oi_gain=3.0, long_tilt=0.0,
    ),
    # Range-bound price grinding sideways or lower while leveraged longs build OI.
    Regime.ACCUMULATION: RegimeSpec(
        hours=(48, 168), price_pull=0.1, price_shift=_uniform(-0.03, 0.01), price_gain=10.0,
        rate=0.8, oi_pull=0.0, oi_shift=_per_day(0.03, 0.06, 0.5), oi_gain=5.0, long_tilt=0.5,
    ),
    # A hard move up with an OI spike (trend followers and FOMO longs, highly levered).
    Regime.BREAKOUT: RegimeSpec(
        hours=(6, 24), price_pull=0.0, price_shift=_uniform(0.06, 0.16), price_gain=8.0,
        rate=2.0, oi_pull=0.0, oi_shift=_uniform(0.10, 0.25), oi_gain=8.0, long_tilt=0.6,
    ),
    # Price holds near the highs while OI falls 15-22 % from its level at the top.
    Regime.DISTRIBUTION: RegimeSpec(
        hours=(12, 60), price_pull=0.0, price_shift=_uniform(-0.01, 0.015), price_gain=12.0,
        rate=1.2, oi_pull=0.0, oi_shift=_drop(0.15, 0.22), oi_gain=8.0, long_tilt=0.0,
    ),
    # A sharp drop that liquidates the levered longs; forced sells carry it further.
    Regime.CASCADE: RegimeSpec(
        hours=(1, 6), price_pull=0.0, price_shift=_uniform(-0.18, -0.08), price_gain=6.0,
        rate=3.0, oi_pull=0.0, oi_shift=_uniform(-0.15, -0.05), oi_gain=5.0, long_tilt=0.0,
    ),
}  # fmt: skip


def transition_matrix(reversal_prob: float) -> np.ndarray:
    """Row ``i`` = probabilities of the regime after regime ``i`` (order of :data:`REGIMES`).

    ``reversal_prob`` is the chance that a distribution ends in a cascade (else a neutral period).
    """
    r = reversal_prob
    m = np.array(
        [
            [0.25, 0.60, 0.10, 0.00, 0.05],  # neutral
            [0.15, 0.00, 0.75, 0.00, 0.10],  # accumulation
            [0.20, 0.00, 0.00, 0.80, 0.00],  # breakout
            [1 - r, 0.00, 0.00, 0.00, r],  # distribution
            [0.60, 0.40, 0.00, 0.00, 0.00],  # cascade
        ]
    )
    return m / m.sum(axis=1, keepdims=True)


@dataclass(frozen=True, slots=True)
class Segments:
    """Consecutive regime segments over steps: ``start[i] <= step < end[i]`` is regime ``regime[i]``.

    ``price`` columns: pull, shift, gain, rate; ``oi`` columns: pull, shift, gain, long tilt.
    A sentinel segment past the end keeps the engine's look-up in bounds.
    """

    bounds: np.ndarray  # (n, 2) int64
    regime: np.ndarray  # (n,) int8, index into REGIMES
    price: np.ndarray  # (n, 4) float64
    oi: np.ndarray  # (n, 4) float64


def schedule(
    rng: np.random.Generator,
    *,
    warm_steps: int,
    steps: int,
    transitions: np.ndarray,
    tilt_scale: float = 1.0,
    forced: tuple[tuple[int, int], ...] = (),
) -> Segments:
    """A seeded semi-Markov chain of regimes covering ``warm_steps + steps`` one-minute steps.

    The warm-up is one neutral segment that builds OI from nothing to its long-run level.
    ``forced``: ``(first step, hours)`` of cascades imposed from outside (a universe's market-wide
    crash): the segment in force is cut short there, the cascade runs its hours, and the chain
    goes on from it. A forced cascade that starts inside another one is dropped.
    """
    rows = [(0, warm_steps, 0, (0.0, 0.0, 3.0, 1.0), (1.0, 0.0, 5.0, 0.0))]
    k = warm_steps
    state = REGIMES.index(Regime.NEUTRAL)
    end = warm_steps + steps
    crashes = [c for c in sorted(forced) if warm_steps <= c[0] < end]
    while k < end:
        while crashes and crashes[0][0] < k:
            crashes.pop(0)
        if crashes and crashes[0][0] == k:
            state = REGIMES.index(Regime.CASCADE)
        spec = SPECS[REGIMES[state]]
        hours = crashes.pop(0)[1] if crashes and crashes[0][0] == k else None
        hours = int(rng.integers(spec.hours[0], spec.hours[1] + 1)) if hours is None else hours
        price = (spec.price_pull, spec.price_shift(rng, hours), spec.price_gain, spec.rate)
        oi = (spec.oi_pull, spec.oi_shift(rng, hours), spec.oi_gain, spec.long_tilt * tilt_scale)
        stop = k + hours * MINUTE_STEPS_PER_HOUR
        if crashes and crashes[0][0] < stop:
            stop = crashes[0][0]  # cut short: the next pass starts the forced cascade
        rows.append((k, stop, state, price, oi))
        k = stop
        state = int(rng.choice(len(REGIMES), p=transitions[state]))
    rows.append((k, np.iinfo(np.int64).max, 0, (0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 0.0)))
    return Segments(
        bounds=np.array([(r[0], r[1]) for r in rows], dtype=np.int64),
        regime=np.array([r[2] for r in rows], dtype=np.int8),
        price=np.array([r[3] for r in rows], dtype=np.float64),
        oi=np.array([r[4] for r in rows], dtype=np.float64),
    )


def labels_at(segments: Segments, steps: np.ndarray) -> np.ndarray:
    """Regime index in force at each step (e.g. each bar's first step)."""
    idx = np.searchsorted(segments.bounds[:, 0], steps, side="right") - 1
    return segments.regime[idx]
