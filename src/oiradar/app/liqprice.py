"""``liqprice``: the liquidation price of one isolated position (Binance formulas, notional tiers).

Light on purpose: it loads the formulas and the tier tables, never the level model's numba kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from oiradar.errors import InputError
from oiradar.liquidations import liq_price_inverse, liq_price_linear, liq_price_tiered, load_tiers
from oiradar.model import MarginType, Side, margin_type

BINANCE_USDM = "https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93"
BINANCE_COINM = "https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46"


@dataclass(frozen=True)
class LiqPriceQuery:
    side: Side
    entry: float
    leverage: float
    qty: float = 1.0  # base units (linear) or USD face value (inverse)
    mmr: float | None = None  # maintenance margin rate; None: the venue's tier for the size
    cum: float = 0.0  # maintenance amount, with ``mmr``
    inverse: bool = False  # coin-margined (decided by ``symbol`` when one is given)
    exchange: str | None = None
    symbol: str | None = None  # picks the tier table


@dataclass(frozen=True)
class LiqPrice:
    side: Side
    entry: float
    leverage: float
    qty: float
    inverse: bool
    source: str  # the venue's page the formula follows
    mmr: float
    cum: float
    tiers: str  # the tier table's origin, or "given" with --mmr
    liq_price: float
    distance_pct: float  # from entry, in percent
    tier: int | None = None  # 1-based tier of the position's notional
    max_leverage_at_size: float | None = None
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields in the order scripts have read them, absent ones left out."""
        out: dict[str, Any] = {"side": str(self.side), "entry": self.entry,
                               "leverage": self.leverage, "qty": self.qty, "inverse": self.inverse,
                               "kind": "formula", "source": self.source, "mmr": self.mmr,
                               "cum": self.cum}  # fmt: skip
        if self.tier is not None:
            out["tier"] = self.tier
        out["tiers"] = self.tiers
        if self.max_leverage_at_size is not None:
            out["max_leverage_at_size"] = self.max_leverage_at_size
        if self.warning is not None:
            out["warning"] = self.warning
        return out | {"liq_price": self.liq_price, "distance_pct": self.distance_pct}


def liquidation_price(q: LiqPriceQuery) -> LiqPrice:
    """The calculator: with ``mmr`` the plain formula, else the venue's tier for the size."""
    if q.entry <= 0 or q.leverage < 1 or q.qty <= 0:
        raise InputError("need --entry > 0, --leverage >= 1 and --qty > 0")
    inverse = margin_type(q.symbol) is MarginType.INVERSE if q.symbol else q.inverse
    base: dict[str, Any] = {"side": q.side, "entry": q.entry, "leverage": q.leverage, "qty": q.qty,
            "inverse": inverse, "source": BINANCE_COINM if inverse else BINANCE_USDM}  # fmt: skip
    if q.mmr is not None:
        f = liq_price_inverse if inverse else liq_price_linear
        lp = float(f(q.side.sign, q.entry, q.leverage, q.mmr, q.cum, q.qty))
        return LiqPrice(**base, mmr=q.mmr, cum=q.cum, tiers="given", liq_price=lp,
                        distance_pct=_distance(lp, q.entry))  # fmt: skip
    return _tiered(q, inverse, base)


def _tiered(q: LiqPriceQuery, inverse: bool, base: dict[str, Any]) -> LiqPrice:
    ex = q.exchange or ("binancecoinm" if inverse else "binanceusdm")
    any_symbol = "ANY/USD:ANY" if inverse else "ANY/USDT:USDT"
    table = load_tiers(ex, q.symbol or any_symbol)
    r = liq_price_tiered(q.side.sign, q.entry, q.leverage, q.qty, table, inverse=inverse)
    lp = float(r.price)
    _, _, max_lev = table.lookup(q.qty / q.entry if inverse else q.qty * q.entry)
    warning = None
    if q.leverage > float(max_lev):
        warning = f"{q.leverage:g}x exceeds the venue's {float(max_lev):g}x for this size"
    return LiqPrice(**base, mmr=float(r.mmr), cum=float(r.cum), tiers=table.origin, liq_price=lp,
                    distance_pct=_distance(lp, q.entry), tier=int(r.tier) + 1,
                    max_leverage_at_size=float(max_lev), warning=warning)  # fmt: skip


def _distance(lp: float, entry: float) -> float:
    return 100.0 * (lp / entry - 1.0) if math.isfinite(lp) else math.inf


__all__ = ["LiqPrice", "LiqPriceQuery", "liquidation_price"]
