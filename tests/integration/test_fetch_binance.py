"""Binance USD-M/COIN-M fetches against the local fake exchange: values, stitching, resume."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from oiradar.model import DAY_MS, HOUR_MS, SeriesKey, Timeframe
from oiradar.store import Catalog
from tests.fake_exchange import FakeExchange
from tests.fake_exchange import market as mk
from tests.fake_exchange.harness import NOW, T0, fetch, same_catalog

KEY = SeriesKey(exchange="binanceusdm", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
ARCHIVE_UNTIL = date(2024, 1, 6)  # the archive has 2024-01-01 .. 01-05; REST OI keeps 30 days


@pytest.fixture
def fake():
    with FakeExchange(now_ms=NOW, archive_until=ARCHIVE_UNTIL) as f:
        yield f


def _truth(ts: int, tf: int = HOUR_MS) -> dict[str, float]:
    close_t = ts + tf
    return {"close": mk.price("KSM", close_t), "oi": mk.oi("KSM", close_t)}


def test_bars_equal_the_market_truth(fake: FakeExchange, tmp_path: Path) -> None:
    result, report = fetch(fake, tmp_path, since=T0 + 3 * DAY_MS, until=T0 + 8 * DAY_MS)
    assert result.ok and report.events == []
    bars = Catalog(tmp_path).read_stored(KEY)
    assert bars.height == 5 * 24
    assert bars["ts"].to_list() == list(range(T0 + 3 * DAY_MS, T0 + 8 * DAY_MS, HOUR_MS))
    for row in bars.iter_rows(named=True):
        truth = _truth(row["ts"])
        assert row["close"] == truth["close"]
        assert row["oi"] == pytest.approx(truth["oi"], rel=1e-12)  # snapshot at the bar's close
        assert row["oi_raw"] == row["oi"] and row["oi_unit"] == "base"
        assert row["oi_value"] == pytest.approx(truth["oi"] * truth["close"], rel=1e-9)
    funded = bars.filter(pl.col("funding_rate").is_not_null())
    assert funded["ts"].to_list() == [t for t in bars["ts"] if t % (8 * HOUR_MS) == 0]
    assert funded["funding_rate"].to_list() == [mk.funding("KSM", t) for t in funded["ts"]]


def test_archive_days_and_rest_days_are_stitched(fake: FakeExchange, tmp_path: Path) -> None:
    """Days 1-5 come from the archive (metrics zips), days 6-10 from REST: one seamless series."""
    result, _ = fetch(fake, tmp_path, since=T0, until=T0 + 10 * DAY_MS)
    assert result.ok
    bars = Catalog(tmp_path).read_stored(KEY)
    assert bars.height == 240 and bars["oi"].null_count() == 0
    oi_truth = [_truth(t)["oi"] for t in bars["ts"]]
    assert bars["oi"].to_list() == pytest.approx(oi_truth, rel=1e-12)
    assert bars["long_short_ratio"].to_list() == pytest.approx(
        [mk.long_short("KSM", t + HOUR_MS) for t in bars["ts"]], abs=1e-4
    )
    checksums = [r for r in fake.requests if r.endswith(".zip.CHECKSUM")]
    zips = [r for r in fake.requests if r.endswith(".zip")]
    assert len(checksums) == 10 and len(zips) == 5  # every day tried in the archive; 5 there
    rest_oi = [r for r in fake.requests if "openInterestHist" in r]
    assert rest_oi and all(int(_param(r, "startTime")) > T0 + 5 * DAY_MS for r in rest_oi)


def _param(path: str, name: str) -> str:
    return path.split(f"{name}=")[1].split("&")[0]


def test_old_days_without_archive_have_no_oi(tmp_path: Path) -> None:
    """Beyond REST's 30 days and without the archive, OI is missing (null), never zero."""
    with FakeExchange(now_ms=NOW, archive_until=None) as fake:
        result, _ = fetch(fake, tmp_path, since=T0, until=T0 + 2 * DAY_MS, timeframe=Timeframe.H4)
    assert result.ok
    bars = Catalog(tmp_path).read_stored(KEY.with_timeframe(Timeframe.H4))
    assert bars.height == 12 and bars["oi"].null_count() == 12 and bars["close"].null_count() == 0
    assert not [r for r in fake.requests if "openInterestHist" in r]  # Binance would refuse them


