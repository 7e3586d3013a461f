"""Clients kept open across fetches (``run_fetch(clients=...)``, what ``oiradar watch``'s
``VenueFeed`` does): the venue's market list is loaded once, not at every update, and the result
equals a fetch that opens its own clients. Counted in requests, never timed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from oiradar.app.feeds import VenueFeed
from oiradar.app.session import Session
from oiradar.config import load_settings
from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.sources import FetchRequest, RetryReport, run_fetch
from oiradar.sources.ingest.fetch import VenueClients
from oiradar.store import Catalog
from tests.fake_exchange import FakeExchange
from tests.fake_exchange.harness import NOW, fake_env, fake_settings, fetch, same_catalog

TF = Timeframe.H1
KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=TF)
MARKETS = "/binanceusdm/fapi/v1/exchangeInfo"


def _market_loads(fake: FakeExchange) -> int:
    return sum(1 for r in fake.requests if r.startswith(MARKETS))


def test_open_clients_fetch_what_a_fetch_of_its_own_does(tmp_path: Path) -> None:
    since, until = NOW - 6 * DAY_MS, NOW - DAY_MS
    with FakeExchange(now_ms=NOW) as fake:
        own, _ = fetch(fake, tmp_path / "own", since=since, until=until, archive=False)
        settings = fake_settings(fake)

        async def shared() -> None:
            clients = VenueClients("binanceusdm", settings, RetryReport())
            try:
                for lo in (since, since + 2 * DAY_MS):  # two fetches, one client
                    req = FetchRequest(exchange="binanceusdm", symbol=KEY.symbol, timeframe=TF,
                                       since=lo, until=until, archive=False)  # fmt: skip
                    result = await run_fetch(req, Catalog(tmp_path / "shared"), settings,
                                             RetryReport(), now=NOW, clients=clients)  # fmt: skip
                    assert result.ok
            finally:
                await clients.aclose()

        before = _market_loads(fake)
        asyncio.run(shared())
        assert _market_loads(fake) - before == 1
    assert own.ok and same_catalog(tmp_path / "own", tmp_path / "shared")


def test_clients_of_another_venue_are_refused(tmp_path: Path) -> None:
    with FakeExchange(now_ms=NOW) as fake:
        settings = fake_settings(fake)

        async def wrong() -> None:
            clients = VenueClients("bybit", settings, RetryReport())
            try:
                req = FetchRequest(exchange="binanceusdm", symbol=KEY.symbol, timeframe=TF,
                                   since=NOW - DAY_MS, until=NOW)  # fmt: skip
                await run_fetch(req, Catalog(tmp_path), settings, RetryReport(), clients=clients)
            finally:
                await clients.aclose()

        with pytest.raises(ValueError, match="clients of bybit"):
            asyncio.run(wrong())


def test_a_venue_feed_loads_the_market_list_once_per_event_loop(tmp_path: Path) -> None:
    clock = {"now": NOW - 10 * TF.ms}
    with FakeExchange(now_ms=clock["now"]) as fake:
        env = fake_env(fake, OIRADAR__WATCH__SETTLE_S="0")
        session = Session(load_settings(environ=env, home=tmp_path), tmp_path)
        feed = VenueFeed(session, "binanceusdm", "3d", RetryReport(), clock=lambda: clock["now"])

        async def bars(n: int) -> list[int | None]:
            lasts = []
            try:
                for _ in range(n):
                    clock["now"] += TF.ms
                    fake.now_ms = clock["now"]
                    lasts.append(await feed.update(KEY, clock["now"]))
            finally:
                await feed.aclose()
            return lasts

        first = asyncio.run(bars(4))
        assert _market_loads(fake) == 1
        second = asyncio.run(bars(2))  # a new event loop: the clients are opened anew
        assert _market_loads(fake) == 2
    lasts = first + second
    assert lasts == [lasts[0] + i * TF.ms for i in range(len(lasts))]
