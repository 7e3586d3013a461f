"""A mark-price file (Bybit's hourly mark price and OI value, no traded OHLC or volume), imported
as documented in docs/importing.md, gives 4h bars with OHLC built from the hourly marks, and
``study`` / ``scan`` find divergences on it while saying that volume is missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tests.conftest import shared_file
from tests.integration.cli_helpers import run_cli

SLICE = (datetime(2020, 10, 1, tzinfo=UTC), datetime(2020, 12, 1, tzinfo=UTC))  # two months
IMPORT = ["-e", "bybit", "-s", "BTC/USDT:USDT", "-t", "1h", "--map", "datetime=ts",
          "--map", "mark_price=close", "--map", "open_interest_usd=oi_value"]  # fmt: skip
SERIES = ["-e", "bybit", "-s", "BTC/USDT:USDT", "-t", "4h"]


def mark_slice(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    raw = pl.read_parquet(shared_file("bybit_perps", "markoi_1h", "BTCUSDT.parquet"))
    part = raw.filter(pl.col("datetime").is_between(*SLICE, closed="left"))
    path = tmp_path / "BTCUSDT.parquet"
    part.write_parquet(path)
    return path, part


def test_mark_prices_become_4h_ohlc_and_divergences(tmp_path: Path) -> None:
    path, part = mark_slice(tmp_path)
    home = tmp_path / "home"
    imported = run_cli(["import", str(path), *IMPORT], home)
    assert imported.code == 0, imported.output
    assert f"{part.height:,}" in imported.stdout  # every hour stored

    out = tmp_path / "btc_4h.parquet"
    feats = run_cli(["features", *SERIES, "--out", str(out)], home)
    assert feats.code == 0, feats.output
    bars = pl.read_parquet(out)
    assert bars.height == part.height // 4 and bars["ohlc_from_close"].all()
    # the 4h OHLC are the first/max/min/last hourly marks
    hours = part.with_columns(pl.col("datetime").dt.truncate("4h").alias("bar"))
    expect = hours.group_by("bar", maintain_order=True).agg(
        pl.col("mark_price").first().alias("open"), pl.col("mark_price").max().alias("high"),
        pl.col("mark_price").min().alias("low"), pl.col("mark_price").last().alias("close"))  # fmt: skip
    for c in ("open", "high", "low", "close"):
        assert bars[c].to_list() == expect[c].to_list(), c
    assert bars["atr_14"].drop_nulls().len() > 0 and bars["vol_ma_20d"].null_count() == bars.height
    assert "no volume in the bars" in feats.stderr and "watch, trigger cannot fire" in feats.stderr

    study = run_cli(["study", *SERIES, "--format", "json",
                     "--timeouts", "exclude", "--reps", "200"], home)  # fmt: skip
    assert study.code == 0, study.output
    rows = {r["signal"]: r for r in json.loads(study.stdout)["studies"]}
    assert rows["divergence"]["events"] > 0 and rows["divergence"]["counted"] > 0
    assert rows["trigger"]["events"] == 0
    assert study.stderr.count("no volume in the bars") == 1
    assert "first/max/min/last of the 1h closes" in study.stderr

    scan = run_cli(["scan", *SERIES, "--signal", "divergence", "--json"], home)
    assert scan.code == 0, scan.output
    assert len(json.loads(scan.stdout)) >= rows["divergence"]["events"]


def test_an_unmapped_mark_price_is_named_with_its_mapping(tmp_path: Path) -> None:
    path, _ = mark_slice(tmp_path)
    res = run_cli(["import", str(path), "-e", "bybit", "-s", "BTC/USDT:USDT",
                   "--map", "datetime=ts"], tmp_path / "home")  # fmt: skip
    assert res.code == 0, res.output
    assert "'mark_price'" in res.output and "--map mark_price=close" in res.output


def _stored(home: Path, tf: str = "1h") -> pl.DataFrame:
    from oiradar.model import SeriesKey, Timeframe
    from oiradar.store import Catalog

    key = SeriesKey(exchange="bybit", symbol="BTC/USDT:USDT", timeframe=Timeframe.parse(tf))
    return Catalog(home).read_bars(key)


def test_drop_leaves_the_repeated_funding_rate_out(tmp_path: Path) -> None:
    """The files' funding is the last settlement's rate repeated every hour (a bar's funding in
    oiradar is the sum settled inside it): ``--drop funding_rate`` keeps it out of the store."""
    path, part = mark_slice(tmp_path)
    kept, dropped = tmp_path / "kept", tmp_path / "dropped"
    assert run_cli(["import", str(path), *IMPORT], kept).code == 0
    res = run_cli(["import", str(path), *IMPORT, "--drop", "funding_rate"], dropped)
    assert res.code == 0, res.output
    assert f"--drop funding_rate: {part['funding_rate'].count():,} value(s) left out" in res.output
    a, b = _stored(kept), _stored(dropped)
    assert a["funding_rate"].count() == part.height and b["funding_rate"].count() == 0
    assert a.drop("funding_rate", "ingested_at").equals(b.drop("funding_rate", "ingested_at"))
    again = run_cli(["import", str(path), *IMPORT, "--drop", "funding_rate"], dropped)
    assert again.code == 0 and _stored(dropped).drop("ingested_at").equals(b.drop("ingested_at"))


def test_drop_of_a_column_no_file_has_or_no_column_at_all(tmp_path: Path) -> None:
    csv = tmp_path / "bars.csv"
    csv.write_text("ts,close,oi\n2024-01-01T00:00:00Z,100,5\n2024-01-01T01:00:00Z,101,6\n")
    home = tmp_path / "home"
    res = run_cli(["import", str(csv), "-e", "bybit", "-s", "BTC/USDT:USDT", "--drop",
                   "funding_rate"], home)  # fmt: skip
    assert res.code == 0 and "--drop funding_rate: no file has values in it" in res.output
    bad = run_cli(["import", str(csv), "-e", "bybit", "-s", "BTC/USDT:USDT", "--drop", "fundng"],
                  tmp_path / "home2")  # fmt: skip
    assert bad.code == 2 and "--drop 'fundng'" in bad.output and "funding_rate" in bad.output
    assert not (tmp_path / "home2" / "catalog" / "bars").exists()
