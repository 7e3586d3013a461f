"""The last market list each venue gave, kept so that ``markets`` and ``fetch --dry-run`` work offline.

``<home>/cache/markets/<exchange>.json`` holds, per venue, the perpetual and futures markets of the
last successful ``load_markets`` (only the fields oiradar reads), with the time it was loaded::

    {"version": 1, "exchange": "binanceusdm", "saved_at": 1733356800000,
     "markets": {"KSM/USDT:USDT": {"symbol": "KSM/USDT:USDT", "id": "KSMUSDT", "swap": true, ...}}}

It is written atomically (temporary file, fsync, rename): a reader sees the old list or the new one.
It is a cache: a file that cannot be read is reported as such and never stops a command online.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oiradar.model import now_ms, validate_exchange_name
from oiradar.store.atomic import write_bytes_atomic
from oiradar.store.paths import contained

_VERSION = 1
# What oiradar reads of a ccxt market (``MarketInfo.from_ccxt``, ``oiradar markets``).
KEPT = ("symbol", "id", "base", "quote", "settle", "type", "swap", "future", "contract", "linear",
        "inverse", "contractSize", "active")  # fmt: skip
KEPT_INFO = ("pair",)  # venue ids inside ``info`` (Binance COIN-M's ``pair``)


@dataclass(frozen=True)
class CachedMarkets:
    """A venue's market list as last loaded: ``markets`` in ccxt's shape, ``saved_at`` epoch ms."""

    exchange: str
    saved_at: int
    markets: dict[str, dict[str, Any]]
    path: Path


def markets_cache_dir(home: Path) -> Path:
    return home / "cache" / "markets"


def markets_cache_path(home: Path, exchange: str) -> Path:
    """``<home>/cache/markets/<exchange>.json``, checked to lie inside the home."""
    path = markets_cache_dir(home) / f"{validate_exchange_name(exchange)}.json"
    return contained(path, home, "the home folder")


def _slim(market: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: market[k] for k in KEPT if k in market}
    info = market.get("info")
    if isinstance(info, Mapping):
        kept["info"] = {k: info[k] for k in KEPT_INFO if k in info}
    return kept


def save_markets(home: Path, exchange: str, markets: Mapping[str, Mapping[str, Any]]) -> Path:
    """Keep the contract markets of ``markets`` (ccxt's ``load_markets`` result) for offline use."""
    path = markets_cache_path(home, exchange)
    slim = {s: _slim(m) for s, m in markets.items() if m.get("contract") or m.get("swap")}
    doc = {"version": _VERSION, "exchange": exchange, "saved_at": now_ms(), "markets": slim}
    write_bytes_atomic(path, json.dumps(doc, default=str, separators=(",", ":")).encode())
    return path


def load_cached_markets(home: Path, exchange: str) -> CachedMarkets | str:
    """The cached list of ``exchange``, or why there is none (a sentence naming the file)."""
    path = markets_cache_path(home, exchange)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return f"no market list of {exchange} is cached in {path}"
    except (OSError, ValueError) as exc:
        return f"the cached market list {path} cannot be read ({exc})"
    if not _valid(doc, exchange):
        return f"the cached market list {path} is damaged (delete it; it is rebuilt online)"
    return CachedMarkets(exchange, int(doc["saved_at"]), dict(doc["markets"]), path)


@dataclass(frozen=True)
class MarketsCacheFile:
    """The cache of one home, as the venue clients take it (``offline_ok``: may stand in)."""

    home: Path
    offline_ok: bool = False

    def save(self, exchange: str, markets: Mapping[str, Mapping[str, Any]]) -> None:
        save_markets(self.home, exchange, markets)

    def load(self, exchange: str) -> tuple[int, dict[str, Any]] | str:
        cached = load_cached_markets(self.home, exchange)
        return cached if isinstance(cached, str) else (cached.saved_at, cached.markets)


def _valid(doc: Any, exchange: str) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("version") == _VERSION
        and doc.get("exchange") == exchange
        and isinstance(doc.get("saved_at"), int)
        and isinstance(doc.get("markets"), dict)
        and all(
            isinstance(m, dict) and isinstance(m.get("symbol"), str)
            for m in doc["markets"].values()
        )
    )


__all__ = [
    "CachedMarkets",
    "MarketsCacheFile",
    "load_cached_markets",
    "markets_cache_dir",
    "markets_cache_path",
    "save_markets",
]
