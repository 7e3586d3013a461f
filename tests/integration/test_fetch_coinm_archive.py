"""Binance COIN-M OI history beyond REST's 30 days, from the archive's ``cm`` metrics files.

The fake serves ``data/futures/cm/daily/metrics/BTCUSD_PERP/...`` zips (+ ``.CHECKSUM``) in the
documented format: 100-USD contracts, start-of-period labels, empty long/short cells (decision
0505). A fetch over 34 days takes 33 days from the archive and the rest from REST; both are
converted by the same ``oi_to_base``, so the series must not jump where they meet.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from oiradar.model import DAY_MS, HOUR_MS, SeriesKey, Timeframe
from oiradar.sources import FetchResult, RetryReport, list_markets
from oiradar.store import Catalog
from tests.fake_exchange import FakeExchange
from tests.fake_exchange import market as mk
from tests.fake_exchange.faults import FaultKind, FaultPlan
from tests.fake_exchange.harness import NOW, T0, fake_settings, fetch, same_catalog, snapshot

EX, SYM, SIZE = "binancecoinm", "BTC/USD:BTC", 100.0
KEY = SeriesKey(exchange=EX, symbol=SYM, timeframe=Timeframe.H1)
ARCHIVE_UNTIL = date(2024, 2, 3)  # the archive has 2024-01-01 .. 02-02; NOW is 2024-02-04
SEAM = int(datetime(2024, 2, 3, tzinfo=UTC).timestamp() * 1000)  # first bar only REST has
REST_FROM = NOW - 30 * DAY_MS + HOUR_MS  # the first bar REST OI history serves
CM_ZIP = "/archive/data/futures/cm/daily/metrics/BTCUSD_PERP/BTCUSD_PERP-metrics-{}.zip"


def _contracts(ts: int) -> float:
    """The fake venue's contract count for the snapshot at ``ts`` (REST and archive alike)."""
    return float(round(mk.oi("BTC", ts) * mk.price("BTC", ts) / SIZE))


@dataclass(frozen=True)
class Homes:
    root: Path  # stitched/ (archive + REST), rest/ (REST only)
    requests: list[str]  # what the stitched fetch asked the fake


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Homes:
    """One archive + REST fetch of 34 days, one REST-only fetch of the same range."""
    root = tmp_path_factory.mktemp("coinm")
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL) as fake:
        stitched, report = fetch(fake, root / "stitched", exchange=EX, symbol=SYM,
                                 since=T0, until=NOW)  # fmt: skip
        requests = list(fake.requests)
        rest_only, _ = fetch(fake, root / "rest", exchange=EX, symbol=SYM, since=T0, until=NOW,
                             archive=False)  # fmt: skip
    assert stitched.ok and rest_only.ok and report.events == []
    return Homes(root, requests)


def _bars(home: Path) -> pl.DataFrame:
    return Catalog(home).read_stored(KEY)


def test_34_days_come_from_the_archive_then_rest(homes: Homes) -> None:
    bars = _bars(homes.root / "stitched")
    assert bars.height == 34 * 24 and bars["oi"].null_count() == 0
    requests = homes.requests
    zips = [r for r in requests if r.startswith("/archive/data/futures/cm/") and r.endswith(".zip")]
    assert len(zips) == 33  # 2024-01-01 .. 02-02 served; 02-03 answered 404 at its .CHECKSUM
    rest_oi = [r for r in requests if "openInterestHist" in r]
    assert rest_oi and all(int(_param(r, "startTime")) >= SEAM for r in rest_oi)
    assert set(bars["source"]) == {"archive"}  # a chunk with archive OI is stamped archive


