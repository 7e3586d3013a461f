"""``link``: record once which series an OI-only market takes its prices from.

``oiradar link okx:BTC/USDT:USDT --prices binance:BTC/USDT`` links one market; a pattern
(``'*:BTC/*'``, shell-style) links every stored market it matches that has open interest, the
price market itself aside. ``oiradar import ... --prices EX:SYM`` links what the import wrote.
Every analysis command then reads the prices through the link; ``--prices`` overrides it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from oiradar.app.series import Market, stored_markets
from oiradar.app.session import Session
from oiradar.errors import InputError
from oiradar.store import Catalog

LINK_SCHEMA = {"exchange": pl.String, "symbol": pl.String, "prices": pl.String}


@dataclass(frozen=True)
class LinkReport:
    linked: list[tuple[str, str]]  # the markets now taking their prices from ``prices``
    prices: Market | None  # None: links removed


def _has_any(catalog: Catalog, market: tuple[str, str], columns: Iterable[str]) -> bool:
    """Whether some stored bar of ``market`` (any timeframe) has a value in one of ``columns``."""
    cols = list(columns)
    for key in catalog.stored_keys():
        if (key.exchange, key.symbol) != market:
            continue
        frame = catalog.read_stored(key).select(cols)
        if any(frame[c].null_count() < frame.height for c in cols):
            return True
    return False


def _stored_listing(stored: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{e}:{s}" for e, s in stored) or "nothing"


def _match(stored: Sequence[tuple[str, str]], pattern: str) -> list[tuple[str, str]]:
    if any(ch in pattern for ch in "*?["):
        return [m for m in stored if fnmatch.fnmatchcase(f"{m[0]}:{m[1]}", pattern)]
    market = Market.parse(pattern, "MARKET")
    return [market.pair] if market.pair in stored else []


def check_prices(catalog: Catalog, prices: Market) -> None:
    """``prices`` is a stored series with a close somewhere, else InputError."""
    stored = stored_markets(catalog)
    if prices.pair not in stored:
        raise InputError(
            f"--prices {prices}: no such series stored; stored: {_stored_listing(stored)}"
        )
    if not _has_any(catalog, prices.pair, ("close",)):
        raise InputError(f"--prices {prices}: that series has no close prices")


def link(session: Session, patterns: Sequence[str], prices: Market) -> LinkReport:
    """Link every market the patterns name to ``prices``."""
    catalog = session.catalog
    check_prices(catalog, prices)
    stored = stored_markets(catalog)
    chosen: list[tuple[str, str]] = []
    for pattern in patterns:
        found = _match(stored, pattern)
        if not found:
            raise InputError(
                f"link {pattern!r}: no stored series matches it; stored: {_stored_listing(stored)}"
            )
        wildcard = len(found) > 1 or any(ch in pattern for ch in "*?[")
        if wildcard:
            found = [
                m for m in found if m != prices.pair and _has_any(catalog, m, ("oi", "oi_value"))
            ]
        elif found[0] == prices.pair:
            raise InputError(f"link {pattern}: a series cannot take its prices from itself")
        chosen += [m for m in found if m not in chosen]
    return LinkReport(_write(catalog, chosen, prices), prices)


def link_written(
    session: Session, markets: Iterable[tuple[str, str]], prices: Market
) -> LinkReport:
    """``import --prices``: link the markets an import wrote that have OI (not ``prices`` itself)."""
    catalog = session.catalog
    check_prices(catalog, prices)
    chosen = [m for m in dict.fromkeys(markets)
              if m != prices.pair and _has_any(catalog, m, ("oi", "oi_value"))]  # fmt: skip
    return LinkReport(_write(catalog, chosen, prices), prices)


def _write(
    catalog: Catalog, markets: Sequence[tuple[str, str]], prices: Market
) -> list[tuple[str, str]]:
    with catalog.lock():
        for market in markets:
            catalog.set_price_link(market, prices.pair)
    return list(markets)


def unlink(session: Session, patterns: Sequence[str]) -> LinkReport:
    """Remove the links of the markets the patterns name."""
    catalog = session.catalog
    linked = list(catalog.price_links())
    gone = [m for p in patterns for m in _match(linked, p)]
    if not gone:
        raise InputError(
            f"link --remove: no link matches {' '.join(patterns)}; linked: {_stored_listing(linked)}"
        )
    with catalog.lock():
        for market in gone:
            catalog.set_price_link(market, None)
    return LinkReport(gone, None)


def list_links(session: Session) -> pl.DataFrame:
    """Every price link: exchange, symbol, and the EXCHANGE:SYMBOL its prices come from."""
    rows = [
        (e, s, f"{pe}:{ps}") for (e, s), (pe, ps) in sorted(session.catalog.price_links().items())
    ]
    return pl.DataFrame(rows, schema=LINK_SCHEMA, orient="row")


__all__ = ["LinkReport", "check_prices", "link", "link_written", "list_links", "unlink"]
