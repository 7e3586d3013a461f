"""Liquidation prices of isolated positions (SPEC section 6).

Binance, "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts":
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

Bybit states its maintenance margin on the entry value instead ("Liquidation Price (USDT Contract)",
https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract, and "Liquidation Price
Calculation under Isolated Mode (Unified Trading Account)",
https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account):

    linear   LP = EP -/+ (IM - MM) / Q,    IM = Q EP / L,  MM = Q EP MMR - deduction
    inverse  LP = C / (C/EP +/- (IM - MM)), IM = (C/EP) / L, MM = (C/EP) MMR - deduction

All functions broadcast over numpy arrays. ``side`` is the sign of :class:`oiradar.model.Side`:
+1 (or any positive number) for long, -1 for short.

:func:`linear_lp` is the Binance linear formula written once, as plain arithmetic: the numpy
functions here call it on arrays, and the simulator's numba engine compiles the same function
(``njit(linear_lp)``), so the two agree to the last bit.
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
    """Binance liquidation price using the bracket of the notional **at the liquidation price**.

    ``qty`` is base units for linear contracts and USD face value for inverse ones. Start from the
    bracket at entry; where the notional at the resulting price falls in another bracket, recompute
    with that bracket (Binance's note on both liquidation pages), until no price changes bracket.
    """
    s, ep, lev, q = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (side, entry, leverage, qty))
    )
    tier = tiers.index(_notional(q, ep, inverse))
    for _ in range(len(tiers.cap) + 1):
        lp = _lp_in_tier(s, ep, lev, q, tiers, tier, inverse)
        with np.errstate(divide="ignore"):
            new = tiers.index(_notional(q, lp, inverse))
        if np.array_equal(new, tier):
            break
        tier = new
    return TieredLiq(price=lp, mmr=tiers.mmr[tier], cum=tiers.cum[tier], tier=tier)


def _notional(
    q: NDArray[np.float64], price: NDArray[np.float64], inverse: bool
) -> NDArray[np.float64]:
    return q / price if inverse else q * price


def _lp_in_tier(
    s: NDArray[np.float64], ep: NDArray[np.float64], lev: NDArray[np.float64], q: NDArray[np.float64],
    tiers: TierTable, tier: NDArray[np.intp], inverse: bool,
) -> NDArray[np.float64]:  # fmt: skip
    mmr, cum = tiers.mmr[tier], tiers.cum[tier]
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