def test_no_jump_at_the_seam_and_equal_to_rest_where_both_exist(homes: Homes) -> None:
    root = homes.root
    stitched, rest = _bars(root / "stitched"), _bars(root / "rest")
    both = stitched.join(rest.select("ts", "oi", "oi_raw"), on="ts", suffix="_rest").filter(
        pl.col("oi_rest").is_not_null()
    )
    from_archive = both.filter(pl.col("ts") < SEAM)
    assert from_archive.height == (SEAM - REST_FROM) // HOUR_MS  # 29 days + 23 h of overlap
    assert from_archive["oi_raw"].to_list() == from_archive["oi_raw_rest"].to_list()
    assert from_archive["oi"].to_list() == pytest.approx(
        from_archive["oi_rest"].to_list(), rel=1e-9
    )
    # across the seam the series moves as the market does: its step equals the truth's step
    # within the venue's rounding to whole 100-USD contracts (two half-contracts)
    at = stitched.filter(pl.col("ts").is_between(SEAM - HOUR_MS, SEAM))
    oi, close = at["oi"].to_list(), at["close"].to_list()
    truth = [mk.oi("BTC", t + HOUR_MS) for t in at["ts"]]
    rounding = sum(0.5 * SIZE / c for c in close)
    assert abs((oi[1] - oi[0]) - (truth[1] - truth[0])) <= rounding + 1e-9


def test_stored_raw_figure_and_unit_are_the_venues_contracts(homes: Homes) -> None:
    bars = _bars(homes.root / "stitched")
    assert set(bars["oi_unit"]) == {"contracts_usd"}
    assert bars["oi_raw"].to_list() == [_contracts(t + HOUR_MS) for t in bars["ts"]]
    assert bars["oi"].to_list() == pytest.approx(
        (bars["oi_raw"] * SIZE / bars["close"]).to_list(), rel=1e-12
    )  # contracts x size / the bar's close (SPEC section 1)
    assert bars["oi_value"].to_list() == pytest.approx((bars["oi_raw"] * SIZE).to_list(), rel=1e-12)


def test_long_short_ratio_from_rest_where_the_archive_has_none(homes: Homes) -> None:
    """COIN-M metrics leave the ratio empty: REST fills it within its 30 days, never beyond."""
    bars = _bars(homes.root / "stitched")
    old = bars.filter(pl.col("ts") < REST_FROM - HOUR_MS)
    recent = bars.filter(pl.col("ts") >= REST_FROM)
    assert old.height and old["long_short_ratio"].null_count() == old.height
    assert recent["long_short_ratio"].to_list() == pytest.approx(
        [mk.long_short("BTC", t + HOUR_MS) for t in recent["ts"]], abs=1e-4
    )


def test_rerun_changes_nothing(homes: Homes, tmp_path: Path) -> None:
    root = homes.root
    home = tmp_path / "again"
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL) as fake:
        fetch(fake, home, exchange=EX, symbol=SYM, since=T0, until=NOW)
        before = snapshot(home)
        again, report = fetch(fake, home, exchange=EX, symbol=SYM, since=T0, until=NOW)
        assert again.plan.chunks == [] and again.plan.skipped == 2 and report.events == []
        assert fake.requests[-1:] == ["/binancecoinm/dapi/v1/exchangeInfo"]
    after = snapshot(home)
    assert before.keys() == after.keys() and all(before[k].equals(after[k]) for k in before)
    assert same_catalog(home, root / "stitched")


def test_bad_checksum_on_a_cm_zip_is_retried_and_reported(tmp_path: Path) -> None:
    """Once: retried, reported, same catalog as a clean run. Every time: that day's chunk is
    written nowhere and reported; the other days are stored."""
    bad = CM_ZIP.format("2024-01-04") + "$"
    _days_2_to_4(tmp_path / "clean", FaultPlan())
    result, report = _days_2_to_4(tmp_path / "once", FaultPlan().add(FaultKind.BAD_CHECKSUM, bad))
    assert result.ok and [e.kind for e in report.events] == ["checksum"]
    assert report.events[0].what.endswith("BTCUSD_PERP-metrics-2024-01-04.zip")
    assert "SHA-256 mismatch" in report.events[0].detail
    assert same_catalog(tmp_path / "once", tmp_path / "clean")

    always = FaultPlan().add(FaultKind.BAD_CHECKSUM, bad, times=10)  # retries: 4
    result, report = _days_2_to_4(tmp_path / "always", always)
    day = T0 + 3 * DAY_MS
    assert [c.start for c, _ in result.failed] == [day] and "checksum" in result.failed[0][1]
    assert report.events[-1].gave_up and {e.kind for e in report.events} == {"checksum"}
    stored = Catalog(tmp_path / "always").read_stored(KEY.with_timeframe(Timeframe.M5))
    assert stored.height == 2 * 288
    assert stored.filter(pl.col("ts").is_between(day, day + DAY_MS - 1)).is_empty()


