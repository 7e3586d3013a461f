"""Binance COIN-M ``metrics`` files (decision 0505): contracts kept raw, converted like REST."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from oiradar.errors import InputError
from oiradar.model import MarginType
from oiradar.sources.clients.archive import metrics_path
from oiradar.sources.decode import binance_archive as ba
from oiradar.sources.decode.binance_archive.synthetic import write_archive_days
from oiradar.sources.decode.venues.base import MarketInfo, OiUnit, oi_to_base
from oiradar.sources.decode.venues.binance import BinanceCoinm, BinanceUsdm

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "binance_archive"
CM_FILE = FIX / "BTCUSD_PERP-metrics-2025-06-02.csv"
FIVE_MIN = 300_000
BTCUSD = MarketInfo(
    symbol="BTC/USD:BTC", id="BTCUSD_PERP", margin=MarginType.INVERSE, contract_size=100.0
)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _oracle(path: Path) -> pl.DataFrame:
    """The reading decision 0505 documents, computed with pandas: start-of-period labels
    (ts = create_time), ``oi_raw`` = contracts, ``long_short_ratio`` = ``count_long_short_ratio``;
    a row with no OI and no ratio makes no bar."""
    df = pd.read_csv(path)  # pandas reads "" and empty cells as NaN
    df = df[df["sum_open_interest"].notna() | df["count_long_short_ratio"].notna()]
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    ts = (pd.to_datetime(df["create_time"], utc=True) - epoch) // pd.Timedelta(milliseconds=1)
    return pl.DataFrame(
        {
            "ts": ts.to_numpy(),
            "oi_raw": df["sum_open_interest"].to_numpy(),
            "long_short_ratio": df["count_long_short_ratio"].to_numpy(),
        }
    ).with_columns(pl.col("long_short_ratio").fill_nan(None))


def test_coinm_metrics_keep_contracts_as_oi_raw_like_pandas():
    out = ba.parse_metrics(CM_FILE, market="cm")
    assert_frame_equal(out.select("ts", "oi_raw", "long_short_ratio"), _oracle(CM_FILE))
    assert set(out["oi_unit"]) == {"contracts_usd"}
    # not converted here: the fetcher converts with the bar's close, as it does REST's figure
    assert out["oi"].null_count() == out["oi_value"].null_count() == out.height == 10
    assert out["oi_raw"][0] == 23_906_290.0  # whole contracts, not BTC
    assert out["long_short_ratio"].drop_nulls().to_list() == [1.25]


def test_coinm_labels_are_period_starts_on_any_date():
    """COIN-M files label each row with the start of its period (decision 0200), also before
    the USD-M switch of 2026-06-25: the 00:00 row is the 00:00 bar (snapshot at 00:05)."""
    out = ba.parse_metrics(CM_FILE, market="cm")
    assert out["ts"][0] == _ms("2025-06-02 00:00:00")
    usdm_reading = ba.parse_metrics(CM_FILE, market="um")  # 2025 USD-M files label period ends
    assert usdm_reading["ts"][0] == _ms("2025-06-02 00:00:00") - FIVE_MIN
    end = ba.parse_metrics(CM_FILE, market="cm", labels="end")
    assert (out["ts"] - end["ts"]).unique().to_list() == [FIVE_MIN]


def test_coinm_missing_row_and_empty_oi_cell_stay_missing():
    ts = ba.parse_metrics(CM_FILE, market="cm")["ts"].to_list()
    start = _ms("2025-06-02 00:00:00")
    absent = {start + 4 * FIVE_MIN, start + 6 * FIVE_MIN}  # 00:20 not in the file; 00:30 empty
    assert ts == [start + i * FIVE_MIN for i in range(12) if start + i * FIVE_MIN not in absent]


def test_coinm_conversion_is_the_rest_one_and_agrees_with_binances_base_value():
    """oi = contracts x 100 / close through ``oi_to_base``, the function the REST path uses; at
    the fixture's price (100,000 USD) it equals the file's own base-coin value column."""
    bars = ba.parse_metrics(CM_FILE, market="cm").with_columns(pl.lit(100_000.0).alias("close"))
    out = oi_to_base(bars, BTCUSD)
    raw = pd.read_csv(CM_FILE).dropna(subset=["sum_open_interest"])
    assert out["oi"].to_list() == pytest.approx(raw["sum_open_interest_value"].tolist(), rel=1e-12)
    assert out["oi_value"].to_list() == pytest.approx((out["oi_raw"] * 100).to_list(), rel=1e-12)


def test_archive_units_are_the_venues_rest_units():
    """One unit per market, the same OiUnit the venue's REST decoding stamps."""
    assert ba.METRICS_OI_UNIT["cm"] == BinanceCoinm.oi_unit == OiUnit.CONTRACTS_QUOTE
    assert ba.METRICS_OI_UNIT["um"] == BinanceUsdm.oi_unit == OiUnit.BASE
    assert BinanceCoinm.archive_market == "cm" and BinanceUsdm.archive_market == "um"
    assert "archive" in BinanceCoinm.oi_history


