"""``liqprice``: the liquidation price of one isolated position, by venue (Binance, Bybit, OKX) with
the venue's notional tiers; the formulas and the pages they follow are in
:mod:`oiradar.liquidations.prices`.

Light on purpose: it loads the formulas and the tier tables, never the level model's numba kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from oiradar.errors import InputError
from oiradar.liquidations import TierTable, liq_price_tiered, load_tiers
from oiradar.liquidations.tiers import snapshot_note
from oiradar.model import MarginType, Side, margin_type

BINANCE_USDM = "https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93"
BINANCE_COINM = "https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46"
BYBIT_USDT = "https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract"
BYBIT_INVERSE = (
    "https://www.bybit.com/en/help-center/article/"
    "Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account"
)
OKX_RULES = "https://www.okx.com/help/v-tiered-maintenance-margin-ratio-rules"
PAGES = {("binance", False): BINANCE_USDM, ("binance", True): BINANCE_COINM,
         ("bybit", False): BYBIT_USDT, ("bybit", True): BYBIT_INVERSE,
         ("okx", False): OKX_RULES, ("okx", True): OKX_RULES}  # fmt: skip
VENUES = ("binanceusdm", "binancecoinm", "bybit", "okx")  # the venues with a formula here


@dataclass(frozen=True)
class LiqPriceQuery:
    side: Side
    entry: float
    leverage: float
    qty: float = 1.0  # base units (linear) or USD face value (inverse)
    mmr: float | None = None  # maintenance margin rate; None: the venue's tier for the size
    cum: float = 0.0  # maintenance amount (Bybit: deduction), with ``mmr``
    inverse: bool = False  # coin-margined (decided by ``symbol`` when one is given)
    exchange: str | None = None  # the venue whose formula and tiers apply (default: Binance)
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
    warning: str | None = None  # the leverage is above the venue's maximum for this size
    formula: str = "binance"  # whose formula: binance, bybit or okx
    fee: float = 0.0  # the taker fee rate the formula counts (OKX)
    at_once: str | None = None  # why the position would be liquidated as soon as it opens

    @property
    def liquidated_at_once(self) -> bool:
        return self.at_once is not None

    def to_dict(self) -> dict[str, Any]:
        """The fields in the order scripts have read them, absent ones left out."""
        out: dict[str, Any] = {"side": str(self.side), "entry": self.entry,
                               "leverage": self.leverage, "qty": self.qty, "inverse": self.inverse,
                               "kind": "formula", "formula": self.formula, "source": self.source,
                               "mmr": self.mmr, "cum": self.cum}  # fmt: skip
        if self.formula == "okx":
            out["fee"] = self.fee
        if self.tier is not None:
            out["tier"] = self.tier
        out["tiers"] = self.tiers
        if self.max_leverage_at_size is not None:
            out["max_leverage_at_size"] = self.max_leverage_at_size
        warnings = [w for w in (self.at_once, self.warning) if w is not None]
        if warnings:
            out["warning"] = "; ".join(warnings)
        return out | {"liquidated_at_once": self.liquidated_at_once,
                      "liq_price": self.liq_price, "distance_pct": self.distance_pct}  # fmt: skip


def liquidation_price(q: LiqPriceQuery) -> LiqPrice:
    """The calculator: the venue's formula, with ``mmr`` as given or the venue's tier for the size."""
    for name, v, ok in (("--entry", q.entry, q.entry > 0), ("--leverage", q.leverage, q.leverage >= 1),
                        ("--qty", q.qty, q.qty > 0)):  # fmt: skip
        if not (ok and math.isfinite(v)):
            raise InputError(f"{name} {v:g} is out of range: need --entry > 0, --leverage >= 1 "
                             "and --qty > 0")  # fmt: skip
    if q.mmr is not None and not 0 <= q.mmr < 1:
        raise InputError(f"--mmr {q.mmr:g} is out of range: a rate in [0, 1) (0.004 = 0.4 %)")
    inverse = margin_type(q.symbol) is MarginType.INVERSE if q.symbol else q.inverse
    table = load_tiers(_venue(q.exchange, inverse), q.symbol or _any_symbol(inverse))
    if q.mmr is not None:
        table = _given(table, q.mmr, q.cum)
    r = liq_price_tiered(q.side.sign, q.entry, q.leverage, q.qty, table, inverse=inverse)
    lp, tier = float(r.price), int(r.tier)
    max_lev = float(table.max_leverage[tier])
    warning = None
    if q.mmr is None and q.leverage > max_lev:
        warning = f"{q.leverage:g}x exceeds the venue's {max_lev:g}x for this size"
    snapshot = snapshot_note(table.exchange) if q.mmr is None else None
    if snapshot is not None:
        warning = snapshot if warning is None else f"{warning}; {snapshot}"
    return LiqPrice(
        side=q.side, entry=q.entry, leverage=q.leverage, qty=q.qty, inverse=inverse,
        source=PAGES[table.formula, inverse], mmr=float(r.mmr), cum=float(r.cum),
        tiers=table.origin, liq_price=lp, distance_pct=_distance(lp, q.entry),
        tier=None if q.mmr is not None else tier + 1,
        max_leverage_at_size=None if q.mmr is not None else max_lev, warning=warning,
        formula=table.formula, fee=table.fee, at_once=_at_once(q, lp, table, tier),
    )  # fmt: skip


def _venue(exchange: str | None, inverse: bool) -> str:
    if exchange is None:
        return "binancecoinm" if inverse else "binanceusdm"
    if exchange not in VENUES:
        raise InputError(f"--exchange {exchange!r} has no liquidation formula here; "
                         f"known venues: {', '.join(VENUES)}")  # fmt: skip
    return exchange


def _any_symbol(inverse: bool) -> str:
    return "ANY/USD:ANY" if inverse else "ANY/USDT:USDT"


def _given(table: TierTable, mmr: float, cum: float) -> TierTable:
    """One unbounded tier of the given rate and amount, with the venue's formula and fee."""
    one = np.ones(1)
    return TierTable(exchange=table.exchange, symbol=table.symbol, origin="given",
                     notional_unit=table.notional_unit, floor=0 * one, cap=np.inf * one,
                     mmr=mmr * one, cum=cum * one, max_leverage=np.inf * one,
                     formula=table.formula, fee=table.fee)  # fmt: skip


def _at_once(q: LiqPriceQuery, lp: float, table: TierTable, tier: int) -> str | None:
    """A liquidation price at or past the entry: the margin does not cover maintenance."""
    long = q.side is Side.LONG
    if not math.isfinite(lp) or (lp < q.entry if long else lp > q.entry):
        return None
    mm = f"{100 * float(table.mmr[tier]):.4g}%" + (
        f" + {100 * table.fee:.4g}% fee" if table.formula == "okx" else ""
    )
    return (f"liquidated at once: {100 / q.leverage:.4g}% of margin at {q.leverage:g}x does not "
            f"cover the {mm} maintenance margin; the liquidation price is already "
            f"{'above' if long else 'below'} the entry")  # fmt: skip


def _distance(lp: float, entry: float) -> float:
    return 100.0 * (lp / entry - 1.0) if math.isfinite(lp) else math.inf


__all__ = ["VENUES", "LiqPrice", "LiqPriceQuery", "liquidation_price"]