def _days_2_to_4(home: Path, faults: FaultPlan) -> tuple[FetchResult, RetryReport]:
    """5m bars of 2024-01-03 .. 01-05 (one chunk a day) from a fake with these faults."""
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL, faults=faults) as fake:
        return fetch(fake, home, exchange=EX, symbol=SYM, timeframe=Timeframe.M5,
                     since=T0 + 2 * DAY_MS, until=T0 + 5 * DAY_MS)  # fmt: skip


def test_dry_run_plans_archive_days_for_coinm(tmp_path: Path) -> None:
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL) as fake:
        result, _ = fetch(fake, tmp_path, exchange=EX, symbol=SYM, since=T0, until=NOW,
                          dry_run=True)  # fmt: skip
        assert fake.requests == ["/binancecoinm/dapi/v1/exchangeInfo"]
    plan = result.plan
    assert plan.archive_market == "cm"
    by = dict(zip(plan.table()["endpoint"], plan.table()["requests"], strict=True))
    assert by["archive metrics (+ .CHECKSUM)"] == 2 * 34  # a zip and its .CHECKSUM per day
    assert not any("OpenInterestHist" in e for e in by)  # REST OI only for days the archive lacks


def test_markets_say_the_archive_depth_for_coinm() -> None:
    with FakeExchange(now_ms=NOW) as fake:
        frame = asyncio.run(list_markets(EX, fake_settings(fake), RetryReport()))
    assert set(frame["oi_history"]) == {"30d REST + archive (years)"}
    assert "BTC/USD:BTC" in frame["symbol"].to_list()


def test_files_from_the_generator_are_fetched_as_contracts(tmp_path: Path) -> None:
    """The fake archive serves COIN-M files written by ``archive_gen`` (``market="cm"``): the
    stored ``oi_raw`` is the parser's reading of them, converted with the fetched closes."""
    from oiradar.sources.decode.binance_archive import parse_metrics
    from oiradar.sources.decode.binance_archive.synthetic import write_archive_days

    zips = write_archive_days(tmp_path / "mirror", "BTCUSD_PERP", date(2024, 1, 2), 2, seed=4,
                              kinds=("metrics",), layout="archive", market="cm")  # fmt: skip
    with FakeExchange(now_ms=NOW, archive_dir=tmp_path / "mirror") as fake:
        result, report = fetch(fake, tmp_path / "home", exchange=EX, symbol=SYM,
                               timeframe=Timeframe.M5, since=T0 + DAY_MS,
                               until=T0 + 3 * DAY_MS)  # fmt: skip
    assert result.ok and report.events == []
    stored = Catalog(tmp_path / "home").read_stored(KEY.with_timeframe(Timeframe.M5))
    expected = pl.concat([parse_metrics(z, market="cm") for z in zips])
    assert stored["ts"].to_list() == expected["ts"].to_list()
    assert stored["oi_raw"].to_list() == expected["oi_raw"].to_list()
    assert stored["oi"].to_list() == pytest.approx(
        (stored["oi_raw"] * SIZE / stored["close"]).to_list(), rel=1e-12
    )


def _param(path: str, name: str) -> str:
    return path.split(f"{name}=")[1].split("&")[0]
