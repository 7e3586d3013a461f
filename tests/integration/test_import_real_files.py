"""Every real recorded file that holds bars, OI, funding or liquidations imports with the right
row counts and values, checked against the raw file read independently (csv/json/pandas).

Skipped when ``../shared/data`` is absent.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.sources import import_paths
from oiradar.store import Catalog
from tests.conftest import shared_file


def key(exchange: str, symbol: str, tf: str) -> SeriesKey:
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=Timeframe(tf))


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_freqtrade_futures_and_funding(catalog: Catalog) -> None:
    folder = shared_file("freqtrade_xrp_futures")
    rep = import_paths([folder], catalog)
    assert len(rep.skipped) == 2  # the two mark files
    raw = pd.read_feather(folder / "XRP_USDT_USDT-5m-futures.feather")
    got = catalog.read_stored(key("binanceusdm", "XRP/USDT:USDT", "5m"))
    candles = got.filter(pl.col("close").is_not_null())
    assert candles.height == len(raw) == 1999
    assert candles["ts"][0] == raw["date"].iloc[0].value // 1_000_000
    assert candles["close"].to_list() == raw["close"].tolist()
    assert candles["volume"].to_list() == raw["volume"].tolist()
    funding = pd.read_feather(folder / "XRP_USDT_USDT-8h-funding_rate.feather")
    for tf in ("5m", "1h"):
        stored = catalog.read_stored(key("binanceusdm", "XRP/USDT:USDT", tf))
        assert stored["funding_rate"].drop_nulls().len() == len(funding) == 91
        assert stored["funding_rate"].sum() == pytest.approx(funding["open"].sum())


def test_coinalyze_open_interest_and_funding(catalog: Catalog) -> None:
    folder = shared_file("btc_daily_multivenue")
    oi_path, fr_path = folder / "open_interest_history.csv", folder / "funding_rate_history.csv"
    rep = import_paths([oi_path, fr_path], catalog)
    oi_rows = csv_rows(oi_path)
    assert len(oi_rows) == 545
    binance = catalog.read_stored(key("binanceusdm", "BTC/USDT:USDT", "1d"))
    want = [float(r["BTC/USDT - Binance"]) for r in oi_rows if r["BTC/USDT - Binance"]]
    assert binance["oi_value"].drop_nulls().to_list() == want
    assert binance["ts"][0] == 1_641_081_600_000  # 2022-01-02
    coinm = catalog.read_stored(key("binancecoinm", "BTC/USD:BTC", "1d"))
    assert coinm["oi_value"][0] == float(oi_rows[0]["BTC/USD - Binance"])
    fr_rows = csv_rows(fr_path)
    first = next(r for r in fr_rows if r["BTC/USDT - Binance"])
    got = binance.filter(pl.col("funding_rate").is_not_null())["funding_rate"][0]
    # one 8-hour settlement's rate in percent, stored as the day's sum (decision 0606)
    assert got == pytest.approx(float(first["BTC/USDT - Binance"]) / 100 * 3)
    dydx = catalog.read_stored(key("dydx", "BTC/USD:USD", "1d"))["funding_rate"].drop_nulls()
    first_dydx = next(r for r in fr_rows if r["BTC/USD - dYdX"])
    assert dydx[0] == pytest.approx(float(first_dydx["BTC/USD - dYdX"]) / 100 * 24)  # hourly
    assert any("funding_scaled" in n for n in rep.notes)
    # Kraken and Phemex list two BTC/USD contracts each: those columns are skipped, with notes
    assert not any(
        k.exchange in ("krakenfutures", "phemex") and k.symbol.startswith("BTC/USD:")
        for k in rep.series
    )
    assert sum("two BTC/USD contracts" in n for n in rep.notes) == 8


def test_coinalyze_liquidations(catalog: Catalog) -> None:
    path = shared_file("btc_daily_multivenue", "liquidation_history.csv")
    import_paths([path], catalog)
    rows = csv_rows(path)
    cells = [float(v) for r in rows for c, v in r.items() if c != "t" and v and float(v) > 0]
    liq = catalog.read_liquidations()
    assert liq.height == len(cells)
    assert liq["quote_qty"].sum() == pytest.approx(sum(cells))
    one = liq.filter(
        (pl.col("exchange") == "bybit")
        & (pl.col("symbol") == "BTC/USD:BTC")
        & (pl.col("side") == "short")
    ).sort("ts")
    assert one["quote_qty"][0] == float(rows[0]["BTC/USD - Bybit_short"])


def test_binance_json_candles(catalog: Catalog) -> None:
    path = shared_file("btc_daily_multivenue", "binance_btcusdt_candles_1d.json")
    import_paths([path], catalog)
    raw = json.loads(path.read_text())
    got = catalog.read_stored(key("binance", "BTC/USDT", "1d"))
    assert got.height == len(raw)
    assert got["ts"][0] == raw[0]["openTime"] and got["close"][-1] == raw[-1]["close"]
    four = shared_file("btc_1h_oi_binance", "candles_4h.json")
    import_paths([four], catalog, symbol="BTC/USDT")
    assert catalog.read_stored(key("binance", "BTC/USDT", "4h")).height == len(
        json.loads(four.read_text())
    )


def test_binance_oi_and_long_short_json(catalog: Catalog) -> None:
    oi = shared_file("btc_1h_oi_binance", "open_interest.json")
    ls = shared_file("btc_1h_oi_binance", "long_short_ratio.json")
    import_paths([oi, ls], catalog, symbol="BTC/USDT:USDT")
    raw_oi, raw_ls = json.loads(oi.read_text()), json.loads(ls.read_text())
    got = catalog.read_stored(key("binanceusdm", "BTC/USDT:USDT", "1h"))
    assert got.height == len(raw_oi) == 500
    assert got["ts"].to_list() == [r["time"] - HOUR_MS for r in raw_oi]  # snapshot closes bar
    assert got["oi"].to_list() == [r["openInterest"] for r in raw_oi]
    assert got["oi_value"][3] == raw_oi[3]["openInterestValue"]
    by_ts = {r["time"] - HOUR_MS: r["ratio"] for r in raw_ls}
    assert got["long_short_ratio"].to_list() == [by_ts.get(t) for t in got["ts"]]


@pytest.mark.parametrize("coin", ["KSM", "BTC", "DOT"])
def test_bybit_daily_klines(catalog: Catalog, coin: str) -> None:
    path = shared_file("prices", f"bybit_linear_{coin}USDT_1d.csv")
    rep = import_paths([path], catalog)
    rows = csv_rows(path)
    unique = {r["timestamp"]: r for r in rows}
    got = catalog.read_stored(key("bybit", f"{coin}/USDT:USDT", "1d"))
    assert got.height == len(unique) == len(rows) - 1  # one repeated page-boundary row
    assert any("identical to an earlier row" in n for n in rep.notes)
    assert got["close"][0] == float(rows[0]["close"])
    assert got["quote_volume"][0] == float(rows[0]["turnover"])
    assert got["quote_volume_estimated"].to_list() == [False] * got.height


@pytest.mark.parametrize("coin", ["KSM", "MKR", "BTC", "DOT"])
def test_binance_close_only(catalog: Catalog, coin: str) -> None:
    path = shared_file("prices", f"binance_{coin}USDT_1h_close.csv")
    import_paths([path], catalog)
    rows = csv_rows(path)
    got = catalog.read_stored(key("binance", f"{coin}/USDT", "1h"))
    assert got.height == len(rows)
    assert got["ts"][0] == 1_609_459_200_000  # 2021-01-01 00:00 UTC
    assert got["close"].to_list()[:3] == [float(r["close"]) for r in rows[:3]]
    assert got.select("open", "high", "low").null_count().row(0) == (got.height,) * 3


def test_forceorder_recordings(catalog: Catalog) -> None:
    orders = shared_file("liquidations", "binance_btcusdt_liquidation_orders.csv")
    history = shared_file("liquidations", "binance_btcusdt_liquidation_orders_history.csv")
    import_paths([orders, history], catalog)
    with open(orders, newline="") as fh:
        lines = list(csv.reader(fh))[1:]
    first = [r for r in lines if len(r) == 12]
    second = [r for r in lines if len(r) == 6]
    assert len(first) + len(second) == len(lines) == 2417
    ref = statistics.median(float(r[5]) for r in first)
    with open(history, newline="") as fh:
        hist = list(csv.reader(fh))[1:]
    band = [r for r in second + hist if ref / 2 <= float(r[2]) <= ref * 2]
    liq = catalog.read_liquidations()
    assert liq.height == len(first) + len(band)
    sells = sum(r[1] == "SELL" for r in first) + sum(r[1] == "Long Trade" for r in band)
    assert (liq["side"] == "long").sum() == sells
    assert liq["ts"].min() == 1_733_330_785_584  # 2024-12-04 22:16:25.584 IST


def test_oi_polls(catalog: Catalog) -> None:
    path = shared_file("liquidations", "binance_btcusdt_open_interest_history.csv")
    import_paths([path], catalog)
    raw = pd.read_csv(path, parse_dates=["Datetime"])
    t = raw["Datetime"].dt.tz_localize("Asia/Kolkata").dt.tz_convert("UTC")
    s = pd.Series(raw["Open Interest"].to_numpy(), index=t)
    want = s.resample("5min", closed="right", label="left").last().dropna()
    got = catalog.read_stored(key("binanceusdm", "BTC/USDT:USDT", "5m"))
    assert got["ts"].to_list() == [int(x.value // 1_000_000) for x in want.index]
    assert got["oi"].to_list() == want.tolist()


def test_hyperliquid(catalog: Catalog) -> None:
    path = shared_file("liquidations", "hyperliquid_liquidations.csv")
    import_paths([path], catalog, symbol="BTC/USD:USD")
    rows = csv_rows(path)
    liq = catalog.read_liquidations()
    assert liq.height == len(rows)
    assert liq["quote_qty"].sum() == pytest.approx(
        sum(float(r["liquidated_ntl_pos"]) for r in rows)
    )
    assert liq["side"].null_count() == len(rows)  # no side column: unknown
