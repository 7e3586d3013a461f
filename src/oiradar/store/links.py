"""Price links: the series an OI-only market takes its prices from, kept in the catalog.

Some sources give open interest without prices (Coinalyze's per-venue OI, Binance's OI history):
``oiradar link okx:BTC/USDT:USDT --prices binance:BTC/USDT`` records once that the OHLCV of
``okx BTC/USDT:USDT`` come from ``binance BTC/USDT``, and every analysis command uses it (a
``--prices`` option overrides it). The links live in one small file, ``<home>/catalog/links.json``::

    {"version": 1, "prices": {"okx:BTC/USDT:USDT": "binance:BTC/USDT"}}

It is written atomically (temporary file, fsync, rename) under the catalog's write lock, and every
name in it is checked on the way in and on the way out, like the catalog's folder names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oiradar.errors import InputError, StoreError
from oiradar.model import parse_symbol, validate_exchange_name
from oiradar.store.atomic import damaged, write_bytes_atomic

LINKS_FILE = "links.json"
_VERSION = 1

Market = tuple[str, str]  # (exchange, symbol)


def market_name(market: Market) -> str:
    """``(okx, BTC/USDT:USDT)`` -> ``okx:BTC/USDT:USDT`` (the form users type)."""
    return f"{market[0]}:{market[1]}"


def checked_market(exchange: str, symbol: str) -> Market:
    """``(exchange, symbol)`` when both are valid names, else :class:`InputError`."""
    validate_exchange_name(exchange)
    parse_symbol(symbol)
    return exchange, symbol


def _parse_name(text: object) -> Market:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not EXCHANGE:SYMBOL")
    exchange, sep, symbol = text.partition(":")
    if not sep:
        raise ValueError(f"{text!r} is not EXCHANGE:SYMBOL")
    return checked_market(exchange, symbol)


def read_links(root: Path) -> dict[Market, Market]:
    """Every price link of the catalog at ``root``: market -> the market its prices come from."""
    path = root / LINKS_FILE
    try:
        data: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise damaged(path, f"not valid JSON: {exc}") from None
    try:
        return {_parse_name(k): _parse_name(v) for k, v in data["prices"].items()}
    except (AttributeError, KeyError, TypeError, ValueError, InputError) as exc:
        raise damaged(path, f"unexpected content: {exc}") from None


def write_links(root: Path, links: dict[Market, Market]) -> None:
    """Replace the links file atomically (call with the catalog's write lock held)."""
    body = {
        "version": _VERSION,
        "prices": {market_name(k): market_name(v) for k, v in sorted(links.items())},
    }
    write_bytes_atomic(root / LINKS_FILE, (json.dumps(body, indent=1) + "\n").encode())


__all__ = ["LINKS_FILE", "Market", "checked_market", "market_name", "read_links", "write_links"]
