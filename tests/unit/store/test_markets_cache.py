"""The kept market lists (``<home>/cache/markets``): what is kept, what is refused, what is damaged."""

from __future__ import annotations

from pathlib import Path

import pytest

from oiradar.errors import InputError, StoreError
from oiradar.sources.decode.venues.base import MarketInfo
from oiradar.store.markets import (
    MarketsCacheFile,
    load_cached_markets,
    markets_cache_path,
    save_markets,
)

CCXT_MARKET = {  # a ccxt market as load_markets gives it, shortened
    "id": "BTCUSD_PERP", "symbol": "BTC/USD:BTC", "base": "BTC", "quote": "USD", "settle": "BTC",
    "type": "swap", "swap": True, "future": False, "contract": True, "linear": False,
    "inverse": True, "contractSize": 100.0, "active": True,
    "precision": {"amount": 1, "price": 0.1}, "limits": {"leverage": {"max": 125}},
    "info": {"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "contractType": "PERPETUAL"},
}
SPOT = {"id": "BTCUSDT", "symbol": "BTC/USDT", "spot": True, "contract": False, "swap": False}


def test_a_saved_list_keeps_what_oiradar_reads_of_the_contract_markets(tmp_path: Path) -> None:
    path = save_markets(tmp_path, "binancecoinm", {"BTC/USD:BTC": CCXT_MARKET, "BTC/USDT": SPOT})
    assert path == tmp_path / "cache" / "markets" / "binancecoinm.json"
    kept = load_cached_markets(tmp_path, "binancecoinm")
    assert not isinstance(kept, str)
    assert list(kept.markets) == ["BTC/USD:BTC"]  # spot markets are not kept
    market = kept.markets["BTC/USD:BTC"]
    assert "precision" not in market and market["info"] == {"pair": "BTCUSD"}
    assert MarketInfo.from_ccxt(market) == MarketInfo.from_ccxt(CCXT_MARKET)
    assert not list(path.parent.glob(".*"))  # no temporary file left behind
    assert MarketsCacheFile(tmp_path).load("binancecoinm") == (kept.saved_at, kept.markets)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"version": 1}',
                                  '{"version": 1, "exchange": "okx", "saved_at": 1, "markets": {}}'])  # fmt: skip
def test_a_damaged_or_foreign_list_is_reported_not_used(tmp_path: Path, text: str) -> None:
    path = markets_cache_path(tmp_path, "bybit")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    why = load_cached_markets(tmp_path, "bybit")
    assert isinstance(why, str) and str(path) in why


def test_no_list_says_where_it_would_be(tmp_path: Path) -> None:
    why = load_cached_markets(tmp_path, "okx")
    assert why == f"no market list of okx is cached in {tmp_path}/cache/markets/okx.json"


def test_names_and_links_never_lead_outside_the_home(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="invalid exchange name"):
        markets_cache_path(tmp_path, "../okx")
    home, outside = tmp_path / "home", tmp_path / "outside"
    home.mkdir()
    outside.mkdir()
    (home / "cache").symlink_to(outside)
    with pytest.raises(StoreError, match="outside"):
        save_markets(home, "okx", {"BTC/USDT:USDT": {**CCXT_MARKET, "symbol": "BTC/USDT:USDT"}})
    assert not list(outside.rglob("*"))
