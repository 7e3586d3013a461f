"""``oiradar features`` and ``oiradar scan`` end to end on a catalog written by the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.config import Settings
from oiradar.features import FEATURE_COLUMNS, compute_features
from oiradar.features.oracle import random_bars
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import EVENT_SCHEMA
from oiradar.store import Catalog

M = 24 * 90  # 90 days of 1h bars
START = 1_704_067_200_000  # 2024-01-01
DROP_HOUR = 24 * 60 + 9  # bybit's KSM OI falls 8 % at 2024-03-01 09:00 UTC (a 4h bar from 08:00)


def _flat_oi(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1e5 * (1 + rng.normal(0, 0.001, M))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("scan-home")
    cat = Catalog(home)
    for exchange, symbol, seed in [
        ("binanceusdm", "KSM/USDT:USDT", 1),
        ("bybit", "KSM/USDT:USDT", 2),
        ("binanceusdm", "BTC/USDT:USDT", 3),
        ("binancecoinm", "BTC/USD:BTC", 4),
    ]:
        bars = random_bars(M, HOUR_MS, seed=seed, start_ms=START).drop("complete")
        if symbol.startswith("KSM"):
            oi = _flat_oi(seed)
            if exchange == "bybit":
                oi[DROP_HOUR:] *= 0.92
            bars = bars.with_columns(oi=pl.Series(oi), oi_value=None)
        key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=Timeframe.H1)
        cat.write_bars(key, bars, "sim")
    return home


def cli(home: Path, *args: str) -> tuple[int, str]:
    """Exit code and output; with ``--json``, stdout only (notes go to stderr)."""
    res = CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "250"})
    return res.exit_code, res.stdout if "--json" in args and res.exit_code == 0 else res.output


def test_scan_json_lists_events_with_their_values(home: Path) -> None:
    code, out = cli(home, "scan", "--timeframe", "4h", "--json")
    assert code == 0, out
    events = json.loads(out)
    assert events and set(events[0]) == set(EVENT_SCHEMA)
    div = [e for e in events if e["signal"] == "exchange_divergence"]
    drop_bar = START + (DROP_HOUR // 4) * 4 * HOUR_MS
    assert [(e["exchange"], e["symbol"], e["ts"]) for e in div] == [
        ("bybit", "KSM/USDT:USDT", drop_bar)
    ]
    assert div[0]["chg"] == pytest.approx(-0.08, abs=0.01) and "binanceusdm" in div[0]["others"]
    assert {e["signal"] for e in events} >= {"oi_extreme", "watch"}
    assert all(e["why"] for e in events)
    order = [(e["ts"], e["exchange"], e["symbol"], e["signal"], e["side"]) for e in events]
    assert order == sorted(order) and len({e["symbol"] for e in events}) > 1


def test_scan_table_filters_and_out_file(home: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "events.parquet"
    code, out = cli(home, "scan", "-s", "KSM/USDT:USDT", "--signal", "exchange_divergence",
                    "--out", str(out_file))  # fmt: skip
    assert code == 0, out
    assert "exchange_divergence" in out and "bybit" in out and "1 events on 2 series" in out
    saved = pl.read_parquet(out_file)
    assert saved.height == 1 and saved.schema == pl.Schema(EVENT_SCHEMA)
    code, out = cli(home, "scan", "--since", "2030-01-01", "--json")
    assert code == 0 and json.loads(out) == []


def test_margin_divergence_pairs_binance_usdm_and_coinm(home: Path) -> None:
    code, out = cli(home, "scan", "-t", "1h", "--signal", "margin_divergence", "--json")
    assert code == 0, out
    events = json.loads(out)
    assert events and all(e["exchange"] == "binance" for e in events)
    assert {e["symbol"] for e in events} <= {"BTC/USDT:USDT", "BTC/USD:BTC"}


def test_bad_options_are_explained(home: Path) -> None:
    code, out = cli(home, "scan", "--signal", "divergense")
    assert code == 2 and "unknown signal" in out and "divergence" in out
    code, out = cli(home, "scan", "--since", "yesterday")
    assert code == 2 and "invalid date" in out
    code, out = cli(home, "features", "-e", "nowhere", "-s", "KSM/USDT:USDT", "-t", "4h")
    assert code == 2 and "no series" in out


def test_multi_timeframe_view(home: Path) -> None:
    code, out = cli(home, "scan", "--mtf", "-s", "KSM/USDT:USDT", "-e", "bybit")
    assert code == 0, out
    assert all(tf in out for tf in ("15m", "1h", "4h", "1d")) and "not stored" in out
    assert "oi_z_30d" in out and "phase" in out
    code, out = cli(home, "scan", "--mtf", "-s", "KSM/USDT:USDT", "--json")
    views = [json.loads(line) for line in out.splitlines()]
    assert [v["exchange"] for v in views] == ["binanceusdm", "bybit"] and "4h" in views[0]


def test_features_out_file_equals_the_python_api(home: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "ksm_4h.csv"
    code, out = cli(home, "features", "-e", "bybit", "-s", "KSM/USDT:USDT", "-t", "4h",
                    "--out", str(out_file))  # fmt: skip
    assert code == 0, out
    saved = pl.read_csv(out_file, infer_schema_length=None)
    assert set(FEATURE_COLUMNS) | {"phase", "complete"} <= set(saved.columns)
    key = SeriesKey(exchange="bybit", symbol="KSM/USDT:USDT", timeframe=Timeframe.H4)
    api = compute_features(Catalog(home).read_bars(key), Timeframe.H4, Settings())
    assert saved.height == api.height == M // 4
    np.testing.assert_allclose(
        saved["oi_z_30d"].to_numpy(), api["oi_z_30d"].to_numpy(), equal_nan=True
    )
    code, out = cli(home, "features", "-e", "bybit", "-s", "KSM/USDT:USDT", "-t", "1d", "-n", "3")
    assert code == 0 and "2024-03-30" in out and "oi_z_30d" in out


def test_console_entry_point(home: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", "from oiradar.cli.main import main; main()", "--home", str(home),
         "scan", "-t", "1d", "--json"],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert all(e["timeframe"] == "1d" for e in json.loads(res.stdout))


def test_features_carry_realized_liquidations_per_bar(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    key = SeriesKey(exchange="bybit", symbol="KSM/USDT:USDT", timeframe=Timeframe.H1)
    cat.write_bars(key, random_bars(48, HOUR_MS, seed=9, start_ms=START).drop("complete"), "sim")
    liq = pl.DataFrame(
        {"ts": [START + 5 * HOUR_MS + 1, START + 5 * HOUR_MS + 2, START + 9 * HOUR_MS],
         "exchange": "bybit", "symbol": "KSM/USDT:USDT", "side": ["long", "long", "short"],
         "price": [100.0, 99.0, 101.0], "qty": [1.0, 2.0, 1.0], "quote_qty": [100.0, 198.0, 101.0]}
    )  # fmt: skip
    cat.write_liquidations(liq, "sim")
    out_file = tmp_path / "f.parquet"
    code, out = cli(tmp_path, "features", "-e", "bybit", "-s", "KSM/USDT:USDT", "-t", "1h",
                    "--out", str(out_file))  # fmt: skip
    assert code == 0, out
    got = pl.read_parquet(out_file)["liquidations"].to_list()
    # summed per bar; 0 inside the recorded span; unknown (null) outside it
    assert got[5] == 298.0 and got[6:9] == [0.0, 0.0, 0.0] and got[9] == 101.0
    assert got[4] is None and got[10] is None
