"""Issue 13 must-show, on the recorded data: Coinalyze's per-venue BTC open interest (USD only, no
price) imported as docs/importing.md says and linked once to the Binance daily candles with
``oiradar link``. Every analysis command then runs on every venue without ``--prices`` and gives
the numbers it gives with ``--prices``; ``scan -t 1d`` finds events on the OI-only venues; the OI
summed over venues (``--exchange all``) is the sum of the venues bar by bar.

Skipped when ``../shared/data/btc_daily_multivenue`` is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from tests.conftest import shared_file

PRICES = "binance:BTC/USDT"
NOT_OI_ONLY = {"binance"}  # not a venue id of its own: the spot candles' exchange


def cli(home: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "250"})
    return res.exit_code, res.stdout, res.stderr


def ok(home: Path, *args: str) -> str:
    code, out, err = cli(home, *args)
    assert code == 0 and "Traceback" not in out + err, f"{args}: exit {code}\n{out}\n{err}"
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = shared_file("btc_daily_multivenue")
    home = tmp_path_factory.mktemp("coinalyze")
    ok(home, "import", str(folder), "-q")
    out = ok(home, "link", "*:BTC/*", "--prices", PRICES)
    assert "Linked okx:BTC/USDT:USDT: prices from binance:BTC/USDT" in out
    return home


@pytest.fixture(scope="module")
def venues(home: Path) -> list[tuple[str, str]]:
    """The OI-only (exchange, symbol) markets the link covers."""
    table = json.loads(ok(home, "link", "--format", "json"))
    markets = [(r["exchange"], r["symbol"]) for r in table]
    assert len(markets) >= 12 and all(r["prices"] == PRICES for r in table)
    return markets


def test_without_a_link_the_commands_name_the_fix(tmp_path: Path) -> None:
    """Before the link: no empty rows labelled neutral, no "0 events": an error naming the fix."""
    home = tmp_path / "h"
    ok(home, "import", str(shared_file("btc_daily_multivenue", "open_interest_history.csv")), "-q")
    for args in (("features", "-e", "okx", "-s", "BTC/USDT:USDT", "-t", "1d"),
                 ("liqmap", "-e", "okx", "-s", "BTC/USDT:USDT", "-t", "1d"),
                 ("scan", "-t", "1d"), ("study", "-t", "1d"), ("backtest", "-t", "1d")):  # fmt: skip
        code, out, err = cli(home, *args)
        assert code == 2 and "Traceback" not in out + err, (args, out, err)
        assert "--prices" in err and "oiradar link" in err, (args, err)


def test_features_on_every_venue_equal_with_and_without_prices(
    home: Path, venues: list, tmp_path: Path
) -> None:
    linked, given = tmp_path / "linked.parquet", tmp_path / "given.parquet"
    ok(home, "features", "-t", "1d", "--out", str(linked))
    ok(home, "features", "-t", "1d", "--prices", PRICES, "--out", str(given))
    a, b = pl.read_parquet(linked), pl.read_parquet(given)
    assert a.equals(b) and a.height > 0
    assert a["close"].null_count() < a.height and a["oi"].null_count() < a.height
    done = set(a.select("exchange", "symbol").unique().iter_rows())
    assert done >= set(venues)


def test_scan_finds_events_on_the_oi_only_venues(home: Path, venues: list) -> None:
    linked = json.loads(ok(home, "scan", "-t", "1d", "--json"))
    given = json.loads(ok(home, "scan", "-t", "1d", "--json", "--prices", PRICES))
    assert linked == given
    # every event is on an OI-only series ("binance" here is Binance's USD-M vs COIN-M
    # margin_divergence: the spot candles have no OI and are skipped); 1,465 on the recorded data
    oi_only = [e for e in linked if e["exchange"] not in NOT_OI_ONLY]
    assert len(linked) > 1000 and len(oi_only) > 1000, (len(linked), len(oi_only))
    assert {e["signal"] for e in oi_only} >= {"oi_extreme", "watch", "divergence", "entry",
                                              "exchange_divergence", "margin_divergence"}  # fmt: skip
    assert len({e["exchange"] for e in oi_only}) >= 10
    code, _out, err = cli(home, "scan", "-t", "1d")
    assert code == 0 and "skipped binance BTC/USDT: has no open interest" in err


def test_study_and_backtest_equal_with_and_without_prices(home: Path, venues: list) -> None:
    for cmd in (("study", "-t", "1d", "--reps", "200"), ("backtest", "-t", "1d")):
        linked = json.loads(ok(home, *cmd, "--json"))
        given = json.loads(ok(home, *cmd, "--json", "--prices", PRICES))
        assert linked == given, cmd
    studied = json.loads(ok(home, "study", "-t", "1d", "--reps", "200", "--json"))["studies"]
    assert {(r["exchange"], r["symbol"]) for r in studied} >= set(venues)


def test_liqmap_on_every_venue_equal_with_and_without_prices(home: Path, venues: list) -> None:
    for exchange, symbol in venues:
        args = ("liqmap", "-e", exchange, "-s", symbol, "-t", "1d", "--json")
        linked = json.loads(ok(home, *args))
        assert linked == json.loads(ok(home, *args, "--prices", PRICES)), (exchange, symbol)
        assert json.loads(ok(home, *args, "--price-from", PRICES)) == linked  # the older name
        assert linked["price"] > 0 and linked["est_open_long_usd"] > 0


def test_summed_oi_is_the_sum_of_the_venues_bar_by_bar(home: Path, tmp_path: Path) -> None:
    venues_file, summed_file = tmp_path / "venues.parquet", tmp_path / "all.parquet"
    ok(home, "features", "-t", "1d", "--out", str(venues_file))
    code, _out, err = cli(home, "export", "-e", "all", "-s", "BTC/USD", "-t", "1d",
                          "--out", str(summed_file))  # fmt: skip
    assert code == 0 and "OI summed in base units over" in err, err
    each = pl.read_parquet(venues_file).filter(pl.col("oi").is_not_null())
    each = each.filter(pl.col("symbol").str.contains(":"))  # contracts, not spot
    expected = each.group_by("ts").agg(pl.col("oi").sum().alias("want"), pl.len().alias("n"))
    summed = pl.read_parquet(summed_file).join(expected, on="ts", how="full", coalesce=True)
    assert summed["oi"].null_count() == 0 and summed["want"].null_count() == 0
    assert ((summed["oi"] - summed["want"]).abs() <= 1e-9 * summed["want"]).all()
    assert (summed["n_venues"] == summed["n"]).all()
    first = summed.sort("ts").row(0, named=True)
    assert "okx BTC/USDT:USDT" in first["venues"] and first["n_venues"] == first["n"]
    # the coin-margined sum holds only coin-margined contracts
    coin = tmp_path / "coin.parquet"
    ok(home, "export", "-e", "all", "-s", "BTC/USD:BTC", "-t", "1d", "--margin", "coin",
       "--out", str(coin))  # fmt: skip
    assert all(
        all(v.endswith(":BTC") for v in row.split(", ")) for row in pl.read_parquet(coin)["venues"]
    )


def test_scan_reaches_the_cross_venue_and_margin_divergences(home: Path) -> None:
    venues = json.loads(ok(home, "scan", "-t", "1d", "--signal", "exchange_divergence", "--json"))
    assert venues and {e["signal"] for e in venues} == {"exchange_divergence"}
    summed = json.loads(ok(home, "scan", "-e", "all", "-t", "1d", "--signal",
                           "margin_divergence", "--json"))  # fmt: skip
    assert summed and {e["exchange"] for e in summed} == {"all"}
    assert {e["symbol"] for e in summed} <= {"BTC/USDT:USDT", "BTC/USD:BTC"}
    assert all(" over 1d " in e["why"] for e in summed + venues)


def test_unknown_exchange_lists_every_stored_series(home: Path) -> None:
    for args in (("scan", "-e", "nosuch"), ("study", "-e", "nosuch"), ("features", "-e", "nosuch")):
        code, out, err = cli(home, *args, "-t", "1d")
        assert code == 2 and "Traceback" not in out + err
        assert "--exchange 'nosuch'" in err and "woo BTC/USDT:USDT" in err  # the 20th of 20
