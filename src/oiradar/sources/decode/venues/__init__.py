"""Venue adapters, one module per venue, the same shape in each (see :mod:`.base`)."""

from __future__ import annotations

import difflib

from oiradar.errors import InputError
from oiradar.sources.decode.venues.base import Dataset, MarketInfo, OiUnit, RestCall, Venue
from oiradar.sources.decode.venues.binance import BinanceCoinm, BinanceUsdm
from oiradar.sources.decode.venues.bybit import Bybit
from oiradar.sources.decode.venues.generic import GenericCcxt
from oiradar.sources.decode.venues.okx import Okx

_ADAPTERS: dict[str, type[Venue]] = {
    "binanceusdm": BinanceUsdm,
    "binancecoinm": BinanceCoinm,
    "bybit": Bybit,
    "okx": Okx,
}
SUPPORTED = tuple(_ADAPTERS)


def venue_for(exchange_id: str) -> Venue:
    """The adapter of a venue: a dedicated one, else ccxt's unified methods for any venue whose
    ``has['fetchOpenInterestHistory']`` is true; anything else is refused with the list."""
    cls = _ADAPTERS.get(exchange_id)
    if cls is not None:
        return cls()
    if GenericCcxt.supports(exchange_id):
        return GenericCcxt(exchange_id)
    close = difflib.get_close_matches(exchange_id, SUPPORTED, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(
        f"no fetcher for exchange {exchange_id!r}{hint} (supported: {', '.join(SUPPORTED)}, "
        "and any ccxt venue whose has['fetchOpenInterestHistory'] is true)"
    )


__all__ = ["SUPPORTED", "Dataset", "MarketInfo", "OiUnit", "RestCall", "Venue", "venue_for"]
