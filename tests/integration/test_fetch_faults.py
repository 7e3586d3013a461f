"""Fault injection: every fault type once -> the same catalog as a clean run, every retry reported."""

from __future__ import annotations

import os
import socket
from datetime import date
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.errors import SourceError
from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.store import Catalog
from tests.fake_exchange import FakeExchange, FaultKind, FaultPlan
from tests.fake_exchange.harness import NOW, T0, fake_env, fake_settings, fetch, same_catalog

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


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        (FaultKind.GEO_BLOCKED, "the venue refuses this network (HTTP 451"),
        (FaultKind.FORBIDDEN, "the venue refuses this network (HTTP 403"),
    ],
)
def test_a_geo_block_fails_at_once_with_a_hint(
    tmp_path: Path, kind: FaultKind, needle: str
) -> None:
    day2 = T0 + 2 * DAY_MS
    faults = FaultPlan().add(kind, f"klines?symbol=KSMUSDT&interval=5m&startTime={day2}", times=99)
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        result, report = fetch(fake, tmp_path, timeframe=Timeframe.M5)
    assert [c.start for c, _ in result.failed] == [day2] and report.events == []  # no retries
    why = result.failed[0][1]
    assert needle in why and why.endswith("use a proxy or a mirror via venues.binanceusdm.rest_url")


def test_a_retry_after_beyond_the_cap_fails_its_chunk_and_is_reported(tmp_path: Path) -> None:
    day2 = T0 + 2 * DAY_MS
    faults = FaultPlan().add(
        FaultKind.RATE_LIMIT, f"klines?symbol=KSMUSDT&interval=5m&startTime={day2}",
        retry_after="3600",
    )  # fmt: skip
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        result, report = fetch(
            fake, tmp_path, timeframe=Timeframe.M5
        )  # fails fast, no hour's sleep
    assert [c.start for c, _ in result.failed] == [day2]
    assert "asked to wait 3600 s" in result.failed[0][1]
    assert "fetch.max_retry_after = 60 s" in result.failed[0][1]
    [event] = report.events
    assert event.retry_after == 3600.0 and event.gave_up
    assert "asked to wait 3600 s (rate_limit); gave up" in (event.warning() or "")
    assert Catalog(tmp_path).read_stored(KEY).height == 9 * 288


def test_a_retry_after_within_the_cap_is_honoured(tmp_path: Path) -> None:
    faults = FaultPlan().add(FaultKind.RATE_LIMIT, "/fapi/v1/fundingRate", retry_after="0.2")
    with FakeExchange(now_ms=NOW, faults=faults) as fake:
        settings = fake_settings(fake, OIRADAR__FETCH__MAX_RETRY_AFTER="0.5")
        result, report = fetch(fake, tmp_path, since=T0 + 30 * DAY_MS, until=T0 + 31 * DAY_MS,
                               settings=settings)  # fmt: skip
    assert result.ok and [e.wait_s for e in report.events] == [0.2]


def test_a_wrong_rest_url_path_names_the_setting(tmp_path: Path) -> None:
    with FakeExchange(now_ms=NOW) as fake:
        url = f"{fake.url}/nonsense"
        settings = fake_settings(fake, OIRADAR__VENUES__BINANCEUSDM__REST_URL=url)
        with pytest.raises(SourceError) as info:
            fetch(fake, tmp_path, settings=settings)
    assert str(info.value) == (
        f"binanceusdm answered HTTP 404 for URL {url}/fapi/v1/exchangeInfo; "
        "check venues.binanceusdm.rest_url"
    )


def test_a_host_that_refuses_connections_fails_in_seconds(tmp_path: Path) -> None:
    """Nothing listens: 1 + CONNECT_RETRIES attempts, each wait at most a second."""
    with socket.socket() as sock:  # a free port, closed again: connections to it are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with FakeExchange(now_ms=NOW) as fake:
        settings = fake_settings(
            fake, OIRADAR__VENUES__BINANCEUSDM__REST_URL=f"http://127.0.0.1:{port}",
            OIRADAR__FETCH__RETRIES="10", OIRADAR__FETCH__BACKOFF_BASE="30",
            OIRADAR__FETCH__BACKOFF_MAX="60",
        )  # fmt: skip
        with pytest.raises(SourceError, match=r"load_markets: gave up after 3 attempts.*connect"):
            fetch(fake, tmp_path, settings=settings)


def _cli(fake: FakeExchange, home: Path, *args: str, **env: str) -> Result:
    """The real command in-process (typer's runner), pointed at the fake exchange."""
    clean = {k: None for k in os.environ if k.startswith("OIRADAR")}
    full = clean | fake_env(fake, **env) | {"COLUMNS": "300"}
    res = CliRunner().invoke(app, ["--home", str(home), *args], env=full)
    assert "Traceback" not in res.stdout + res.stderr
    return res


def test_cli_refuses_since_after_until_before_any_request(tmp_path: Path) -> None:
    with FakeExchange(now_ms=NOW) as fake:
        res = _cli(fake, tmp_path, "fetch", "-e", "binanceusdm", "-s", "KSM/USDT:USDT",
                   "--since", "2024-02-01", "--until", "2024-01-01", "--dry-run")  # fmt: skip
        assert fake.requests == []
    assert res.exit_code == 2
    assert "--since 2024-02-01 00:00 is not before --until 2024-01-01 00:00" in res.stderr


def test_cli_warns_of_a_refused_long_wait_as_it_happens(tmp_path: Path) -> None:
    faults = FaultPlan().add(FaultKind.RATE_LIMIT, "/fapi/v1/klines", retry_after="3600")
    with FakeExchange(now_ms=NOW, faults=faults) as fake:
        res = _cli(fake, tmp_path, "fetch", "-e", "binanceusdm", "-s", "KSM/USDT:USDT",
                   "--since", "2024-01-31", "--until", "2024-02-01", "--no-archive")  # fmt: skip
    assert res.exit_code == 1, res.stderr
    flat = " ".join(res.stderr.split())
    assert "warning: binanceusdm fapiPublicGetKlines" in flat
    assert "the venue asked to wait 3600 s (rate_limit); gave up" in flat
    assert "more than fetch.max_retry_after = 60 s" in flat  # the chunk's failure, at the end


def test_cli_markets_offline_fails_after_a_few_quick_attempts(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with FakeExchange(now_ms=NOW) as fake:
        res = _cli(fake, tmp_path, "markets", "-e", "okx",
                   OIRADAR__VENUES__OKX__REST_URL=f"http://127.0.0.1:{port}",
                   OIRADAR__FETCH__BACKOFF_BASE="30", OIRADAR__FETCH__BACKOFF_MAX="60")  # fmt: skip
    assert res.exit_code == 2
    flat = " ".join(res.stderr.split())
    assert (
        "okx load_markets: gave up after 3 attempts; last error (connect): cannot connect" in flat
    )
