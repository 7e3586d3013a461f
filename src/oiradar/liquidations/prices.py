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

All functions broadcast over numpy arrays. ``side`` is +1 for long, -1 for short.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def liq_price_linear(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike,
    cum: ArrayLike = 0.0, qty: ArrayLike = 1.0,
) -> NDArray[np.float64]:  # fmt: skip
    """Liquidation price of an isolated USDT-margined position (0 when it cannot be liquidated)."""
    s, ep, lev, m, c, q = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (side, entry, leverage, mmr, cum, qty))
    )
    long_lp = (ep * (1.0 - 1.0 / lev) - c / q) / (1.0 - m)
    short_lp = (ep * (1.0 + 1.0 / lev) + c / q) / (1.0 + m)
    return np.maximum(np.where(s > 0, long_lp, short_lp), 0.0)


def liq_price_inverse(
    side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, mmr: ArrayLike
) -> NDArray[np.float64]:
    """Liquidation price of an isolated coin-margined position (inf for a 1x short: never)."""
    s, ep, lev, m = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (side, entry, leverage, mmr))
    )
    long_lp = ep * (1.0 + m) / (1.0 + 1.0 / lev)
    with np.errstate(divide="ignore"):
        short_lp = np.where(lev > 1.0, ep * (1.0 - m) / (1.0 - 1.0 / np.where(lev > 1.0, lev, 2.0)), np.inf)
    return np.where(s > 0, long_lp, short_lp)
