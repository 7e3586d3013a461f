"""Recorded real responses (``../shared/data/exchange_responses``) replayed by the fake exchange.

Where a recording covers an endpoint oiradar calls, the fake serves the venue's recorded bytes
(parsed JSON, as transcribed) instead of the synthetic market. Each :class:`Replay` says which
request it answers: the venue prefix, the path, and query parameters that must all match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "exchange_responses"


@dataclass(frozen=True, slots=True)
class Replay:
    venue: str
    path: str
    params: dict[str, str]
    body: Any
    parsed: Any  # ccxt's parsedResponse, for the tests to compare against

    def matches(self, venue: str, path: str, query: dict[str, str]) -> bool:
        return (
            venue == self.venue
            and path == self.path
            and all(query.get(k) == v for k, v in self.params.items())
        )


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((SHARED / f"ccxt_recorded__{name}.json").read_text())


def available() -> bool:
    return SHARED.is_dir()


def replays() -> list[Replay]:
    """The recordings that cover endpoints oiradar uses (empty when the data folder is absent)."""
    if not available():
        return []
    oi = _load("bybit__fetchOpenInterest")
    okx_oi = _load("okx__fetchOpenInterest")[0]
    kline = _load("bybit__fetchOHLCV")[0]
    return [
        # current OI (``oiradar record`` polls it with limit=1)
        Replay("bybit", "/v5/market/open-interest", {"category": "linear", "symbol": "BTCUSDT", "limit": "1"},
               oi[0]["httpResponse"], oi[0]["parsedResponse"]),
        Replay("bybit", "/v5/market/open-interest", {"category": "inverse", "symbol": "BTCUSD", "limit": "1"},
               oi[1]["httpResponse"], oi[1]["parsedResponse"]),
        Replay("okx", "/api/v5/public/open-interest", {"instId": "BTC-USDT-SWAP"},
               okx_oi["httpResponse"], okx_oi["parsedResponse"]),
        # three 1h klines from 2024-01-30 16:00 UTC
        Replay("bybit", "/v5/market/kline",
               {"category": "linear", "symbol": "BTCUSDT", "interval": "60", "start": "1706630400000"},
               kline["httpResponse"], kline["parsedResponse"]),
    ]  # fmt: skip
