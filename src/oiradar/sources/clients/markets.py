"""The perpetuals of a venue with what oiradar can fetch for them (``oiradar markets``)."""

from __future__ import annotations

import polars as pl

from oiradar.config import Settings
from oiradar.sources.clients.rest import RestClient
from oiradar.sources.clients.retry import RetryReport
from oiradar.sources.decode.venues import Dataset, venue_for


async def list_markets(exchange: str, settings: Settings, report: RetryReport) -> pl.DataFrame:
    """The venue's perpetuals with what oiradar can fetch for them (``oiradar markets``)."""
    venue = venue_for(exchange)
    async with RestClient(exchange, settings, report, venue.ccxt_options) as rest:
        markets = await rest.load_markets()
    rows = [
        {
            "symbol": m["symbol"],
            "id": m["id"],
            "margin": "inverse" if m.get("inverse") else "linear",
            "contract_size": float(m.get("contractSize") or 1.0),
            "active": bool(m.get("active", True)),
            "ohlcv": True,
            "oi_history": venue.oi_history,
            "funding": True,
            "long_short_ratio": Dataset.LONG_SHORT in venue.datasets(),
            "liquidations": venue.liquidation_stream,
        }
        for m in markets.values()
        if m.get("swap") and m.get("contract")
    ]
    return pl.DataFrame(rows).sort("symbol") if rows else pl.DataFrame()
