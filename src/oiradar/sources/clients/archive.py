"""Downloads from Binance's public archive (data.binance.vision) with ``.CHECKSUM`` verification.

USD-M (``um``) and COIN-M (``cm``) ``metrics`` files alike (decision 0505). Each daily zip is
fetched with the ``.CHECKSUM`` beside it; the zip's SHA-256 must match before
:func:`oiradar.sources.decode.binance_archive.parse_metrics` reads it. A mismatch, a 429, 418 or
5xx, a timeout or a reset is retried with backoff (:mod:`oiradar.sources.clients.retry`); a 404
means the archive does not have that day (yet): the fetcher then asks REST. Nothing is written to
disk here: the parsed frame goes straight to the catalog, so a damaged download is stored nowhere.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import httpx
import polars as pl

from oiradar.config import Settings
from oiradar.errors import InputError, SourceError
from oiradar.sources.clients.retry import (
    Retryable,
    RetryPolicy,
    RetryReport,
    parse_retry_after,
    retrying,
)
from oiradar.sources.decode.binance_archive import (
    METRICS_OI_UNIT,
    ArchiveMarket,
    check_sha256,
    metrics_relpath,
    parse_metrics,
)

DEFAULT_ARCHIVE_URL = "https://data.binance.vision"


def metrics_path(market_id: str, day: date, market: ArchiveMarket = "um") -> str:
    """``data/futures/um/daily/metrics/KSMUSDT/KSMUSDT-metrics-2024-01-01.zip`` (or ``cm``:
    ``data/futures/cm/daily/metrics/BTCUSD_PERP/BTCUSD_PERP-metrics-2024-01-01.zip``)."""
    return metrics_relpath(market_id, day.isoformat(), market)


class _NotArchived(Exception):
    """404: the archive has no such file."""


def classify_http(exc: BaseException) -> Retryable | None:
    if isinstance(exc, Retryable):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return Retryable("timeout", f"timeout: {exc!r}")
    if isinstance(exc, httpx.ConnectError):  # refused, unknown host: retried briefly
        return Retryable("connect", f"cannot connect: {exc!r}")
    if isinstance(exc, httpx.TransportError):
        return Retryable("network", f"connection error: {exc!r}")
    return None


class ArchiveClient:
    """An httpx client for one archive base URL; use as an async context manager."""

    def __init__(self, exchange_id: str, settings: Settings, report: RetryReport) -> None:
        self.exchange_id = exchange_id
        self.base = (settings.venue(exchange_id).archive_url or DEFAULT_ARCHIVE_URL).rstrip("/")
        self.policy = RetryPolicy.from_settings(settings.fetch)
        self.report = report
        self.http = httpx.AsyncClient(timeout=settings.fetch.timeout, follow_redirects=True)

    async def __aenter__(self) -> ArchiveClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    async def metrics_day(
        self, market_id: str, day: date, market: str = "um"
    ) -> pl.DataFrame | None:
        """5m ``oi_raw``/``oi_unit``/``oi_value``/``long_short_ratio`` bars of one day (COIN-M:
        ``oi`` and ``oi_value`` left to the fetcher's conversion); None if not archived."""
        if market not in METRICS_OI_UNIT:
            raise SourceError(f"no archive market {market!r} (known: {', '.join(METRICS_OI_UNIT)})")
        archive_market = cast(ArchiveMarket, market)
        path = metrics_path(market_id, day, archive_market)
        try:
            return await retrying(
                lambda: self._download_metrics(path, archive_market),
                what=f"archive {path}",
                policy=self.policy,
                report=self.report,
                classify=classify_http,
            )
        except _NotArchived:
            return None

    async def _download_metrics(self, path: str, market: ArchiveMarket) -> pl.DataFrame:
        name = path.rsplit("/", 1)[-1]
        checksum = await self._get(path + ".CHECKSUM")
        blob = await self._get(path)
        try:
            check_sha256(blob, checksum.decode("utf-8", "replace"), name)
        except InputError as exc:
            raise Retryable("checksum", str(exc)) from None
        try:
            return parse_metrics(blob, name=name, market=market)
        except InputError as exc:  # verified but unreadable: retrying cannot help
            raise SourceError(f"archive file {name} cannot be read: {exc}") from None

    async def _get(self, path: str) -> bytes:
        response = await self.http.get(self.url(path))
        code = response.status_code
        if code == 404:
            raise _NotArchived(path)
        if code in (429, 418) or code >= 500:
            kind = {429: "rate_limit", 418: "banned"}.get(code, "server_error")
            raise Retryable(kind, f"{code} from {self.url(path)}", _retry_after(response.headers))
        if code in (403, 451):
            raise SourceError(
                f"the archive refuses this network (HTTP {code}) for URL {self.url(path)}; "
                f"use a proxy or a mirror via venues.{self.exchange_id}.archive_url"
            )
        if code >= 400:
            raise SourceError(f"{code} from {self.url(path)}: {response.text[:200]}")
        return response.content


def _retry_after(headers: Any) -> float | None:
    return parse_retry_after(headers.get("retry-after"))
