"""Retry policy, URL overrides, date parsing and chunk planning: the fetcher's small parts."""

from __future__ import annotations

import asyncio
import random

import ccxt
import pytest

from oiradar.config import load_settings
from oiradar.errors import InputError, SourceError
from oiradar.model import DAY_MS, Timeframe
from oiradar.sources.clients.rest import classify, make_exchange, override_urls
from oiradar.sources.clients.retry import Retryable, RetryPolicy, RetryReport, retrying
from oiradar.sources.decode.venues.base import windows
from oiradar.sources.ingest.plan import chunk_days
from oiradar.timeutil import parse_when


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    policy = RetryPolicy(retries=5, base=1.0, max_wait=10.0)
    rng = random.Random(1)
    waits = [policy.backoff(k, None, rng) for k in range(6)]
    for k, w in enumerate(waits):
        top = min(10.0, 2.0**k)
        assert 0.5 * top <= w <= top
    assert policy.backoff(0, 7.0, rng) == 7.0  # Retry-After wins when longer


def test_retrying_reports_each_retry_and_gives_up() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Retryable("server_error", "500")
        return "ok"

    report = RetryReport()
    policy = RetryPolicy(retries=4, base=0.0, max_wait=0.0)
    assert (
        asyncio.run(retrying(flaky, what="x", policy=policy, report=report, classify=classify))
        == "ok"
    )
    assert [(e.attempt, e.kind, e.gave_up) for e in report.events] == [
        (1, "server_error", False),
        (2, "server_error", False),
    ]

    async def broken() -> str:
        raise Retryable("timeout", "slow")

    report = RetryReport()
    with pytest.raises(SourceError, match="gave up after 5 attempts"):
        asyncio.run(retrying(broken, what="y", policy=policy, report=report, classify=classify))
    assert [e.gave_up for e in report.events] == [False] * 4 + [True]


def test_non_transient_errors_are_not_retried() -> None:
    async def bad() -> str:
        raise ccxt.BadSymbol("no such market")

    report = RetryReport()
    with pytest.raises(ccxt.BadSymbol):
        asyncio.run(retrying(bad, what="z", policy=RetryPolicy(), report=report, classify=classify))
    assert report.events == []


@pytest.mark.parametrize("exc", [ccxt.RequestTimeout("t"), ccxt.RateLimitExceeded("r"), ccxt.DDoSProtection("d"),
                                 ccxt.ExchangeNotAvailable("e"), ccxt.NetworkError("n")])  # fmt: skip
def test_ccxt_network_errors_are_transient(exc: Exception) -> None:
    assert classify(exc) is not None


def test_rest_url_replaces_every_host_and_keeps_paths() -> None:
    api = {
        "fapiPublic": "https://fapi.binance.com/fapi/v1",
        "nested": {"x": "https://api.{hostname}/v5"},
    }
    assert override_urls(api, "http://127.0.0.1:9/bn/") == {
        "fapiPublic": "http://127.0.0.1:9/bn/fapi/v1",
        "nested": {"x": "http://127.0.0.1:9/bn/v5"},
    }


def test_settings_point_ccxt_at_the_configured_url() -> None:
    env = {
        "OIRADAR__VENUES__OKX__REST_URL": '"http://127.0.0.1:1/okx"',
        "OIRADAR__FETCH__TIMEOUT": "2.5",
    }
    ex = make_exchange("okx", load_settings(environ=env))
    assert ex.urls["api"]["rest"] == "http://127.0.0.1:1/okx"
    assert ex.timeout == 2500
    asyncio.run(ex.close())
    with pytest.raises(InputError, match="did you mean"):
        make_exchange("binanceusd", load_settings(environ={}))


def test_parse_when() -> None:
    assert parse_when("2024-01-02", 0) == 1704153600000
    assert parse_when("2024-01-02T06:00", 0) == 1704153600000 + 6 * 3_600_000
    assert parse_when("30d", 100 * DAY_MS) == 70 * DAY_MS
    with pytest.raises(InputError, match="2024-01-01"):
        parse_when("yesterday", 0)


def test_chunks_hold_about_one_oi_page() -> None:
    assert chunk_days(Timeframe.M5) == 1
    assert chunk_days(Timeframe.H1) == 20
    assert chunk_days(Timeframe.H4) == 30
    assert windows(0, 10, 3, 2) == [(0, 6), (6, 10)]


def test_chunk_done_needs_every_bar_and_some_oi_within_the_venues_depth() -> None:
    from oiradar.sources.ingest.plan import chunk_done

    bars = range(0, 10, 1)
    have = set(range(10))
    assert not chunk_done(bars, have - {5}, set(), oi_from=0)  # a bar is missing
    assert not chunk_done(bars, have, set(), oi_from=0)  # no OI at all: ask again
    assert chunk_done(bars, have, {3}, oi_from=0)  # some OI (empty cells are the venue's)
    assert chunk_done(bars, have, set(), oi_from=10)  # older than the OI depth: nothing to gain
    assert not chunk_done(range(0), have, have, oi_from=0)


def test_venue_for_dedicated_generic_and_refused() -> None:
    from oiradar.sources.decode.venues import venue_for
    from oiradar.sources.decode.venues.generic import GenericCcxt
    from oiradar.sources.decode.venues.okx import Okx

    assert isinstance(venue_for("okx"), Okx)
    generic = venue_for("gate")  # ccxt says gate has OI history
    assert isinstance(generic, GenericCcxt) and generic.id == "gate"
    with pytest.raises(InputError, match="did you mean 'binanceusdm'"):
        venue_for("binanceusd")
