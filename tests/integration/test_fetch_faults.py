"""Fault injection: every fault type once -> the same catalog as a clean run, every retry reported."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.store import Catalog
from tests.fake_exchange import FakeExchange, FaultKind, FaultPlan
from tests.fake_exchange.harness import NOW, T0, fetch, same_catalog

ARCHIVE_UNTIL = date(2024, 1, 6)  # archive: days 0-4; REST: days 5-9
KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=Timeframe.M5)


def _every_fault() -> FaultPlan:
    plan = FaultPlan()
    plan.add(FaultKind.RATE_LIMIT, "/fapi/v1/klines", retry_after="1")
    plan.add(FaultKind.TRUNCATED, "/fapi/v1/klines", nth=2)
    plan.add(FaultKind.BANNED, "/fapi/v1/fundingRate", retry_after="0")
    plan.add(FaultKind.MALFORMED, "/fapi/v1/fundingRate", nth=3)
    plan.add(FaultKind.SERVER_ERROR, "openInterestHist")
    plan.add(FaultKind.TIMEOUT, "globalLongShortAccountRatio")
    plan.add(FaultKind.BAD_CHECKSUM, "KSMUSDT-metrics-2024-01-02.zip$")
    plan.add(FaultKind.SERVER_ERROR, "KSMUSDT-metrics-2024-01-03.zip.CHECKSUM")
    plan.add(FaultKind.TIMEOUT, "KSMUSDT-metrics-2024-01-04.zip$")
    plan.add(FaultKind.RESET, "KSMUSDT-metrics-2024-01-05.zip$")
    # aiohttp silently retries a request once when a kept-alive connection was reset: reset twice
    plan.add(FaultKind.RESET, "/fapi/v1/klines", nth=4, times=2)
    return plan


def test_every_fault_once_gives_the_clean_catalog(tmp_path: Path) -> None:
    clean, faulty = tmp_path / "clean", tmp_path / "faulty"
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL) as fake:
        ok, clean_report = fetch(fake, clean, timeframe=Timeframe.M5)
    faults = _every_fault()
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        result, report = fetch(fake, faulty, timeframe=Timeframe.M5)
    assert ok.ok and result.ok and clean_report.events == []
    assert all(f.fired for f in faults.faults), [f for f in faults.faults if not f.fired]
    assert same_catalog(clean, faulty)
    assert Catalog(faulty).read_stored(KEY).height == 10 * 288
    # every injected fault shows up in the report, classified
    kinds = [e.kind for e in report.events]
    assert sorted(kinds) == sorted(
        ["rate_limit", "bad_payload", "banned", "bad_payload", "server_error", "timeout",
         "checksum", "server_error", "timeout", "network", "network"]
    )  # fmt: skip
    assert not any(e.gave_up for e in report.events)
    rate = next(e for e in report.events if e.kind == "rate_limit")
    assert rate.wait_s >= 1.0  # Retry-After: 1 honoured over the tiny backoff
    assert "11 retries" in report.summary()


def test_a_chunk_that_keeps_failing_is_reported_and_written_nowhere(tmp_path: Path) -> None:
    day3 = T0 + 3 * DAY_MS
    faults = FaultPlan().add(
        FaultKind.SERVER_ERROR, f"klines?symbol=KSMUSDT&interval=5m&startTime={day3}", times=99
    )
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        result, report = fetch(fake, tmp_path, timeframe=Timeframe.M5)
        assert not result.ok and [c.start for c, _ in result.failed] == [day3]
        assert "gave up after 5 attempts" in result.failed[0][1]
        assert [e.gave_up for e in report.events] == [False] * 4 + [True]
        stored = Catalog(tmp_path).read_stored(KEY)["ts"]
        assert stored.filter((stored >= day3) & (stored < day3 + DAY_MS)).len() == 0
        assert stored.len() == 9 * 288
        gaps = Catalog(tmp_path).gaps(KEY)  # what `oiradar gaps` reports
        assert gaps.rows() == [(day3, day3 + DAY_MS - 300_000, 288)]
        # --repair over the stored range re-fetches exactly the chunk holding the gap
        faults.faults[0].fired = True  # the venue has recovered
        repaired, _ = fetch(
            fake, tmp_path, timeframe=Timeframe.M5, since=None, until=None, repair=True
        )
        assert repaired.ok and [c.start for c in repaired.plan.chunks] == [day3]
        assert Catalog(tmp_path).gaps(KEY).is_empty()
        clean = tmp_path / "clean"
        fetch(fake, clean, timeframe=Timeframe.M5)
    assert same_catalog(tmp_path, clean)


@pytest.mark.parametrize("kind", [FaultKind.RATE_LIMIT, FaultKind.TRUNCATED, FaultKind.TIMEOUT])
def test_bybit_and_okx_retry_too(tmp_path: Path, kind: FaultKind) -> None:
    for exchange, match in (
        ("bybit", "/v5/market/open-interest"),
        ("okx", "open-interest-history"),
    ):
        faults = FaultPlan().add(kind, match, retry_after="0")
        with FakeExchange(now_ms=NOW, faults=faults) as fake:
            result, report = fetch(fake, tmp_path / exchange, exchange=exchange,
                                   since=T0 + 30 * DAY_MS, until=T0 + 31 * DAY_MS)  # fmt: skip
        assert result.ok and faults.faults[0].fired
        assert len(report.events) == 1


def test_a_refused_request_fails_its_chunk_at_once(tmp_path: Path) -> None:
    """A 400 is not transient: no retries, the chunk is reported, the other chunks are written."""
    day2 = T0 + 2 * DAY_MS
    faults = FaultPlan().add(
        FaultKind.BAD_REQUEST, f"klines?symbol=KSMUSDT&interval=5m&startTime={day2}"
    )
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        result, report = fetch(fake, tmp_path, timeframe=Timeframe.M5)
    assert [c.start for c, _ in result.failed] == [day2] and report.events == []
    assert "BadRequest" in result.failed[0][1] and "-1130" in result.failed[0][1]
    assert Catalog(tmp_path).read_stored(KEY).height == 9 * 288


def test_an_archive_file_refused_fails_its_day_and_is_reported(tmp_path: Path) -> None:
    faults = FaultPlan().add(FaultKind.BAD_REQUEST, "KSMUSDT-metrics-2024-01-02.zip.CHECKSUM$")
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        result, report = fetch(fake, tmp_path, timeframe=Timeframe.M5)
    assert [c.start for c, _ in result.failed] == [T0 + DAY_MS] and report.events == []
    assert "400 from" in result.failed[0][1] and "2024-01-02.zip.CHECKSUM" in result.failed[0][1]
