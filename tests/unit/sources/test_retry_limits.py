"""Where retrying stops early: hosts that cannot be reached, long Retry-After, refusals (403/404/451)."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import ccxt
import httpx
import pytest

from oiradar.errors import SourceError
from oiradar.sources.clients import retry
from oiradar.sources.clients.archive import classify_http
from oiradar.sources.clients.rest import _Checker, classify
from oiradar.sources.clients.retry import (
    CONNECT_RETRIES,
    Retryable,
    RetryEvent,
    RetryPolicy,
    RetryReport,
    parse_retry_after,
    retrying,
)


def _refused() -> ccxt.ExchangeNotAvailable:
    """What ccxt raises when nothing listens on the port: aiohttp's connector error as the cause."""
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None)
    exc = ccxt.ExchangeNotAvailable("binanceusdm GET http://127.0.0.1:9/fapi/v1/exchangeInfo")
    exc.__cause__ = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    return exc


def _run(fn, policy: RetryPolicy, report: RetryReport):  # type: ignore[no-untyped-def]
    return asyncio.run(retrying(fn, what="w", policy=policy, report=report, classify=classify))


def test_connection_errors_are_their_own_kind() -> None:
    assert classify(_refused()).kind == "connect"  # type: ignore[union-attr]
    dns = ccxt.ExchangeNotAvailable("okx GET http://no-such-host.invalid/")
    dns.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert classify(dns).kind == "connect"  # type: ignore[union-attr]
    reset = ccxt.ExchangeNotAvailable("bybit GET http://x/")
    reset.__cause__ = aiohttp.ServerDisconnectedError()
    assert classify(reset).kind == "network"  # a reset mid-answer keeps every retry
    assert classify_http(httpx.ConnectError("refused")).kind == "connect"  # type: ignore[union-attr]
    assert classify_http(httpx.ReadError("reset")).kind == "network"  # type: ignore[union-attr]


def test_a_host_that_cannot_be_reached_is_retried_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    monkeypatch.setattr(retry.asyncio, "sleep", fake_sleep)

    async def down() -> None:
        raise _refused()

    report = RetryReport()
    with pytest.raises(
        SourceError, match=rf"gave up after {CONNECT_RETRIES + 1} attempts.*connect"
    ):
        _run(down, RetryPolicy(retries=10, base=4.0, max_wait=60.0), report)
    assert len(slept) == CONNECT_RETRIES and all(s <= 1.0 for s in slept)
    assert [e.kind for e in report.events] == ["connect"] * (CONNECT_RETRIES + 1)


def test_a_retry_after_beyond_the_cap_fails_at_once_and_says_so() -> None:
    calls: list[int] = []

    async def limited() -> None:
        calls.append(1)
        raise Retryable("rate_limit", "429 from http://x", retry_after=3600.0)

    seen: list[RetryEvent] = []
    report = RetryReport(on_event=seen.append)
    policy = RetryPolicy(retries=6, max_retry_after=60.0)
    with pytest.raises(SourceError, match=r"asked to wait 3600 s.*max_retry_after = 60 s"):
        _run(limited, policy, report)
    assert calls == [1] and seen == report.events and report.events[0].gave_up
    assert report.events[0].warning() == "w: the venue asked to wait 3600 s (rate_limit); gave up"


def test_a_long_wait_is_announced() -> None:
    event = RetryEvent(what="w", attempt=2, kind="rate_limit", detail="429", wait_s=30.0)
    assert event.warning() == "w: rate_limit, waiting 30 s before attempt 3 (429)"
    assert RetryEvent(what="w", attempt=1, kind="timeout", detail="", wait_s=1.0).warning() is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), ("0.5", 0.5), (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", None),
     ("inf", None), ("nan", None), ("-4", None)],
)  # fmt: skip
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize(
    ("code", "custom", "needle"),
    [
        (404, True, "answered HTTP 404 for URL http://h/x; check venues.okx.rest_url"),
        (404, False, "answered HTTP 404 for URL http://h/x; ccxt may be out of date"),
        (451, False, "refuses this network (HTTP 451: blocked in this country or region)"),
        (403, False, "refuses this network (HTTP 403: forbidden, often a geo-block)"),
    ],
)
def test_refusals_fail_at_once_and_name_the_setting(code: int, custom: bool, needle: str) -> None:
    check = _Checker("okx", custom_url=custom)
    with pytest.raises(SourceError) as info:
        check(code, "http://h/x", {}, "{}")
    assert needle in str(info.value) and classify(info.value) is None
    if code != 404:
        assert str(info.value).endswith("use a proxy or a mirror via venues.okx.rest_url")
    assert check(200, "http://h/x", {}, "[]") == "[]"