def test_refetch_skips_complete_chunks_and_changes_nothing(
    fake: FakeExchange, tmp_path: Path
) -> None:
    fetch(fake, tmp_path, timeframe=Timeframe.M5)  # 5m bars: one chunk per day
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "catalog").rglob("*.parquet")}
    before = len(fake.requests)
    again, _ = fetch(fake, tmp_path, timeframe=Timeframe.M5)
    assert again.plan.chunks == [] and again.plan.skipped == 10
    assert fake.requests[before:] == ["/binanceusdm/fapi/v1/exchangeInfo"]
    assert {p: p.stat().st_mtime_ns for p in files} == files


def test_extending_the_range_fetches_only_the_new_days(fake: FakeExchange, tmp_path: Path) -> None:
    fetch(fake, tmp_path, until=T0 + 7 * DAY_MS, timeframe=Timeframe.M5)
    more, _ = fetch(fake, tmp_path, until=T0 + 10 * DAY_MS, timeframe=Timeframe.M5)
    assert [c.start for c in more.plan.chunks] == [T0 + d * DAY_MS for d in (7, 8, 9)]
    clean = tmp_path / "clean"
    fetch(fake, clean, timeframe=Timeframe.M5)
    assert same_catalog(tmp_path, clean)


def test_dry_run_plans_without_writing(fake: FakeExchange, tmp_path: Path) -> None:
    result, _ = fetch(fake, tmp_path, dry_run=True, timeframe=Timeframe.M5)
    assert not (tmp_path / "catalog").exists()
    table = result.plan.table()
    by = dict(zip(table["dataset"], table["requests"], strict=True))
    # 10 days of 5m: klines 1 call/day (288 bars), funding 1 call/day, archive zip + CHECKSUM per day
    assert by == {"klines": 10, "funding": 10, "oi": 20}
    assert result.plan.requests() == 40
    assert fake.requests == ["/binanceusdm/fapi/v1/exchangeInfo"]


def test_coinm_contracts_become_base_units(fake: FakeExchange, tmp_path: Path) -> None:
    """COIN-M OI is in contracts of 100 USD: oi = contracts x 100 / close (SPEC section 1)."""
    result, _ = fetch(fake, tmp_path, exchange="binancecoinm", symbol="BTC/USD:BTC",
                      since=T0 + 20 * DAY_MS, until=T0 + 22 * DAY_MS)  # fmt: skip
    assert result.ok
    bars = Catalog(tmp_path).read_stored(KEY.__class__(exchange="binancecoinm", symbol="BTC/USD:BTC",
                                                       timeframe=Timeframe.H1))  # fmt: skip
    assert bars.height == 48 and set(bars["oi_unit"]) == {"contracts_usd"}
    for row in bars.iter_rows(named=True):
        truth = _truth(row["ts"]) if False else mk.oi("BTC", row["ts"] + HOUR_MS)
        assert row["oi"] == pytest.approx(row["oi_raw"] * 100 / row["close"], rel=1e-12)
        # the venue rounds to whole contracts: the base figure is within half a contract of the truth
        assert abs(row["oi"] - truth) <= 0.5 * 100 / row["close"] + 1e-9
        assert row["oi_value"] == pytest.approx(row["oi_raw"] * 100, rel=1e-12)
    assert bars["quote_volume"].to_list() == pytest.approx(
        [round(mk.kline("BTC", t, HOUR_MS)["quote_volume"] / 100) * 100 for t in bars["ts"]]
    )


def test_unknown_symbol_names_the_close_match(fake: FakeExchange, tmp_path: Path) -> None:
    from oiradar.errors import InputError

    with pytest.raises(InputError, match="KSM/USDT:USDT"):
        fetch(fake, tmp_path, symbol="KSM/USDT:USD")


