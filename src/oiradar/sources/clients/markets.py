"""The perpetuals of a venue with what oiradar can fetch for them (``oiradar markets``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from oiradar.config import Settings
from oiradar.sources.clients.rest import MarketsCache, RestClient
from oiradar.sources.clients.retry import RetryReport
from oiradar.sources.decode.venues import Dataset, Venue, venue_for


@dataclass(frozen=True)
class MarketList:
    """The venue's perpetuals; ``cached_at`` (epoch ms) when the kept list stood in, offline."""

    frame: pl.DataFrame
    cached_at: int | None = None
    offline_reason: str = ""  # why the venue could not be reached, then


async def list_markets(exchange: str, settings: Settings, report: RetryReport) -> pl.DataFrame:
    """The venue's perpetuals with what oiradar can fetch for them (``oiradar markets``)."""
    return (await load_market_list(exchange, settings, report)).frame


async def load_market_list(
    exchange: str, settings: Settings, report: RetryReport, cache: MarketsCache | None = None
) -> MarketList:
    """:func:`list_markets`, keeping the list in ``cache``, which stands in when offline."""
    venue = venue_for(exchange)
    async with RestClient(exchange, settings, report, venue.ccxt_options, cache) as rest:
        markets = await rest.load_markets()
        cached_at = rest.cached[0] if rest.cached is not None else None
        reason = rest.offline_reason
    return MarketList(_rows(markets, venue), cached_at, reason)


def _rows(markets: dict[str, Any], venue: Venue) -> pl.DataFrame:
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
