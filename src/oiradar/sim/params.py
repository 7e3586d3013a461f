"""Simulator parameters and presets.

A preset is a :class:`SimParams`; ``simulate(preset, **overrides)`` replaces fields by name
(an unknown name is an error that suggests the close match).

Presets:

- ``ksm``: a KSM/USDT-like perpetual: price around $25 (typically $10-60), OI around 0.8M KSM
  ($5-50M), one regime chain drives price and OI, a distribution ends in a cascade 60 % of the time.
- ``planted``: the seed's story made true: OI built by leveraged longs, distributed near the highs,
  then a cascade 85 % of the time. The OI path carries information about future price.
- ``null``: the same regimes, but price and OI follow **independent** chains and leverage is not
  tilted, so the OI path carries no information about future price.
- ``btc``: a BTC/USDT-like market (larger lots and OI), coupled like ``ksm``.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np

from oiradar.errors import InputError
from oiradar.model import MarginType, margin_type


@dataclass(frozen=True, kw_only=True)
class SimParams:
    """Everything that shapes a simulated market (units: base asset, quote currency, minutes)."""

    preset: str = "ksm"
    symbol: str = "KSM/USDT:USDT"
    price0: float = 25.0  # start and long-run price level
    oi0: float = 600_000.0  # long-run one-sided OI level, base units
    # Position sizes (base units) and their weights: every position is one of these lots.
    lots: tuple[float, ...] = (10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
    lot_weights: tuple[float, ...] = (0.20, 0.20, 0.18, 0.14, 0.10, 0.08, 0.05, 0.03, 0.02)
    # Leverage mix (SPEC section 6 default): 5x 15 %, 10x 30 %, 25x 25 %, 50x 20 %, 100x 10 %.
    leverages: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0)
    leverage_weights: tuple[float, ...] = (0.15, 0.30, 0.25, 0.20, 0.10)
    # Maximum leverage by notional (quote), like a venue's leverage brackets: (max notional, max lev).
    leverage_brackets: tuple[tuple[float, float], ...] = (
        (5_000.0, 100.0), (25_000.0, 50.0), (50_000.0, 25.0), (float("inf"), 10.0),
    )  # fmt: skip
    # Maintenance margin tiers: (max notional in quote, mmr, maintenance amount cum).
    mmr_tiers: tuple[tuple[float, float, float], ...] = ((float("inf"), 0.005, 0.0),)
    stop_share: float = 0.7  # share of traders with a stop-loss
    stop_frac: float = 0.5  # where the stop sits: this fraction of the way from entry to liq price
    trade_rate: float = 1.2  # position trades per minute in a neutral regime
    churn_ratio: float = 1.5  # intermediated volume per unit of position-trade volume
    churn_floor: float = 20.0  # mean intermediated volume per minute even without position trades
    depth: float = 900_000.0  # base units whose market order moves log price by 1.0
    liq_impact: float = 1.0  # impact multiplier of forced orders
    liq_ref_qty: float = (
        500.0  # triggered flow Q in a minute moves log price by sqrt(Q x ref) / depth
    )
    premium_k: float = 0.003  # premium per unit of taker imbalance
    interest: float = 0.0001  # interest component per 8 h (Binance: 0.01 %)
    interest_clamp: float = 0.0005
    funding_cap: float = 0.0075
    funding_hours: int = 8
    sentiment_sd: float = 0.05  # stationary sd of the traders' mood added to p_buy
    sentiment_hours: float = 4.0  # its half-life scale
    reversal_prob: float = 0.6  # distribution -> cascade probability
    coupled: bool = True  # False: price and OI follow independent regime chains (the null)
    long_tilt_scale: float = 1.0  # 0 removes the leverage tilt of longs in OI-building regimes
    warmup_days: int = 4

    def __post_init__(self) -> None:
        check_linear(self.symbol)
        for name in ("price0", "oi0", "trade_rate", "depth"):
            if not getattr(self, name) > 0:
                raise InputError(
                    f"sim parameter {name} must be > 0", column=name, value=getattr(self, name)
                )
        _check_mix("lots", self.lots, self.lot_weights)
        _check_mix("leverages", self.leverages, self.leverage_weights)
        if min(self.leverages) <= 1.0 or max(self.leverages) > 125.0:
            raise InputError(
                "leverages must be in (1, 125]", column="leverages", value=self.leverages
            )
        if not self.mmr_tiers or self.mmr_tiers[-1][0] != float("inf"):
            raise InputError(
                "mmr_tiers must end with an unbounded tier (inf, mmr, cum)", column="mmr_tiers"
            )
        if not self.leverage_brackets or self.leverage_brackets[-1][0] != float("inf"):
            raise InputError(
                "leverage_brackets must end with an unbounded bracket (inf, max lev)",
                column="leverage_brackets",
            )
        if not 0.0 <= self.reversal_prob <= 1.0:
            raise InputError(
                "reversal_prob must be in [0, 1]", column="reversal_prob", value=self.reversal_prob
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_linear(symbol: str) -> None:
    """The simulator models linear (USDT-margined) contracts: quantities in base, PnL in quote."""
    if margin_type(symbol) is not MarginType.LINEAR:
        raise InputError(
            f"the simulator models linear (USDT-margined) contracts; {symbol!r} is coin-margined",
            column="symbol",
            value=symbol,
        )


def _check_mix(name: str, values: tuple[float, ...], weights: tuple[float, ...]) -> None:
    if len(values) != len(weights) or not values:
        raise InputError(f"{name} and its weights must have the same, non-zero length", column=name)
    if any(w < 0 for w in weights) or not np.isclose(sum(weights), 1.0):
        raise InputError(f"{name} weights must be >= 0 and sum to 1", column=name, value=weights)


PRESETS: dict[str, SimParams] = {
    "ksm": SimParams(preset="ksm"),
    "planted": SimParams(preset="planted", reversal_prob=0.85, sentiment_sd=0.04),
    "null": SimParams(preset="null", coupled=False, long_tilt_scale=0.0, reversal_prob=0.85),
    "btc": SimParams(
        preset="btc", symbol="BTC/USDT:USDT", price0=60_000.0, oi0=60_000.0,
        lots=(0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0), trade_rate=1.5,
        depth=85_000.0, liq_ref_qty=25.0, warmup_days=6, churn_floor=1.0,
        leverage_brackets=(
            (100_000.0, 100.0), (500_000.0, 50.0), (2_000_000.0, 25.0), (float("inf"), 10.0),
        ),
        mmr_tiers=((50_000.0, 0.004, 0.0), (250_000.0, 0.005, 50.0), (float("inf"), 0.01, 1_300.0)),
    ),
}  # fmt: skip


def resolve_params(preset: str = "ksm", **overrides: Any) -> SimParams:
    """The preset's parameters with ``overrides`` applied (names checked)."""
    if preset not in PRESETS:
        close = difflib.get_close_matches(preset, list(PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown sim preset {preset!r}{hint} (presets: {', '.join(PRESETS)})")
    fields = {f.name for f in dataclasses.fields(SimParams)} - {"preset"}
    for name in overrides:
        if name not in fields:
            close = difflib.get_close_matches(name, sorted(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown sim parameter {name!r}{hint}", column=name)
    return dataclasses.replace(PRESETS[preset], **overrides)
