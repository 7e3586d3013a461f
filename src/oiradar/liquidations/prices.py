"""Liquidation prices of isolated positions, by venue: Binance, Bybit and OKX.

All functions broadcast over numpy arrays. ``side`` is the sign of :class:`oiradar.model.Side`:
+1 (or any positive number) for long, -1 for short. ``EP`` entry, ``L`` leverage, ``Q`` quantity
(base units; for inverse contracts ``N`` is the face value in USD), ``MMR`` the tier's maintenance
margin rate and ``cum`` its maintenance amount (Bybit: "maintenance margin deduction").

**Binance**, "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts":
https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93

For one isolated position with wallet balance ``WB = Q x EP / L`` (the initial margin), the page's
``LP = (WB + cumB - side1 x Q1 x EP1) / (Q1 x MMR_B - side1 x Q1)`` reduces to

    linear long   LP = (EP x (1 - 1/L) - cum/Q) / (1 - MMR)
    linear short  LP = (EP x (1 + 1/L) + cum/Q) / (1 + MMR)

Binance, "How to Calculate Liquidation Price of COIN-M Futures Contracts":
https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-coin-m-futures-contracts-bd7e4c43d2ed4bd6a9eb2c2a3b1c0c1a
with ``cum = 0``:

    inverse long  LP = EP x (1 + MMR) / (1 + 1/L)
    inverse short LP = EP x (1 - MMR) / (1 - 1/L)

With a maintenance amount ``cum`` (in coin) and a position of ``N`` USD of contracts the same
balance (``N/(EP L) + side x N (1/EP - 1/LP) = N MMR / LP - cum``) gives

    inverse long  LP = N (1 + MMR) / (N/EP x (1 + 1/L) + cum)
    inverse short LP = N (1 - MMR) / (N/EP x (1 - 1/L) - cum)

Tiers: the page says to use the bracket of the position's notional **at the liquidation price** and to
recalculate when it differs from the bracket at entry; :func:`liq_price_tiered` does that.

**Bybit** values the maintenance margin at entry, "Liquidation Price (USDT Contract)",
https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract (isolated margin, no
extra margin added):

    linear   LP = EP -/+ (IM - MM) / Q,    IM = Q EP / L,  MM = Q EP MMR - deduction

and "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)",
https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account,
for inverse contracts:

    inverse  LP = N / (PV +/- (IM - MM)), PV = N/EP, IM = PV / L, MM = PV MMR - deduction

``MMR`` and ``deduction`` are those of the risk-limit tier of the position value **at entry**
(Bybit, "Maintenance Margin (USDT Contract)"). The UTA page adds the estimated fee to close to both
IM and MM, so it cancels out of ``IM - MM``.

**OKX**, isolated margin: a position is liquidated when its margin ratio falls to 100 %, "your
account equity is equal to or less than the required maintenance margin plus any applicable
liquidation fees" (OKX, "Tiered maintenance margin ratio rules",
https://www.okx.com/help/v-tiered-maintenance-margin-ratio-rules), the maintenance margin being the
tier's rate on the whole position value (no amount) and the fee the taker fee on it. OKX's
estimated liquidation price for USDT-margined swaps in isolated mode is
``(margin - Q x EP) / (Q x (MMR + fee - 1))`` (long) and ``(margin + Q x EP) / (Q x (MMR + fee + 1))``
(short), ``Q`` being contracts x contract value; with ``margin = Q EP / L``:

    linear long   LP = EP x (1 - 1/L) / (1 - MMR - fee)
    linear short  LP = EP x (1 + 1/L) / (1 + MMR + fee)
    inverse long  LP = EP x (1 + MMR + fee) / (1 + 1/L)
    inverse short LP = EP x (1 - MMR - fee) / (1 - 1/L)

that is Binance's formulas with ``MMR + fee`` and no maintenance amount. OKX's position tiers count
contracts (base units here), so the tier does not depend on price.

:func:`linear_lp` is the Binance linear formula written once, as plain arithmetic: the numpy
functions here call it on arrays, and the simulator's numba engine compiles the same function
(``njit(linear_lp)``), so the two agree to the last bit. :func:`position_lp` is every venue's
tiered linear price for one position, also plain arithmetic: the backtest engine compiles it and
paper trading runs it as Python; a test holds it equal to :func:`liq_price_tiered`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oiradar.liquidations.tiers import TierTable


def linear_lp(sign: Any, entry: Any, leverage: Any, mmr: Any, cum: Any, qty: Any) -> Any:
    """Binance linear isolated ``LP`` before the floor at 0; ``sign`` exactly +1 (long) or -1 (short).

    ``(EP x (1 - sign/L) - sign x cum/Q) / (1 - sign x MMR)`` is the module docstring's long and
    short formulas in one: negating an operand is exact in floating point, so each side gets the
    same bits as its own formula. Plain arithmetic on purpose: floats, numpy arrays, and numba
    (the simulator jits this very function).
    """
    return (entry * (1.0 - sign / leverage) - sign * cum / qty) / (1.0 - sign * mmr)


def liq_price_linear(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike,
    cum: ArrayLike = 0.0, qty: ArrayLike = 1.0,
) -> NDArray[np.float64]:  # fmt: skip
    """Liquidation price of an isolated USDT-margined position (0 when it cannot be liquidated)."""
    s, ep, lev, m, c, q = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (side, entry, leverage, mmr, cum, qty))
    )
    with np.errstate(under="ignore"):  # a tiny cum/q underflowing to 0 is harmless
        lp = linear_lp(np.where(s > 0, 1.0, -1.0), ep, lev, m, c, q)
    return np.maximum(lp, 0.0)


def liq_price_inverse(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike,
    cum: ArrayLike = 0.0, contracts_usd: ArrayLike = 1.0,
) -> NDArray[np.float64]:  # fmt: skip
    """Liquidation price of an isolated coin-margined position (inf for a 1x short: never).

    ``cum`` is the bracket's maintenance amount in coin and ``contracts_usd`` the position's face
    value in USD (contracts x contract size); with ``cum = 0`` the size cancels out.
    """
    s, ep, lev, m, c, n = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (side, entry, leverage, mmr, cum, contracts_usd))
    )
    long_lp = n * (1.0 + m) / (n / ep * (1.0 + 1.0 / lev) + c)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = n / ep * (1.0 - 1.0 / lev) - c
        short_lp = np.where(den > 0, n * (1.0 - m) / np.where(den > 0, den, 1.0), np.inf)
    return np.where(s > 0, long_lp, short_lp)


@dataclass(frozen=True)
class TieredLiq:
    """A tier-aware liquidation price with the bracket it was computed in."""

    price: NDArray[np.float64]
    mmr: NDArray[np.float64]
    cum: NDArray[np.float64]
    tier: NDArray[np.intp]  # 0-based bracket index


def liq_price_tiered(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, qty: ArrayLike, tiers: TierTable,
    *, inverse: bool = False,
) -> TieredLiq:  # fmt: skip
    """The liquidation price by the venue formula of ``tiers`` (``tiers.formula``) in its tier.

    ``qty`` is base units for linear contracts and USD face value for inverse ones. Binance: start
    from the bracket at entry; where the notional at the resulting price falls in another bracket,
    recompute with that bracket (Binance's note on both liquidation pages), until no price changes
    bracket. Bybit and OKX: the tier of the position at entry (module docstring).
    """
    s, ep, lev, q = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (side, entry, leverage, qty))
    )
    tier = tiers.index(tiers.size(q, ep, inverse))
    lp = _lp_in_tier(s, ep, lev, q, tiers, tier, inverse)
    if tiers.formula == "binance":
        for _ in range(len(tiers.cap) + 1):
            new = tiers.index(tiers.size(q, lp, inverse))
            if np.array_equal(new, tier):
                break
            tier = new
            lp = _lp_in_tier(s, ep, lev, q, tiers, tier, inverse)
    return TieredLiq(price=lp, mmr=tiers.mmr[tier], cum=tiers.cum[tier], tier=tier)


def _lp_in_tier(
    s: NDArray[np.float64], ep: NDArray[np.float64], lev: NDArray[np.float64], q: NDArray[np.float64],
    tiers: TierTable, tier: NDArray[np.intp], inverse: bool,
) -> NDArray[np.float64]:  # fmt: skip
    mmr, cum = tiers.mmr[tier], tiers.cum[tier]
    if tiers.formula == "bybit" and inverse:
        return liq_price_inverse_bybit(s, ep, lev, mmr, cum, q)
    if tiers.formula == "bybit":
        return liq_price_linear_bybit(s, ep, lev, mmr, cum, q)
    if tiers.formula == "okx" and inverse:
        return liq_price_inverse_okx(s, ep, lev, mmr, tiers.fee, q, cum)
    if tiers.formula == "okx":
        return liq_price_linear_okx(s, ep, lev, mmr, tiers.fee, q, cum)
    if inverse:
        return liq_price_inverse(s, ep, lev, mmr, cum, q)
    return liq_price_linear(s, ep, lev, mmr, cum, q)


def liq_price_linear_bybit(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike,
    deduction: ArrayLike = 0.0, qty: ArrayLike = 1.0,
) -> NDArray[np.float64]:  # fmt: skip
    """Bybit USDT contract, isolated: ``EP -/+ (IM - MM)/Q`` with the maintenance margin on entry value."""
    s, ep, lev, m, d, q = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (side, entry, leverage, mmr, deduction, qty))
    )
    im = q * ep / lev
    mm = q * ep * m - d
    return np.maximum(ep - s * (im - mm) / q, 0.0)


def liq_price_inverse_bybit(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike,
    deduction: ArrayLike = 0.0, contracts_usd: ArrayLike = 1.0,
) -> NDArray[np.float64]:  # fmt: skip
    """Bybit inverse contract, isolated (UTA page): ``C / (PV +/- (IM - MM))``, ``PV = C/EP``."""
    s, ep, lev, m, d, c = np.broadcast_arrays(
        *(
            np.asarray(x, dtype=np.float64)
            for x in (side, entry, leverage, mmr, deduction, contracts_usd)
        )
    )
    pv = c / ep
    den = pv + s * (pv / lev - (pv * m - d))
    with np.errstate(divide="ignore"):
        return np.where(den > 0, c / np.where(den > 0, den, 1.0), np.inf)


def liq_price_linear_okx(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike, fee: ArrayLike = 0.0005,
    qty: ArrayLike = 1.0, cum: ArrayLike = 0.0,
) -> NDArray[np.float64]:  # fmt: skip
    """OKX USDT-margined swap, isolated: Binance's linear formula with ``MMR + fee`` (``fee``: the
    taker fee rate, 0.05 % for OKX's regular tier); OKX's tiers have no amount (``cum = 0``)."""
    return liq_price_linear(side, entry, leverage, np.add(mmr, fee), cum, qty)


def liq_price_inverse_okx(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike, fee: ArrayLike = 0.0005,
    contracts_usd: ArrayLike = 1.0, cum: ArrayLike = 0.0,
) -> NDArray[np.float64]:  # fmt: skip
    """OKX coin-margined swap, isolated: Binance's inverse formula with ``MMR + fee``."""
    return liq_price_inverse(side, entry, leverage, np.add(mmr, fee), cum, contracts_usd)


# Formula codes of :func:`position_lp` (numba cannot take the names).
BINANCE, BYBIT, OKX = 0, 1, 2
FORMULA_CODES = {"binance": BINANCE, "bybit": BYBIT, "okx": OKX}


def position_lp(
    formula: int, sign: float, entry: float, leverage: float, qty: float, tiers: Any, fee: float,
    in_base: bool,
) -> tuple[float, int]:  # fmt: skip
    """``(liquidation price, 0-based tier)`` of one linear isolated position: :func:`liq_price_tiered`
    for a scalar, written as plain loops and arithmetic so that numba compiles it (the backtest
    engine) and Python runs it (paper trading). ``tiers``: ``TierTable.as_array()`` (cap, mmr,
    cum, max leverage per row); ``in_base``: the tiers count base units (else quote value);
    ``sign`` exactly +1 or -1. The expressions are those of the numpy functions, term for term.
    """
    n = tiers.shape[0]
    size = qty if in_base else qty * entry
    t = 0
    while t < n - 1 and size > tiers[t, 0]:
        t += 1
    lp = 0.0
    for k in range(n + 2):  # the numpy version's first price and its n + 1 recalculations
        mmr, cum = tiers[t, 1], tiers[t, 2]
        if formula == BYBIT:
            lp = entry - sign * (qty * entry / leverage - (qty * entry * mmr - cum)) / qty
        elif formula == OKX:
            lp = (entry * (1.0 - sign / leverage) - sign * cum / qty) / (1.0 - sign * (mmr + fee))
        else:
            lp = (entry * (1.0 - sign / leverage) - sign * cum / qty) / (1.0 - sign * mmr)
        lp = max(lp, 0.0)
        if formula != BINANCE or in_base:
            break
        size = qty * lp
        u = 0
        while u < n - 1 and size > tiers[u, 0]:
            u += 1
        if u == t or k == n + 1:
            break
        t = u
    return lp, t
