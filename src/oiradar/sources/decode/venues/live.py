"""What ``oiradar record`` receives, decoded: a current-OI poll and ccxt.pro liquidation events.

A poll keeps both clocks (the venue's ``ts_venue`` and our ``ts_received``, STYLE habit 14). A
liquidation keeps the **position** side (SPEC section 1) and its base quantity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from oiradar.model import MarginType, Source
from oiradar.sources.decode.venues.base import MarketInfo, OiUnit, Venue

LIQUIDATION_ROW_SCHEMA: dict[str, Any] = {
    "ts": pl.Int64, "exchange": pl.String, "symbol": pl.String, "side": pl.String,
    "price": pl.Float64, "qty": pl.Float64, "quote_qty": pl.Float64, "source": pl.String,
}  # fmt: skip


def poll_row(venue: Venue, market: MarketInfo, payload: Any, received: int) -> dict[str, Any]:
    """One poll -> a row; ``oi`` in base units when the unit allows it without a price."""
    t, raw, unit, value = venue.decode_current_oi(payload, market)
    base = {
        OiUnit.BASE: raw,
        OiUnit.BASE_BOTH_SIDES: raw / 2,
        OiUnit.CONTRACTS_BASE: raw * market.contract_size,
    }.get(unit)
    return {"ts_venue": t, "ts_received": received, "exchange": venue.id, "symbol": market.symbol,
            "oi_raw": raw, "oi_unit": unit.value, "oi": base, "oi_value": value}  # fmt: skip


def liquidation_rows(
    venue: Venue, markets: Mapping[str, MarketInfo], events: Sequence[Mapping[str, Any]]
) -> pl.DataFrame:
    """ccxt.pro liquidations -> canonical rows: position side, base quantity, quote value."""
    rows = []
    for liq in events:
        market = markets.get(str(liq.get("symbol")))
        if market is None:
            continue
        price, contracts = venue.liquidation_price(liq), float(liq["contracts"])
        qty = contracts * market.contract_size
        if market.margin is MarginType.INVERSE:
            qty = qty / price  # contracts worth contract_size USD
        rows.append({"ts": int(liq["timestamp"]), "exchange": venue.id, "symbol": market.symbol,
                     "side": venue.liquidation_side(liq).value, "price": price, "qty": qty,
                     "quote_qty": qty * price, "source": Source.WS.value})  # fmt: skip
    return pl.DataFrame(rows, schema=LIQUIDATION_ROW_SCHEMA)