def test_coinm_path_on_data_binance_vision():
    assert metrics_path("BTCUSD_PERP", date(2025, 6, 2), "cm") == (
        "data/futures/cm/daily/metrics/BTCUSD_PERP/BTCUSD_PERP-metrics-2025-06-02.zip"
    )


def test_coinm_file_of_another_symbol_is_refused():
    data = CM_FILE.read_bytes().replace(b"00:10:00,BTCUSD_PERP", b"00:10:00,ETHUSD_PERP")
    moved = data.replace(b"\n2025-06-02 00:00:00,BTCUSD_PERP", b"\n2025-06-02 00:00:00,ETHUSD_PERP")
    with pytest.raises(InputError, match="ETHUSD_PERP") as exc:
        ba.parse_metrics(moved, name=CM_FILE.name, market="cm")
    assert exc.value.column == "symbol" and exc.value.row == 2


def test_quoted_empty_cells_equal_bare_empty_cells_in_both_markets():
    bare = CM_FILE.read_bytes().replace(b'""', b"")
    for market in ("um", "cm"):
        assert_frame_equal(
            ba.parse_metrics(CM_FILE, market=market),
            ba.parse_metrics(bare, name=CM_FILE.name, market=market),
        )


def test_unknown_market_is_refused():
    with pytest.raises(InputError, match="'xm'"):
        ba.parse_metrics(CM_FILE, market="xm")  # type: ignore[arg-type]


def test_generated_coinm_files_round_trip(tmp_path):
    paths = write_archive_days(tmp_path, "BTCUSD_PERP", date(2024, 1, 1), 2, seed=3,
                               kinds=("metrics",), layout="archive", market="cm",
                               price0=40_000.0)  # fmt: skip
    assert paths[1] == tmp_path / metrics_path("BTCUSD_PERP", date(2024, 1, 2), "cm")
    assert all(ba.verify_checksum(p) for p in paths)
    lines = zipfile.ZipFile(paths[0]).read(paths[0].stem + ".csv").decode().splitlines()
    assert lines[1].startswith("2024-01-01 00:00:00,BTCUSD_PERP,") and '""' in lines[1]
    frame = pl.concat([ba.parse_metrics(p, market="cm") for p in paths])
    start = _ms("2024-01-01 00:00:00")
    assert frame["ts"].to_list() == list(range(start, start + 2 * 288 * FIVE_MIN, FIVE_MIN))
    assert (frame["oi_raw"] == frame["oi_raw"].round(0)).all()  # whole contracts
    assert frame["long_short_ratio"].null_count() == frame.height
    with pytest.raises(ValueError, match="metrics files only"):
        write_archive_days(tmp_path, "BTCUSD_PERP", date(2024, 1, 1), 1, market="cm")
