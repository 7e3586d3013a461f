"""COIN-M archive file names and klines (decision 0506): recognised, mapped as REST maps them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from oiradar.errors import InputError
from oiradar.model import MarginType, Timeframe
from oiradar.sources.decode import binance_archive as ba
from oiradar.sources.decode.binance_archive.csvbatch import load_bodies, split_body
from oiradar.sources.decode.files.detect import detect_format
from oiradar.sources.decode.venues.base import Dataset, MarketInfo, RestCall
from oiradar.sources.decode.venues.binance import BinanceCoinm

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "binance_archive"
CM_KLINES = FIX / "BTCUSD_PERP-5m-2025-06-02.csv"
BTCUSD = MarketInfo(
    symbol="BTC/USD:BTC", id="BTCUSD_PERP", margin=MarginType.INVERSE, contract_size=100.0
)


@pytest.mark.parametrize(
    ("name", "kind", "symbol", "interval", "day"),
    [
        ("BTCUSD_PERP-metrics-2024-01-01.zip", "metrics", "BTC/USD:BTC", None, "2024-01-01"),
        ("BTCUSD_PERP-1h-2024-01.zip", "klines", "BTC/USD:BTC", "1h", "2024-01"),
        ("ETHUSD_PERP-5m-2024-01-02.csv", "klines", "ETH/USD:ETH", "5m", "2024-01-02"),
        ("BTCUSD_PERP-fundingRate-2024-01.zip", "fundingRate", "BTC/USD:BTC", None, "2024-01"),
    ],
)
def test_coinm_names_are_binancecoinm_inverse_symbols(name, kind, symbol, interval, day):
    info = ba.detect(name)
    assert info is not None
    assert (info.kind.value, info.symbol, info.interval, info.date) == (kind, symbol, interval, day)
    assert (info.market, info.exchange) == ("cm", "binancecoinm")
    assert detect_format(Path(name)) == "binance-archive"
    assert ba.archive_relpath(name).startswith(
        f"data/futures/cm/{'monthly' if len(day) == 7 else 'daily'}/"
    )


def test_usdm_names_stay_binanceusdm():
    info = ba.detect("BTCUSDT-metrics-2024-01-01.zip")
    assert info is not None and (info.market, info.exchange) == ("um", "binanceusdm")
    assert ba.archive_relpath(info.name).startswith("data/futures/um/daily/metrics/BTCUSDT/")


@pytest.mark.parametrize("name", ["USD_PERP-metrics-2024-01-01.zip", "BTCUSD_PERP-1m-2024-01.zip"])
def test_unusable_coinm_names(name):
    info = ba.detect(name)
    if info is None:  # no base coin
        assert name.startswith("USD_PERP")
        return
    with pytest.raises(InputError, match="not an oiradar timeframe"):
        info.timeframe  # noqa: B018


def test_contract_sizes_follow_spec_section_1():
    assert ba.coinm_contract_size("BTC") == 100.0
    assert ba.coinm_contract_size("ETH") == ba.coinm_contract_size("SOL") == 10.0


def _pandas_oracle(path: Path, size: float) -> pd.DataFrame:
    """Binance README, COIN-M klines: column 5 contracts, 7 base volume, 10 taker buy base."""
    df = pd.read_csv(path)
    return pd.DataFrame(
        {
            "ts": df.iloc[:, 0],
            "close": df.iloc[:, 4],
            "volume": df.iloc[:, 7],
            "quote_volume": df.iloc[:, 5] * size,
            "taker_buy_volume": df.iloc[:, 10],
        }
    )


def test_coinm_klines_volumes_like_pandas():
    out = ba.klines_bodies_to_bars(
        load_bodies([CM_KLINES], "open_time", [None]), market="cm", contract_size=100.0
    )
    expected = pl.from_pandas(_pandas_oracle(CM_KLINES, 100.0))
    assert_frame_equal(out.select(expected.columns), expected, check_dtypes=False)
    assert "taker_buy_quote_volume" not in out.columns
    assert not out["quote_volume_estimated"].any()
    # the volume is the base coin, not the contract count
    assert out["volume"][0] == 25.78147697 and out["quote_volume"][0] == 27244 * 100.0


def test_coinm_klines_read_by_position_with_or_without_header():
    text = CM_KLINES.read_bytes()
    headed = ba.klines_bodies_to_bars(
        [split_body("a.csv", text, "open_time")], market="cm", contract_size=100.0
    )
    bare = ba.klines_bodies_to_bars(
        [split_body("b.csv", text.split(b"\n", 1)[1], "open_time")],
        market="cm",
        contract_size=100.0,
    )
    assert_frame_equal(headed, bare)


def test_coinm_klines_from_the_archive_equal_rest_klines():
    """The archive rows, sent as ``/dapi/v1/klines`` arrays, decode to the same frame."""
    archive = ba.read_archive_file(CM_KLINES)[3]
    rows = [line.split(",") for line in CM_KLINES.read_text().splitlines()[1:]]
    payload = json.loads(
        json.dumps([[int(r[0]), *r[1:6], int(r[6]), r[7], int(r[8]), *r[9:]] for r in rows])
    )
    call = RestCall(dataset=Dataset.KLINES, method="dapiPublicGetKlines", params={}, start=0, end=0)
    rest = BinanceCoinm().decode(call, payload, BTCUSD, Timeframe.M5)
    assert_frame_equal(archive, rest.select(archive.columns))


def test_coinm_klines_need_the_contract_size():
    with pytest.raises(InputError, match="contract size"):
        ba.klines_bodies_to_bars([], market="cm")


def test_coinm_kline_taker_volume_above_volume_is_refused(tmp_path: Path):
    lines = CM_KLINES.read_text().splitlines()
    cells = lines[3].split(",")
    cells[9] = str(int(cells[5]) + 1)  # taker buy contracts above the bar's contracts
    bad = tmp_path / "BTCUSD_PERP-5m-2025-06-02.csv"
    bad.write_text("\n".join([*lines[:3], ",".join(cells), *lines[4:]]) + "\n")
    with pytest.raises(InputError) as err:
        ba.read_archive_file(bad)
    assert (err.value.file, err.value.row, err.value.column) == (bad.name, 4, "taker_buy_volume")


def test_read_archive_files_parses_coinm_metrics_as_contracts():
    kind, symbol, tf, bars = ba.read_archive_file(FIX / "BTCUSD_PERP-metrics-2025-06-02.csv")
    assert (kind, symbol, tf) == (ba.ArchiveKind.METRICS, "BTC/USD:BTC", Timeframe.M5)
    assert set(bars["oi_unit"]) == {"contracts_usd"}
    assert bars["oi"].null_count() == bars.height
    assert bars["ts"][0] == 1748822400000  # start-of-period label: 00:00 is the 00:00 bar
