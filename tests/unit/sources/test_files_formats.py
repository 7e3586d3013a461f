"""Each format's mapping to canonical columns, on the project's own small fixtures."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from oiradar.errors import InputError
from oiradar.model import HOUR_MS, MINUTE_MS, SeriesKey, Timeframe
from oiradar.sources import detect_format, import_paths
from oiradar.sources.decode.files.merge import combine_frames, estimate_quote_volume
from oiradar.sources.decode.files.polls import snap_polls
from oiradar.store import Catalog

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "files"


def key(exchange: str, symbol: str, tf: str) -> SeriesKey:
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=Timeframe(tf))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("bars_5m.csv", "csv"),
        ("coinalyze/open_interest_history.csv", "coinalyze"),
        ("coinalyze/markets.csv", "skip:Coinalyze market list (read beside its data files)"),
        ("binance_btcusdt_liquidation_orders.csv", "binance-liquidations"),
        ("binance_btcusdt_open_interest_history.csv", "polls"),
        ("open_interest.json", "binance-json"),
        ("bars_iso_mapped.csv", None),  # no ts column: generic only when named explicitly
    ],
)
def test_detect_format(name: str, fmt: str | None) -> None:
    assert detect_format(FIXTURES / name) == fmt


def test_detect_archive_and_freqtrade_names(tmp_path: Path) -> None:
    for name, fmt in [
        ("BTCUSDT-metrics-2024-01-01.zip", "binance-archive"),
        ("BTCUSDT-5m-2024-01.zip", "binance-archive"),
        ("BTCUSDT-fundingRate-2024-01.csv", "binance-archive"),
        ("XRP_USDT_USDT-5m-futures.feather", "freqtrade"),
        ("XRP_USDT_USDT-8h-funding_rate.parquet", "freqtrade"),
    ]:
        assert detect_format(tmp_path / name) == fmt, name


def test_generic_csv_values(catalog: Catalog) -> None:
    rep = import_paths([FIXTURES / "bars_5m.csv"], catalog, exchange="x", symbol="KSM/USDT:USDT")
    k = key("x", "KSM/USDT:USDT", "5m")  # timeframe inferred from the median step
    assert rep.series[k].rows_added == 4
    got = catalog.read_stored(k)
    assert got["close"].to_list() == [100.5, 101.5, 101.0, 100.2]
    assert got["oi"].to_list() == [5000.0, 5010.0, None, 5020.0]  # empty cell is missing
    assert got["quote_volume_estimated"].to_list() == [False] * 4


def test_generic_needs_exchange_and_symbol(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="--exchange and --symbol"):
        import_paths([FIXTURES / "bars_5m.csv"], catalog)


def test_map_renames_and_iso_ts(catalog: Catalog) -> None:
    mapping = {"time": "ts", "o": "open", "h": "high", "l": "low", "c": "close", "vol": "volume"}
    import_paths(
        [FIXTURES / "bars_iso_mapped.csv"],
        catalog,
        exchange="x",
        symbol="A/USDT:USDT",
        mapping=mapping,
    )
    got = catalog.read_stored(key("x", "A/USDT:USDT", "1h"))
    assert got["ts"].to_list() == [1_704_067_200_000 + i * HOUR_MS for i in range(3)]
    # quote volume absent: estimated as volume * (high + low + close) / 3 and flagged (SPEC)
    assert got["quote_volume"][0] == pytest.approx(10.0 * (101.0 + 99.5 + 100.5) / 3)
    assert got["quote_volume_estimated"].to_list() == [True] * 3


def test_map_unknown_source_column(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="does not have"):
        import_paths(
            [FIXTURES / "bars_iso_mapped.csv"],
            catalog,
            exchange="x",
            symbol="A/USDT:USDT",
            mapping={"nope": "ts"},
        )


def test_parquet_roundtrip_of_an_export(catalog: Catalog, tmp_path: Path) -> None:
    import_paths([FIXTURES / "bars_5m.csv"], catalog, exchange="x", symbol="KSM/USDT:USDT")
    k = key("x", "KSM/USDT:USDT", "5m")
    exported = tmp_path / "out.parquet"
    catalog.read_bars(k).with_columns(
        pl.lit("y").alias("exchange"), pl.lit("KSM/USDT:USDT").alias("symbol"),
        pl.lit("5m").alias("timeframe"),
    ).write_parquet(exported)  # fmt: skip
    import_paths([exported], catalog)  # the key columns say which series
    assert catalog.read_stored(key("y", "KSM/USDT:USDT", "5m"))["close"].equals(
        catalog.read_stored(k)["close"]
    )


def test_coinalyze_folder(catalog: Catalog) -> None:
    rep = import_paths([FIXTURES / "coinalyze"], catalog)
    inverse = catalog.read_stored(key("binancecoinm", "BTC/USD:BTC", "1d"))
    assert inverse["oi_value"].to_list() == [1125994500.0, 1147301600.0]
    assert inverse["oi_unit"].to_list() == ["usd", "usd"]
    assert inverse["oi"].null_count() == 2  # no price per venue: base units unknown
    # one settlement's rate per day (percent), stored as the day's sum: 3 settlements (decision 0606)
    assert inverse["funding_rate"].to_list() == pytest.approx([3 * 0.00008961, 3 * -0.000025])
    assert any("funding_scaled" in n and "x 3 (binancecoinm" in n for n in rep.notes)
    linear = catalog.read_stored(key("binanceusdm", "BTC/USDT:USDT", "1d"))
    assert linear["oi_value"].to_list() == [3465520267.68]  # day 2: no OI and no funding
    assert linear["ts"][0] == 1_641_081_600_000  # 2022-01-02 00:00 UTC
    assert not any(k.exchange == "krakenfutures" for k in rep.series)  # ambiguous: skipped
    assert any("Kraken" in n for n in rep.notes)
    liq = catalog.read_liquidations().sort("ts", "symbol", "side")
    assert liq.height == 6  # 8 cells, one empty, one zero
    row = liq.filter((pl.col("symbol") == "BTC/USDT:USDT") & (pl.col("side") == "long"))
    assert row["quote_qty"].to_list() == [8096480.04]
    assert row["price"].null_count() == 1 and row["qty"].null_count() == 1


def test_forceorder_two_formats(catalog: Catalog) -> None:
    rep = import_paths([FIXTURES / "binance_btcusdt_liquidation_orders.csv"], catalog)
    liq = catalog.read_liquidations()
    assert liq.height == 4  # the XRP-priced row (2.557) is dropped with a note
    assert any("dropped 1 row" in n for n in rep.notes)
    assert set(liq["symbol"]) == {"BTC/USDT:USDT"} and set(liq["exchange"]) == {"binanceusdm"}
    first = liq.row(0, named=True)  # SELL = a long was liquidated; trade time IST -> UTC
    assert (first["ts"], first["side"], first["price"], first["qty"]) == (
        1_733_330_785_584, "long", 94434.91, 0.013)  # fmt: skip
    assert first["quote_qty"] == pytest.approx(94434.91 * 0.013)
    assert liq["side"].to_list() == ["long", "short", "short", "long"]


def test_oi_polls_snap_to_the_bar_they_close(catalog: Catalog) -> None:
    import_paths([FIXTURES / "binance_btcusdt_open_interest_history.csv"], catalog)
    got = catalog.read_stored(key("binanceusdm", "BTC/USDT:USDT", "5m"))
    # 01:09:44 and 01:09:56 IST and 01:10:00 close the 01:05 bar (the last, 01:10:00, wins);
    # 01:10:06 closes the 01:10 bar; 01:21:30 the 01:20 bar. IST = UTC + 5:30.
    t0 = 1_734_118_500_000  # 2024-12-14 01:05 IST
    assert got["ts"].to_list() == [t0, t0 + 5 * MINUTE_MS, t0 + 15 * MINUTE_MS]
    assert got["oi"].to_list() == [92720.5, 92719.607, 92800.0]


def test_snap_polls_equals_pandas_resample() -> None:
    ts = [0, 1, 299_999, 300_000, 300_001, 900_000, 1_000_000]
    frame = pl.DataFrame({"ts": ts, "oi": [float(i) for i in range(len(ts))]})
    got = snap_polls(frame, Timeframe.M5)
    s = pd.Series(frame["oi"].to_numpy(), index=pd.to_datetime(ts, unit="ms"))
    want = s.resample("5min", closed="right", label="left").last().dropna()
    # bins (t - 5m, t]: labelled by their left edge, which is the bar's open time
    assert got["ts"].to_list() == [int(t.value // 1_000_000) for t in want.index]
    assert got["oi"].to_list() == want.tolist()


def test_oi_json_snapshot_belongs_to_the_bar_it_closes(catalog: Catalog) -> None:
    import_paths([FIXTURES / "open_interest.json"], catalog, symbol="BTC/USDT:USDT")
    got = catalog.read_stored(key("binanceusdm", "BTC/USDT:USDT", "1h"))
    assert got["ts"][0] == 1_772_748_000_000 - HOUR_MS
    assert got["oi"][0] == 83397.687 and got["oi_value"][0] == 5929801270.000561


def freqtrade_files(folder: Path) -> None:
    dates = pl.datetime_range(
        pl.datetime(2021, 11, 18, time_zone="UTC"),
        pl.datetime(2021, 11, 18, 23, time_zone="UTC"),
        "1h",
        eager=True,
    )
    n = dates.len()
    pl.DataFrame({"date": dates, "open": [1.0] * n, "high": [1.2] * n, "low": [0.9] * n,
                  "close": [1.1] * n, "volume": [100.0] * n}).write_ipc(
        folder / "XRP_USDT_USDT-1h-futures.feather")  # fmt: skip
    settle = [datetime(2021, 11, 18, h, 0, 0, 17000, tzinfo=UTC) for h in (0, 8, 16)]
    pl.DataFrame({"date": settle,
                  "open": [0.0001, -0.0002, 0.0003], "high": [0.0] * 3, "low": [0.0] * 3,
                  "close": [0.0] * 3, "volume": [0.0] * 3}).write_ipc(
        folder / "XRP_USDT_USDT-8h-funding_rate.feather")  # fmt: skip
    pl.DataFrame({"date": dates, "open": [1.0] * n, "high": [1.0] * n, "low": [1.0] * n,
                  "close": [1.0] * n, "volume": [None] * n}).write_ipc(
        folder / "XRP_USDT_USDT-1h-mark.feather")  # fmt: skip


def test_freqtrade_candles_funding_and_mark(catalog: Catalog, tmp_path: Path) -> None:
    freqtrade_files(tmp_path)
    rep = import_paths([tmp_path], catalog)
    assert "mark candles are not trade candles" in next(iter(rep.skipped.values()))
    got = catalog.read_stored(key("binanceusdm", "XRP/USDT:USDT", "1h"))
    assert got.height == 24 and got["close"][0] == 1.1
    funded = got.filter(pl.col("funding_rate").is_not_null())
    assert funded["ts"].to_list() == [1_637_193_600_000 + h * HOUR_MS for h in (0, 8, 16)]
    assert funded["funding_rate"].to_list() == [0.0001, -0.0002, 0.0003]
    # the same settlements summed into a 1d bar when the 1d series is what is imported
    rep = import_paths(
        [tmp_path / "XRP_USDT_USDT-8h-funding_rate.feather"], catalog, timeframe=Timeframe.D1
    )
    day = catalog.read_stored(key("binanceusdm", "XRP/USDT:USDT", "1d"))
    assert day["funding_rate"].to_list() == pytest.approx([0.0002])


def test_funding_without_candles_needs_a_timeframe(catalog: Catalog, tmp_path: Path) -> None:
    freqtrade_files(tmp_path)
    with pytest.raises(InputError, match="pass --timeframe"):
        import_paths([tmp_path / "XRP_USDT_USDT-8h-funding_rate.feather"], catalog)


def test_combine_frames_later_file_wins_and_disjoint_columns_join() -> None:
    a = pl.DataFrame({"ts": [1, 2], "close": [1.0, 2.0]})
    b = pl.DataFrame({"ts": [2, 3], "close": [20.0, 3.0]})
    c = pl.DataFrame({"ts": [1, 3], "oi": [5.0, 6.0]})
    got = combine_frames([a, b, c]).sort("ts")
    assert got["close"].to_list() == [1.0, 20.0, 3.0]
    assert got["oi"].to_list() == [5.0, None, 6.0]
    d = pl.DataFrame(
        {"ts": [2], "close": [None], "oi": [7.0]}, schema_overrides={"close": pl.Float64}
    )
    got = combine_frames([a, b, d]).sort("ts")
    assert got["close"].to_list() == [1.0, 20.0, 3.0]  # a null never erases
    assert got["oi"].to_list() == [None, 7.0, None]


def test_estimate_quote_volume_keeps_given_values() -> None:
    f = pl.DataFrame(
        {
            "ts": [1, 2],
            "high": [3.0, 3.0],
            "low": [1.0, 1.0],
            "close": [2.0, 2.0],
            "volume": [10.0, 10.0],
            "quote_volume": [25.0, None],
        }
    )
    got = estimate_quote_volume(f)
    assert got["quote_volume"].to_list() == [25.0, 20.0]
    assert got["quote_volume_estimated"].to_list() == [False, True]


def archive_zip(folder: Path, name: str, csv: str) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name.replace(".zip", ".csv"), csv)
    path = folder / name
    path.write_bytes(buf.getvalue())
    return path


def test_archive_files_go_to_the_archive_parser(catalog: Catalog, tmp_path: Path) -> None:
    header = (
        "create_time,symbol,sum_open_interest,sum_open_interest_value,"
        "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
        "count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
    )
    rows = "".join(
        f"2025-07-01 00:{m:02d}:00,KSMUSDT,{1000 + m},{20000 + m},1,1,1.5,1\n" for m in (5, 10, 15)
    )
    archive_zip(tmp_path, "KSMUSDT-metrics-2025-07-01.zip", header + rows)
    rep = import_paths([tmp_path], catalog)
    k = key("binanceusdm", "KSM/USDT:USDT", "5m")
    assert rep.series[k].rows_added == 3
    got = catalog.read_stored(k)
    assert got["oi"].to_list() == [1005.0, 1010.0, 1015.0]
    assert got["source"].to_list() == ["archive"] * 3


def test_progress_bar_and_checksums_in_a_walk(catalog: Catalog, tmp_path: Path) -> None:
    header = "create_time,symbol,sum_open_interest,sum_open_interest_value\n"
    path = archive_zip(tmp_path, "KSMUSDT-metrics-2025-07-01.zip",
                       header + "2025-07-01 00:05:00,KSMUSDT,1,2\n")  # fmt: skip
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / f"{path.name}.CHECKSUM").write_text(f"{digest}  {path.name}\n")
    rep = import_paths([tmp_path], catalog, fmt="binance-archive", progress=True)
    assert rep.series[key("binanceusdm", "KSM/USDT:USDT", "5m")].rows_added == 1
    assert any(f.endswith(".CHECKSUM") for f in rep.skipped)


def test_unknown_format_name(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="unknown format 'xls'"):
        import_paths([FIXTURES / "bars_5m.csv"], catalog, fmt="xls")


def test_freqtrade_open_interest(catalog: Catalog, tmp_path: Path) -> None:
    dates = [datetime(2021, 11, 18, h, tzinfo=UTC) for h in range(3)]
    pl.DataFrame({"date": dates, "open": [10.0, 11.0, 12.5], "high": [0.0] * 3, "low": [0.0] * 3,
                  "close": [0.0] * 3, "volume": [0.0] * 3}).write_ipc(
        tmp_path / "XRP_USDT_USDT-1h-open_interest.feather")  # fmt: skip
    import_paths([tmp_path], catalog)
    got = catalog.read_stored(key("binanceusdm", "XRP/USDT:USDT", "1h"))
    assert got["oi"].to_list() == [10.0, 11.0, 12.5] and got["oi_unit"][0] == "base"
    assert got["close"].null_count() == 3


def test_csv_export_roundtrip(catalog: Catalog, tmp_path: Path) -> None:
    mapping = {"time": "ts", "o": "open", "h": "high", "l": "low", "c": "close", "vol": "volume"}
    import_paths([FIXTURES / "bars_iso_mapped.csv"], catalog, exchange="x",
                 symbol="A/USDT:USDT", mapping=mapping)  # fmt: skip
    exported = tmp_path / "export.csv"
    catalog.read_bars(key("x", "A/USDT:USDT", "1h")).write_csv(exported)  # as `oiradar export`
    import_paths([exported], catalog, exchange="y", symbol="A/USDT:USDT")
    a = catalog.read_stored(key("x", "A/USDT:USDT", "1h")).drop("ingested_at")
    assert catalog.read_stored(key("y", "A/USDT:USDT", "1h")).drop("ingested_at").equals(a)


def test_bad_boolean_flag_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("ts,close,quote_volume_estimated\n1704067200000,1.0,maybe\n")
    with pytest.raises(InputError, match="not true/false") as err:
        import_paths([path], catalog, exchange="x", symbol="A/USDT:USDT", timeframe=Timeframe.H1)
    assert (err.value.row, err.value.column) == (1, "quote_volume_estimated")
