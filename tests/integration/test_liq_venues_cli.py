"""Liquidation by venue end to end: ``liqprice -e bybit|okx``, "liquidated at once", an unknown
venue, the backtest's tier table, and ``liqmap``'s warning on OI that ended long before the price."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.features.oracle import random_bars
from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.store import Catalog

from .cli_helpers import run_cli

runner = CliRunner()


def _json(args: list[str]) -> dict:
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_liqprice_bybit_applies_bybits_formula_and_risk_limit_tiers():
    """25 BTC at 100,000 = 2.5M USDT: Bybit tier 2 (0.56 %, deduction 1,200), 10x long:
    LP = 100,000 - (250,000 - (14,000 - 1,200)) / 25 = 90,512 (hand-computed). Binance's formula
    and brackets give another price (bracket 3, valued at the liquidation price)."""
    base = ["liqprice", "--side", "long", "--entry", "100000", "--leverage", "10", "--qty", "25",
            "--symbol", "BTC/USDT:USDT"]  # fmt: skip
    out = _json([*base, "-e", "bybit"])
    assert (out["formula"], out["tiers"], out["tier"]) == ("bybit", "bybit:BTC/USDT:USDT", 2)
    assert (out["mmr"], out["cum"]) == (0.0056, 1200.0)
    assert out["liq_price"] == pytest.approx(90_512.0, abs=1e-6)
    assert "Liquidation-Price-USDT-Contract" in out["source"]
    binance = _json(base)
    assert binance["formula"] == "binance" and binance["liq_price"] != pytest.approx(90_512.0)
    text = runner.invoke(app, [*base, "-e", "bybit"]).output
    assert "formula: bybit, https://www.bybit.com/" in text
    assert "liquidation price 90512" in text


def test_liqprice_okx_counts_the_taker_fee():
    """1 BTC at 60,000, 10x long on OKX: 54,000 / (1 - 0.004 - 0.0005) = 54,244.10."""
    out = _json(["liqprice", "--side", "long", "--entry", "60000", "--leverage", "10",
                 "--symbol", "BTC/USDT:USDT", "-e", "okx"])  # fmt: skip
    assert (out["formula"], out["fee"]) == ("okx", 0.0005)
    assert out["liq_price"] == pytest.approx(54_244.10, abs=0.01)


def test_liqprice_says_liquidated_at_once_when_the_price_is_past_the_entry(tmp_path: Path):
    """KSM at 100x: 1 % of margin against the 1.5 % maintenance rate of its first bracket,
    LP = 30 x 0.99 / 0.985 = 30.1523 > 30: the position could not even open."""
    args = ["liqprice", "--side", "long", "--entry", "30", "--leverage", "100", "--qty", "100",
            "--symbol", "KSM/USDT:USDT"]  # fmt: skip
    res = run_cli(args, tmp_path)
    assert res.code == 0, res.output
    assert "liquidated at once" in res.stdout
    assert "above the entry" in res.stdout
    assert "exceeds the venue's 50x" in res.stdout
    out = _json(args)
    assert out["liquidated_at_once"] is True
    assert out["liq_price"] == pytest.approx(30 * 0.99 / 0.985)
    short = _json([*args[:2], "short", *args[3:]])
    assert short["liquidated_at_once"] is True and short["liq_price"] < 30
    fine = _json(["liqprice", "--side", "long", "--entry", "30", "--leverage", "10",
                  "--symbol", "KSM/USDT:USDT"])  # fmt: skip
    assert fine["liquidated_at_once"] is False and "warning" not in fine


def test_liqprice_unknown_venue_lists_the_known_ones(tmp_path: Path):
    res = run_cli(["liqprice", "--side", "long", "--entry", "1", "--leverage", "2", "-e", "kraken"],
                  tmp_path)  # fmt: skip
    assert res.code == 2
    assert "Traceback" not in res.output
    assert "--exchange 'kraken'" in res.stderr
    assert "binanceusdm, binancecoinm, bybit, okx" in res.stderr


START = 1_685_577_600_000  # 2023-06-01


@pytest.fixture(scope="module")
def stale_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Daily BTC bars for 400 days from 2023-06-01, OI only for the first 100 (to 2023-09-08)."""
    home = tmp_path_factory.mktemp("liq-stale")
    bars = random_bars(400, DAY_MS, seed=5, start_ms=START).drop("complete")
    bars = bars.with_columns(
        close=pl.col("close") * 300, open=pl.col("open") * 300, high=pl.col("high") * 300,
        low=pl.col("low") * 300, oi_value=None,
    )  # fmt: skip
    stale = bars.with_columns(
        oi=pl.when(pl.col("ts") < START + 100 * DAY_MS).then(pl.col("oi")).otherwise(None)
    )
    cat = Catalog(home)
    cat.write_bars(SeriesKey(exchange="binanceusdm", symbol="BTC/USDT:USDT", timeframe=Timeframe.D1),
                   stale, "sim")  # fmt: skip
    cat.write_bars(SeriesKey(exchange="bybit", symbol="BTC/USDT:USDT", timeframe=Timeframe.D1),
                   bars, "sim")  # fmt: skip
    return home


def test_liqmap_warns_when_the_oi_ended_long_before_the_price(stale_home: Path):
    res = run_cli(["liqmap", "-e", "binanceusdm", "-s", "BTC/USDT:USDT", "-t", "1d"], stale_home)
    assert res.code == 0, res.output
    assert "warning: the open interest ends at 2023-09-08 00:00 UTC, 300 days before" in res.stderr
    assert "--at '2023-09-09 00:00'" in res.stderr
    out = run_cli(["liqmap", "-e", "binanceusdm", "-s", "BTC/USDT:USDT", "-t", "1d", "--json"],
                  stale_home)  # fmt: skip
    assert json.loads(out.stdout)["warning"].startswith("the open interest ends at 2023-09-08")
    fresh = run_cli(["liqmap", "-e", "bybit", "-s", "BTC/USDT:USDT", "-t", "1d", "--json"],
                    stale_home)  # fmt: skip
    assert fresh.code == 0, fresh.output
    assert "warning" not in json.loads(fresh.stdout)
    assert "open interest ends" not in fresh.stderr
    # mapped as of the last OI bar: no warning
    past = run_cli(["liqmap", "-e", "binanceusdm", "-s", "BTC/USDT:USDT", "-t", "1d",
                    "--at", "2023-09-09 00:00"], stale_home)  # fmt: skip
    assert past.code == 0 and "open interest ends" not in past.stderr


def test_backtest_reports_the_tier_table_it_used(stale_home: Path):
    res = run_cli(["backtest", "-e", "bybit", "-s", "BTC/USDT:USDT", "-t", "1d", "--json"],
                  stale_home)  # fmt: skip
    assert res.code == 0, res.output
    assert json.loads(res.stdout)["tiers"] == "bybit:BTC/USDT:USDT"
    flat = run_cli(["backtest", "-e", "bybit", "-s", "BTC/USDT:USDT", "-t", "1d", "-p", "mmr=0.01",
                    "--json"], stale_home)  # fmt: skip
    assert flat.code == 0, flat.output
    assert json.loads(flat.stdout)["tiers"] is None
