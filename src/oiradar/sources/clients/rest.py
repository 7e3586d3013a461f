"""ccxt (async) clients pointed at the configured URLs, with retries and a strict response check.

- Base URLs: ``[venues.<exchange>] rest_url`` replaces the scheme and host of every entry of
  ccxt's ``urls['api']`` (the path stays), so a mirror, a proxy or a local fake exchange serves
  the same paths. Nothing in ccxt is patched: URLs and options are its public configuration.
- Rate limits: ccxt's own limiter (``enableRateLimit``, per-endpoint weights) paces requests up
  front; ``[fetch] rate_limit_ms`` overrides its base interval.
- Every HTTP response passes :func:`_check_response` (ccxt's ``on_rest_response`` hook): 429/418/5xx
  become :class:`~oiradar.sources.clients.retry.Retryable` with the ``Retry-After`` they carry, and a body
  that is not valid JSON (truncated, cut off) is a ``bad_payload`` error instead of being handed
  to ccxt's parsers as text. 404 (a wrong ``rest_url`` path), 403 and 451 (the venue refuses this
  network: a geo-block) fail at once with a :class:`SourceError` that names the setting to fix;
  ccxt would call them "exchange not available" and they would be retried for a minute.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import socket
import types
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async

from oiradar.config import Settings
from oiradar.errors import InputError, OiradarError, SourceError
from oiradar.sources.clients.retry import (
    Retryable,
    RetryPolicy,
    RetryReport,
    parse_retry_after,
    retrying,
)
from oiradar.sources.decode.venues.base import MarketInfo, PayloadError, RestCall

_HOST = re.compile(r"^[a-z]+://[^/]+")


def override_urls(api: Any, rest_url: str) -> Any:
    """ccxt's ``urls['api']`` (a str or nested dict) with every scheme+host replaced by ``rest_url``."""
    if isinstance(api, str):
        return _HOST.sub(rest_url.rstrip("/"), api)
    if isinstance(api, dict):
        return {k: override_urls(v, rest_url) for k, v in api.items()}
    return api


def exchange_class(exchange_id: str) -> type:
    cls = getattr(ccxt_async, exchange_id, None)
    if exchange_id not in ccxt.exchanges or cls is None:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown exchange {exchange_id!r}{hint} (any ccxt id works)")
    return cls


def make_exchange(
    exchange_id: str,
    settings: Settings,
    options: Mapping[str, Any] | None = None,
    *,
    pro: bool = False,
) -> Any:
    """An async ccxt exchange (``pro``: ccxt.pro, with websockets) with the configured URLs,
    timeout and limiter. ``ws_url`` replaces the host of every websocket URL as ``rest_url`` does
    for REST."""
    cls = exchange_class(exchange_id)
    if pro:
        import ccxt.pro as ccxt_pro

        pro_cls = getattr(ccxt_pro, exchange_id, None)
        if pro_cls is None:
            raise InputError(f"ccxt has no websocket support for {exchange_id!r}")
        cls = pro_cls
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": int(settings.fetch.timeout * 1000),
        "options": dict(options or {}),
    }
    if settings.fetch.rate_limit_ms is not None:
        config["rateLimit"] = settings.fetch.rate_limit_ms
    ex = cls(config)
    venue = settings.venue(exchange_id)
    ws = ex.urls["api"].get("ws") if isinstance(ex.urls["api"], dict) else None
    if venue.rest_url:
        ex.urls["api"] = override_urls(ex.urls["api"], venue.rest_url)
    if ws is not None:
        ex.urls["api"]["ws"] = override_urls(ws, venue.ws_url) if venue.ws_url else ws
    original = ex.on_rest_response
    check = _Checker(exchange_id, custom_url=venue.rest_url is not None)
    ex.on_rest_response = types.MethodType(
        lambda self, code, reason, url, method, headers, body, *rest: check(
            code, url, headers, original(code, reason, url, method, headers, body, *rest)
        ),
        ex,
    )
    return ex


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            return parse_retry_after(value)
    return None


class _Checker:
    """:func:`_check_response` plus the refusals that name ``venues.<id>.rest_url``."""

    def __init__(self, exchange_id: str, *, custom_url: bool) -> None:
        self.exchange_id = exchange_id
        self.custom_url = custom_url

    def __call__(self, code: int, url: str, headers: Mapping[str, str], body: Any) -> Any:
        if code in (403, 404, 451):
            raise SourceError(self.refusal(code, url[:200]))
        return _check_response(code, url, headers, body)

    def refusal(self, code: int, url: str) -> str:
        setting = f"venues.{self.exchange_id}.rest_url"
        if code == 404:
            fix = f"check {setting}" if self.custom_url else "ccxt may be out of date"
            return f"{self.exchange_id} answered HTTP 404 for URL {url}; {fix}"
        why = "blocked in this country or region" if code == 451 else "forbidden, often a geo-block"
        return (
            f"{self.exchange_id}: the venue refuses this network (HTTP {code}: {why}) for URL "
            f"{url}; use a proxy or a mirror via {setting}"
        )


def _check_response(code: int, url: str, headers: Mapping[str, str], body: Any) -> Any:
    """Transient HTTP statuses and non-JSON bodies become :class:`Retryable` errors."""
    if code == 429:
        raise Retryable("rate_limit", f"429 from {url}", _retry_after(headers))
    if code == 418:
        raise Retryable(
            "banned", f"418 (IP banned for ignoring 429s) from {url}", _retry_after(headers)
        )
    if code >= 500:
        raise Retryable("server_error", f"{code} from {url}", _retry_after(headers))
    if 200 <= code < 300 and isinstance(body, str) and body:
        try:
            json.loads(body)
        except ValueError:
            raise Retryable(
                "bad_payload", f"malformed or truncated JSON from {url}: ...{body[-60:]!r}"
            ) from None
    return body


