"""Helpers for tests that fetch from the fake exchange: settings, one fetch, catalog snapshots."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl

from oiradar.config import Settings, load_settings
from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.sources import FetchRequest, FetchResult, RetryReport, run_fetch
from oiradar.sources.decode.venues import Venue
from oiradar.store import Catalog
from tests.fake_exchange.server import FakeExchange

T0 = 1704067200000  # 2024-01-01 00:00 UTC
NOW = T0 + 34 * DAY_MS  # the fake's clock: 2024-02-04; REST OI history starts 2024-01-05
# Tiny backoff and no limiter pause, so that faults cost milliseconds; timeout below the fake's hold.
FAST = {
    "OIRADAR__FETCH__BACKOFF_BASE": "0.001",
    "OIRADAR__FETCH__BACKOFF_MAX": "0.01",
    "OIRADAR__FETCH__RATE_LIMIT_MS": "0",
    "OIRADAR__FETCH__TIMEOUT": "0.5",
    "OIRADAR__FETCH__RETRIES": "4",
}


def fake_env(fake: FakeExchange, **extra: str) -> dict[str, str]:
    return {**fake.env(), **FAST, **extra}


def fake_settings(fake: FakeExchange, **extra: str) -> Settings:
    return load_settings(environ=fake_env(fake, **extra))


def fetch(
    fake: FakeExchange,
    home: Path,
    *,
    exchange: str = "binanceusdm",
    symbol: str = "KSM/USDT:USDT",
    timeframe: Timeframe = Timeframe.H1,
    since: int | None = T0,
    until: int | None = T0 + 10 * DAY_MS,
    repair: bool = False,
    archive: bool = True,
    dry_run: bool = False,
    settings: Settings | None = None,
    venue: Venue | None = None,
) -> tuple[FetchResult, RetryReport]:
    req = FetchRequest(exchange=exchange, symbol=symbol, timeframe=timeframe, since=since,
                       until=until, repair=repair, archive=archive)  # fmt: skip
    report = RetryReport()
    result = asyncio.run(
        run_fetch(
            req,
            Catalog(home),
            settings or fake_settings(fake),
            report,
            dry_run=dry_run,
            venue=venue,
            now=fake.now_ms,  # the venue's clock decides how deep its REST history reaches
        )
    )
    return result, report


def snapshot(home: Path) -> dict[SeriesKey, pl.DataFrame]:
    """Every stored series without ``ingested_at`` (the one column that differs run to run)."""
    cat = Catalog(home)
    return {k: cat.read_stored(k).drop("ingested_at") for k in cat.stored_keys()}


def same_catalog(a: Path, b: Path) -> bool:
    sa, sb = snapshot(a), snapshot(b)
    return sa.keys() == sb.keys() and all(sa[k].equals(sb[k]) for k in sa)