def test_archive_files_from_the_generator_are_fetched_verified_and_parsed(tmp_path: Path) -> None:
    """The fake archive serves files written by ``archive_gen.write_archive_days`` (the format
    generator of the archive parsers): the fetched OI equals the parser's reading of the same files."""
    from oiradar.sources.decode.binance_archive import parse_metrics
    from oiradar.sources.decode.binance_archive.synthetic import write_archive_days

    root = tmp_path / "mirror"
    zips = write_archive_days(
        root, "KSMUSDT", date(2024, 1, 2), 3, seed=11, kinds=("metrics",), layout="archive"
    )
    with FakeExchange(now_ms=NOW, archive_dir=root) as fake:
        result, report = fetch(fake, tmp_path / "home", timeframe=Timeframe.M5,
                               since=T0 + DAY_MS, until=T0 + 4 * DAY_MS)  # fmt: skip
    assert result.ok and report.events == []
    stored = Catalog(tmp_path / "home").read_stored(KEY.with_timeframe(Timeframe.M5))
    expected = pl.concat([parse_metrics(z) for z in zips]).sort("ts")
    got = stored.join(expected.select("ts", pl.col("oi").alias("oi_archive")), on="ts", how="inner")
    assert got.height == expected.height == 3 * 288
    assert got["oi"].to_list() == got["oi_archive"].to_list()
    assert set(stored["source"]) == {"archive"}


def test_bars_stored_without_oi_are_fetched_again(fake: FakeExchange, tmp_path: Path) -> None:
    """Klines imported from files first: the fetch fills their OI instead of skipping them."""
    cat = Catalog(tmp_path)
    ts = list(range(T0 + 6 * DAY_MS, T0 + 8 * DAY_MS, HOUR_MS))
    klines = pl.DataFrame({"ts": ts, "close": [mk.price("KSM", t + HOUR_MS) for t in ts]})
    cat.write_bars(KEY, klines, "file")
    result, _ = fetch(fake, tmp_path, since=T0 + 6 * DAY_MS, until=T0 + 8 * DAY_MS)
    assert len(result.plan.chunks) == 1 and result.ok
    bars = cat.read_stored(KEY)
    assert bars.height == 48 and bars["oi"].null_count() == 0
    again, _ = fetch(fake, tmp_path, since=T0 + 6 * DAY_MS, until=T0 + 8 * DAY_MS)
    assert again.plan.chunks == []


def test_incomplete_archive_days_are_filled_from_rest_where_rest_still_has_them(
    tmp_path: Path,
) -> None:
    """Empty metrics cells are missing, never zero; REST fills them within its 30 days."""
    old_day, recent_day = date(2024, 1, 3), date(2024, 1, 8)  # REST OI history starts 2024-01-06
    blank = {old_day: range(10, 20), recent_day: range(100, 150)}
    with FakeExchange(now_ms=NOW, archive_until=date(2024, 1, 10), archive_blank=blank) as fake:
        result, _ = fetch(
            fake, tmp_path, timeframe=Timeframe.M5, since=T0 + 2 * DAY_MS, until=T0 + 8 * DAY_MS
        )
    assert result.ok
    bars = Catalog(tmp_path).read_stored(KEY.with_timeframe(Timeframe.M5))
    assert bars.height == 6 * 288
    old0, recent0 = T0 + 2 * DAY_MS, T0 + 7 * DAY_MS
    holes = bars.filter(pl.col("oi").is_null())["ts"].to_list()
    assert holes == [old0 + i * 300_000 for i in range(10, 20)]  # beyond REST's reach: stays empty
    filled = bars.filter(pl.col("ts").is_between(recent0 + 100 * 300_000, recent0 + 149 * 300_000))
    assert filled.height == 50
    assert filled["oi"].to_list() == pytest.approx(
        [mk.oi("KSM", t + 300_000) for t in filled["ts"]], rel=1e-12
    )


def test_archive_label_change_of_2026_06_25_is_stitched_seamlessly(tmp_path: Path) -> None:
    """Metrics files switch from end-of-period to start-of-period labels on 2026-06-25 (decision
    0200): the fetched OI is the snapshot at each bar's close on both sides of the change."""
    day = 1782345600000  # 2026-06-25 00:00 UTC
    with FakeExchange(now_ms=day + 40 * DAY_MS, archive_until=date(2026, 7, 1)) as fake:
        result, _ = fetch(
            fake, tmp_path, timeframe=Timeframe.M5, since=day - DAY_MS, until=day + DAY_MS
        )
    assert result.ok
    bars = Catalog(tmp_path).read_stored(KEY.with_timeframe(Timeframe.M5))
    assert bars.height == 2 * 288 and set(bars["source"]) == {"archive"}
    truth = [mk.oi("KSM", t + 300_000) for t in bars["ts"]]
    assert bars["oi"].to_list() == pytest.approx(truth, rel=1e-12)