def classify(exc: BaseException) -> Retryable | None:
    """Which failures are transient (retried) and how to name them in the report."""
    if isinstance(exc, Retryable):
        return exc
    if isinstance(exc, PayloadError):
        return Retryable("bad_payload", str(exc))
    if isinstance(exc, ccxt.RequestTimeout):
        return Retryable("timeout", str(exc))
    if isinstance(exc, ccxt.RateLimitExceeded):
        return Retryable("rate_limit", str(exc))
    if isinstance(exc, ccxt.DDoSProtection):
        return Retryable("banned", str(exc))
    if isinstance(exc, ccxt.NetworkError) and isinstance(
        exc.__cause__, aiohttp.ClientConnectorError | socket.gaierror
    ):  # refused, unknown host: retried briefly (see oiradar.sources.clients.retry)
        venue = str(exc).split(" ", 1)[0]  # ccxt's message starts with the exchange id
        return Retryable(
            "connect",
            f"cannot connect: {exc} ({exc.__cause__}); check the network, or a proxy or mirror "
            f"in venues.{venue}.rest_url",
        )
    if isinstance(exc, ccxt.ExchangeNotAvailable | ccxt.NetworkError):
        return Retryable("network", str(exc))
    if isinstance(exc, ccxt.BadResponse):
        return Retryable("bad_payload", str(exc))
    return None


class MarketsCache(Protocol):
    """Where :meth:`RestClient.load_markets` keeps the venue's last market list, given by the
    caller (:class:`oiradar.store.markets.MarketsCacheFile`): clients write nothing themselves.
    ``offline_ok``: the kept list may stand in when the venue cannot be reached (commands that
    only read it: ``markets``, ``fetch --dry-run``)."""

    @property
    def offline_ok(self) -> bool: ...

    def save(self, exchange: str, markets: Mapping[str, Any]) -> None: ...

    def load(self, exchange: str) -> tuple[int, dict[str, Any]] | str:
        """(saved at, epoch ms; the markets) or why there are none."""
        ...


class RestClient:
    """One venue's ccxt exchange plus the retry policy and report; use as an async context."""

    def __init__(self, exchange_id: str, settings: Settings, report: RetryReport,
                 options: Mapping[str, Any] | None = None,
                 cache: MarketsCache | None = None) -> None:  # fmt: skip
        self.exchange_id = exchange_id
        self.exchange = make_exchange(exchange_id, settings, options)
        self.policy = RetryPolicy.from_settings(settings.fetch)
        self.report = report
        self.cache = cache
        self.cached: tuple[int, dict[str, Any]] | None = None  # (saved at, markets) stood in
        self.offline_reason = ""  # why the venue could not be reached, when they did
        self._loaded: dict[str, Any] | None = None

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.exchange.close()

    async def load_markets(self) -> dict[str, Any]:
        """The venue's markets (kept in the cache); offline, the cached ones where allowed."""
        if self.cached is not None:
            return self.cached[1]
        if self._loaded is not None:
            return self._loaded
        try:
            markets: dict[str, Any] = await self._retrying(
                lambda: self.exchange.load_markets(), f"{self.exchange_id} load_markets"
            )
        except SourceError as exc:
            if self.cache is None or not self.cache.offline_ok:
                raise
            return self._from_cache(exc)
        if self.cache is not None:
            with contextlib.suppress(OSError, OiradarError):  # a cache, never a reason to fail
                self.cache.save(self.exchange_id, markets)
        self._loaded = markets
        return markets

    def _from_cache(self, exc: SourceError) -> dict[str, Any]:
        assert self.cache is not None
        cached = self.cache.load(self.exchange_id)
        if isinstance(cached, str):
            raise SourceError(
                f"{self.exchange_id} cannot be reached ({exc}); {cached}: run `oiradar markets "
                f"-e {self.exchange_id}` once online to keep one for offline use"
            ) from None
        self.cached, self.offline_reason = cached, str(exc)
        return cached[1]

    async def _retrying(self, attempt: Any, what: str) -> Any:
        try:
            return await retrying(
                attempt, what=what, policy=self.policy, report=self.report, classify=classify
            )
        except ccxt.BaseError as exc:  # not transient (a 400, a refused parameter)
            raise SourceError(f"{what}: {type(exc).__name__}: {str(exc)[:300]}") from exc

    async def market(self, symbol: str) -> MarketInfo:
        """The market of a unified symbol; an unknown one is refused with the close matches."""
        markets = await self.load_markets()
        if symbol not in markets:
            close = difflib.get_close_matches(symbol, list(markets), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(
                f"{self.exchange_id} has no market {symbol!r}{hint} (see `oiradar markets`)"
            )
        return MarketInfo.from_ccxt(markets[symbol])

    async def call(self, rc: RestCall, decode: Any = None) -> Any:
        """Run one REST call (and ``decode`` its payload inside the retry: a bad payload is retried)."""
        method = getattr(self.exchange, rc.method, None)
        if method is None:
            raise SourceError(f"ccxt {self.exchange_id} has no endpoint method {rc.method}")

        async def attempt() -> Any:
            payload = await (
                method(*rc.args, dict(rc.params)) if rc.args else method(dict(rc.params))
            )
            return decode(payload) if decode is not None else payload

        return await self._retrying(
            attempt, f"{self.exchange_id} {rc.method} [{rc.start}, {rc.end})"
        )
