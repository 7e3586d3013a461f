"""Opt-in tests against the real venues (``pytest -m live``; never in CI, they need the internet).

One day of ``KSM/USDT:USDT`` 1h bars from Binance USD-M, Bybit and OKX, fetched by the real code
path with default settings, then checked for unit consistency: within a venue, ``oi_value`` is
``oi x close``; across venues, one-sided base-unit OI is of the same order (KSM's OI is split
between the three venues, so ratios far outside [1/20, 20] mean a unit error, not a market fact).
The ratios are printed, which is how decision 0502 (Bybit's sides) can be re-checked.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest

from oiradar.config import load_settings
from oiradar.model import DAY_MS, SeriesKey, Timeframe, now_ms
from oiradar.sources import FetchRequest, Recorder, RecordOptions, RetryReport, run_fetch
from oiradar.store import Catalog, read_polls

pytestmark = pytest.mark.live
SYMBOL = "KSM/USDT:USDT"
VENUES = ("binanceusdm", "bybit", "okx")


@pytest.fixture(scope="module")
def day_of_ksm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    home = tmp_path_factory.mktemp("live")
    settings = load_settings()
    end = now_ms() // DAY_MS * DAY_MS - DAY_MS  # yesterday, closed and inside every venue's depth
    out = {}
    for exchange in VENUES:
        req = FetchRequest(exchange=exchange, symbol=SYMBOL, timeframe=Timeframe.H1,
                           since=end - DAY_MS, until=end)  # fmt: skip
        result = asyncio.run(run_fetch(req, Catalog(home), settings, RetryReport()))
        assert result.ok, result.failed
        out[exchange] = Catalog(home).read_stored(req.key)
    return out


@pytest.mark.parametrize("exchange", VENUES)
def test_one_day_is_complete_and_consistent(
    day_of_ksm: dict[str, pl.DataFrame], exchange: str
) -> None:
    bars = day_of_ksm[exchange]
    assert bars.height == 24
    assert bars["close"].null_count() == 0 and bars["oi"].null_count() <= 2
    ratio = (bars["oi_value"] / (bars["oi"] * bars["close"])).drop_nulls()
    assert ratio.min() > 0.95 and ratio.max() < 1.05, f"{exchange}: oi_value is not oi x close"


def test_oi_ratios_between_venues_are_plausible(day_of_ksm: dict[str, pl.DataFrame]) -> None:
    med = {ex: float(day_of_ksm[ex]["oi"].median()) for ex in VENUES}
    print("median one-sided KSM OI (base units):", med)
    for ex in ("bybit", "okx"):
        ratio = med[ex] / med["binanceusdm"]
        print(f"{ex} / binanceusdm = {ratio:.3f}")
        assert 1 / 20 < ratio < 20, f"{ex}: OI {ratio:.2f}x Binance's: a unit error?"


@pytest.mark.parametrize("exchange", VENUES)
def test_record_polls_live(tmp_path: Path, exchange: str) -> None:
    opts = RecordOptions(
        exchange=exchange, symbols=(SYMBOL,), poll_s=2, duration_s=5, liquidations=False
    )
    stats = asyncio.run(Recorder(opts, Catalog(tmp_path), load_settings(), RetryReport()).run())
    assert stats.polls >= 2 and not stats.errors
    assert read_polls(tmp_path, exchange, SYMBOL).height == stats.polls


def test_binance_archive_has_last_week(tmp_path: Path) -> None:
    """The archive is a day or two late: a week ago must be there, with its checksum."""
    end = now_ms() // DAY_MS * DAY_MS - 7 * DAY_MS
    req = FetchRequest(
        exchange="binanceusdm", symbol=SYMBOL, timeframe=Timeframe.H4, since=end - DAY_MS, until=end
    )
    result = asyncio.run(run_fetch(req, Catalog(tmp_path), load_settings(), RetryReport()))
    assert result.ok
    bars = Catalog(tmp_path).read_stored(
        SeriesKey(exchange="binanceusdm", symbol=SYMBOL, timeframe=Timeframe.H4)
    )
    assert set(bars["source"]) == {"archive"} and bars["oi"].null_count() == 0
