"""Price links, series resolution, every-series commands and the summed OI, end to end through
the CLI on catalogs written by the test (and on the recorded Binance files where present)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.features.oracle import random_bars
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import signal_states
from oiradar.store import Catalog
from oiradar.store.links import LINKS_FILE
from tests.conftest import shared_file

M = 24 * 120  # 120 days of 1h bars
PRICE_ONLY = ("ts", "open", "high", "low", "close", "volume", "quote_volume")


def cli(home: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "250"})
    return res.exit_code, res.stdout, res.stderr


def ok(home: Path, *args: str) -> tuple[str, str]:
    code, out, err = cli(home, *args)
    assert code == 0 and "Traceback" not in out + err, f"{args}: exit {code}\n{out}\n{err}"
    return out, err


def refused(home: Path, *args: str, says: tuple[str, ...]) -> str:
    code, out, err = cli(home, *args)
    assert code == 2 and "Traceback" not in out + err, f"{args}: exit {code}\n{out}\n{err}"
    missing = [s for s in says if s not in err]
    assert not missing, f"{args}: {missing} not in\n{err}"
    return err


def _bars() -> pl.DataFrame:
    """Random 1h bars with every OI value present (``oi_value`` = ``oi`` x ``close``)."""
    bars = random_bars(M, HOUR_MS, seed=7, null_quote=0.0).drop("complete")
    return bars.with_columns(oi_value=pl.col("oi") * pl.col("close"))


def key(exchange: str, symbol: str, tf: Timeframe = Timeframe.H1) -> SeriesKey:
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=tf)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A spot price series, two OI-only venues (USD value only, like Coinalyze), one coin-margined
    venue with OI in base units, and a venue with its own close and OI value (like Bybit)."""
    home = tmp_path / "home"
    cat = Catalog(home)
    bars = _bars()
    cat.write_bars(key("spot", "ABC/USDT"), bars.select(PRICE_ONLY), "sim")
    for i, venue in enumerate(("va", "vb")):
        oi = bars["oi"] * (1 + 0.5 * i)
        cat.write_bars(key(venue, "ABC/USDT:USDT"),
                       pl.DataFrame({"ts": bars["ts"], "oi_value": oi * bars["close"]}), "sim")  # fmt: skip
    cat.write_bars(key("vc", "ABC/USD:ABC"),
                   pl.DataFrame({"ts": bars["ts"], "oi": bars["oi"] * 0.25}), "sim")  # fmt: skip
    own = bars.with_columns(pl.lit(None, dtype=pl.Float64).alias("oi"))
    cat.write_bars(key("vd", "ABC/USDT:USDT"), own, "sim")
    return home


def test_oi_only_series_without_prices_is_an_error_naming_the_fix(home: Path) -> None:
    for args in (("features", "-e", "va", "-s", "ABC/USDT:USDT", "-t", "4h"),
                 ("liqmap", "-e", "va", "-s", "ABC/USDT:USDT", "-t", "1h"),
                 ("backtest", "-e", "va", "-s", "ABC/USDT:USDT", "-t", "4h"),
                 ("study", "-e", "va", "-s", "ABC/USDT:USDT", "-t", "4h")):  # fmt: skip
        refused(home, *args, says=("va ABC/USDT:USDT", "has no prices", "--prices",
                                   "oiradar link va:ABC/USDT:USDT"))  # fmt: skip


def test_a_series_with_close_and_oi_value_derives_its_oi(home: Path) -> None:
    """vd has its own close and only the USD value of its OI: no --prices needed."""
    out, _ = ok(home, "features", "-e", "vd", "-s", "ABC/USDT:USDT", "-t", "4h", "--format", "json")
    rows = json.loads(out)
    assert rows and all(r["oi"] is not None and r["close"] is not None for r in rows)
    bars = Catalog(home).read_bars(key("vd", "ABC/USDT:USDT", Timeframe.H4))
    want = (bars["oi_value"] / bars["close"]).tail(len(rows)).to_list()
    assert [r["oi"] for r in rows] == pytest.approx(want)
    out, _ = ok(home, "scan", "-e", "vd", "-t", "4h", "--json")
    assert json.loads(out), "a series with its own price and OI value gives events"


def test_link_once_then_every_command_uses_it(home: Path, tmp_path: Path) -> None:
    out, _ = ok(home, "link", "va:ABC/USDT:USDT", "--prices", "spot:ABC/USDT")
    assert "Linked va:ABC/USDT:USDT: prices from spot:ABC/USDT" in out
    links = json.loads((home / "catalog" / LINKS_FILE).read_text())
    assert links["prices"] == {"va:ABC/USDT:USDT": "spot:ABC/USDT"}
    base = ("-e", "va", "-s", "ABC/USDT:USDT", "-t", "4h")
    for cmd in ("features", "backtest", "liqmap"):
        fmt = ("--format", "json") if cmd != "liqmap" else ("--json",)
        linked, err = ok(home, cmd, *base, *fmt)
        given, _ = ok(home, cmd, *base, *fmt, "--prices", "spot:ABC/USDT")
        assert linked == given, cmd
        assert "note: prices from spot:ABC/USDT (linked" in err, err
    for out_file in (tmp_path / "a.csv", tmp_path / "b.csv"):
        extra = ("--prices", "spot:ABC/USDT") if out_file.name == "b.csv" else ()
        ok(home, "export", *base, "--out", str(out_file), *extra)
    a, b = pl.read_csv(tmp_path / "a.csv"), pl.read_csv(tmp_path / "b.csv")
    assert a.equals(b) and a["close"].null_count() == 0 and a["oi"].null_count() == 0
    out, _ = ok(home, "link", "va:ABC/USDT:USDT", "--remove")
    assert "Unlinked va:ABC/USDT:USDT" in out
    refused(home, "features", *base, says=("has no prices",))


def test_link_refuses_bad_names_and_unknown_series(home: Path) -> None:
    refused(home, "link", "va:ABC/USDT:USDT", "--prices", "nope", says=("--prices", "'nope'"))
    refused(home, "link", "va:ABC/USDT:USDT", "--prices", "../x:ABC/USDT",
            says=("--prices", "invalid exchange name"))  # fmt: skip
    refused(home, "link", "va:ABC/USDT:USDT", "--prices", "spot:NOPE/USDT",
            says=("--prices spot:NOPE/USDT", "no such series stored", "spot:ABC/USDT"))  # fmt: skip
    refused(home, "link", "va:ABC/USDT:USDT", "--prices", "vc:ABC/USD:ABC",
            says=("vc:ABC/USD:ABC", "no close prices"))  # fmt: skip
    refused(home, "link", "zz:ABC/USDT:USDT", "--prices", "spot:ABC/USDT",
            says=("'zz:ABC/USDT:USDT'", "no stored series matches", "va:ABC/USDT:USDT"))  # fmt: skip
    refused(home, "link", "spot:ABC/USDT", "--prices", "spot:ABC/USDT", says=("from itself",))
    refused(home, "link", "va:ABC/USDT:USDT", says=("--prices", "--remove"))
    assert not (home / "catalog" / LINKS_FILE).exists()


def test_a_damaged_links_file_is_named(home: Path) -> None:
    (home / "catalog" / LINKS_FILE).write_text('{"version": 1, "prices": {"../x:A/B": "y:C/D"}}')
    refused(home, "features", "-e", "va", "-s", "ABC/USDT:USDT", "-t", "4h",
            says=(LINKS_FILE, "is damaged"))  # fmt: skip
    (home / "catalog" / LINKS_FILE).write_text("{not json")
    refused(home, "link", says=(LINKS_FILE, "not valid JSON"))


def test_a_pattern_links_the_oi_series_and_import_links_what_it_wrote(home: Path, tmp_path: Path) -> None:
    out, _ = ok(home, "link", "*:ABC/*", "--prices", "spot:ABC/USDT")
    linked = {line.split()[1].rstrip(":") for line in out.splitlines()}
    assert linked == {"va:ABC/USDT:USDT", "vb:ABC/USDT:USDT", "vc:ABC/USD:ABC", "vd:ABC/USDT:USDT"}
    csv = tmp_path / "ve.csv"
    bars = _bars()
    pl.DataFrame({"ts": bars["ts"], "oi_value": bars["oi_value"]}).write_csv(csv)
    out, _ = ok(home, "import", str(csv), "-e", "ve", "-s", "ABC/USDT:USDT", "-q",
                "--prices", "spot:ABC/USDT")  # fmt: skip
    assert "Linked ve:ABC/USDT:USDT: prices from spot:ABC/USDT" in out
    refused(home, "import", str(csv), "-e", "ve", "-s", "ABC/USDT:USDT", "--prices", "bad",
            says=("--prices", "'bad'"))  # fmt: skip


def test_every_series_commands_skip_and_list_what_they_cannot_do(home: Path) -> None:
    for cmd in ("scan", "study", "backtest", "features"):
        out, err = ok(home, cmd, "-t", "4h", *(("--reps", "100") if cmd == "study" else ()))
        assert "skipped va ABC/USDT:USDT: has no prices" in err, (cmd, err)
        assert "skipped spot ABC/USDT: has no open interest" in err, (cmd, err)
        assert "vd ABC/USDT:USDT" in out, (cmd, out)
    out, _ = ok(home, "scan", "-t", "4h")
    assert "on 1 series (4h)" in out
    # nothing could be done: exit 2, with every reason
    refused(home, "scan", "-e", "va", "-e", "vb", "-t", "4h",
            says=("scan: every selected series was skipped", "va ABC/USDT:USDT: has no prices",
                  "vb ABC/USDT:USDT: has no prices"))  # fmt: skip
    refused(home, "scan", "-e", "nosuch", says=("--exchange 'nosuch'", "vd ABC/USDT:USDT"))
    refused(home, "scan", "-s", "NOPE/USDT:USDT", says=("--symbol 'NOPE/USDT:USDT'",))


def test_summed_oi_is_the_sum_of_the_venues_bar_by_bar(home: Path, tmp_path: Path) -> None:
    ok(home, "link", "*:ABC/*", "--prices", "spot:ABC/USDT")
    out_file = tmp_path / "all.parquet"
    _, err = ok(home, "export", "-e", "all", "-s", "ABC/USD", "-t", "1h", "--out", str(out_file))
    assert "OI summed in base units over 4 contract(s)" in err
    summed = pl.read_parquet(out_file)
    bars = _bars()
    want = bars["oi"] * (1 + 1.5 + 0.25) + bars["oi_value"] / bars["close"]  # va, vb, vc, vd
    assert summed["ts"].to_list() == bars["ts"].to_list()
    assert np.allclose(summed["oi"].to_numpy(), want.to_numpy(), rtol=1e-12)
    assert set(summed["n_venues"]) == {4}
    assert summed["venues"][0] == "va ABC/USDT:USDT, vb ABC/USDT:USDT, vc ABC/USD:ABC, vd ABC/USDT:USDT"
    coin = tmp_path / "coin.parquet"
    ok(home, "export", "-e", "all", "-s", "ABC", "-t", "1h", "--margin", "coin", "--out", str(coin))
    got = pl.read_parquet(coin)
    assert np.allclose(got["oi"].to_numpy(), (bars["oi"] * 0.25).to_numpy(), rtol=1e-12)
    out, _ = ok(home, "features", "-e", "all", "-s", "ABC", "-t", "4h", "--format", "json")
    assert json.loads(out)[-1]["oi"] is not None
    refused(home, "features", "-e", "all", "-s", "ABC", "--margin", "both", says=("--margin", "'both'"))


def test_summed_oi_without_any_price_names_the_fix(home: Path, tmp_path: Path) -> None:
    """No leg of the coin-margined sum has prices and none is linked: the OI is summed and
    exported (prices empty), and what needs a close says so (it was a polars ColumnNotFoundError)."""
    coin = tmp_path / "coin.parquet"
    _, err = ok(home, "export", "-e", "all", "-s", "ABC", "-t", "1h", "--margin", "coin",
                "--out", str(coin))  # fmt: skip
    assert "OI summed in base units over 1 contract(s): vc ABC/USD:ABC" in err
    got = pl.read_parquet(coin)
    assert got.height == M and got["oi"].null_count() == 0 and got["close"].null_count() == M
    for cmd in ("features", "study", "backtest"):
        refused(home, cmd, "-e", "all", "-s", "ABC", "-t", "4h", "--margin", "coin",
                says=("all ABC/USD:ABC", "none of its contracts has prices", "--prices"))  # fmt: skip


def test_summed_margin_divergence_is_reachable_from_scan(home: Path) -> None:
    """The coin-margined leg (vc) unwinds 10 % in one day while the USDT-margined ones hold."""
    cat = Catalog(home)
    flat = np.full(M, 1e5)
    ts, close = _bars()["ts"], _bars()["close"]
    drop = np.where(np.arange(M) >= 24 * 80, 0.9, 1.0)
    cat.write_bars(key("vc", "ABC/USD:ABC"), pl.DataFrame({"ts": ts, "oi": flat * drop}), "sim")
    for venue in ("va", "vb", "vd"):  # flat OI in base units, given as its USD value
        value = pl.DataFrame({"ts": ts, "oi_value": flat * close})
        cat.write_bars(key(venue, "ABC/USDT:USDT"), value, "sim")
    ok(home, "link", "*:ABC/*", "--prices", "spot:ABC/USDT")
    out, _ = ok(home, "scan", "-e", "all", "-s", "ABC", "-t", "4h", "--signal", "margin_divergence",
                "--json")  # fmt: skip
    events = json.loads(out)
    assert [(e["exchange"], e["symbol"]) for e in events] == [("all", "ABC/USD:ABC")]
    assert events[0]["ts"] == int(ts[24 * 80]) - int(ts[24 * 80]) % (4 * HOUR_MS)


def test_phase_of_an_incomplete_first_bar_is_null_not_an_object_cast() -> None:
    """The phase column was built from a numpy object array; a first value of None (an
    incomplete bar) made polars fail with "cannot cast 'Object' type"."""
    from oiradar.features import compute_features

    bars = random_bars(200, HOUR_MS, seed=1).with_columns(
        complete=pl.Series([False, *[True] * 199])
    )
    feats = compute_features(bars, Timeframe.H1)
    phase = signal_states(feats, Timeframe.H1)["phase"]
    assert phase.dtype == pl.String and phase[0] is None and phase.null_count() < 200


# ------------------------------------------------------------------ the recorded Binance files
@pytest.fixture
def binance_home(tmp_path: Path) -> Path:
    """The docs' Binance 1h OI import (OI without price), the 4h candles and 16 OI polls (5m)."""
    folder = shared_file("btc_1h_oi_binance")
    polls = shared_file("liquidations", "binance_btcusdt_open_interest_history.csv")
    home = tmp_path / "bn"
    ok(home, "import", str(folder / "open_interest.json"), str(folder / "long_short_ratio.json"),
       "--symbol", "BTC/USDT:USDT", "-q")  # fmt: skip
    ok(home, "import", str(folder / "candles_4h.json"), "--symbol", "BTC/USDT", "-q")
    ok(home, "import", str(polls), "-q")
    return home


def test_recorded_binance_oi_without_prices_says_so(binance_home: Path) -> None:
    """Issue 13: `features -t 4h` was an Object-cast traceback, `liqmap -t 1h` a TypeError."""
    args = ("-e", "binanceusdm", "-s", "BTC/USDT:USDT")
    refused(binance_home, "features", *args, "-t", "4h", says=("has no prices", "--prices"))
    refused(binance_home, "liqmap", *args, "-t", "1h", says=("has no prices", "--prices"))
    out, _ = ok(binance_home, "scan", "--mtf", "-s", "BTC/USDT:USDT")
    assert "binanceusdm BTC/USDT:USDT" in out


def test_the_widest_stored_timeframe_builds_the_view(binance_home: Path) -> None:
    """16 polls at 5m and 500 bars at 1h: 4h is built from the 1h series, and says so."""
    args = ("features", "-e", "binanceusdm", "-s", "BTC/USDT:USDT", "-t", "4h",
            "--prices", "binance:BTC/USDT", "--format", "json", "-n", "1000")  # fmt: skip
    out, err = ok(binance_home, *args)
    assert "note: 4h built from the stored 1h series (500 bars)" in err
    rows = json.loads(out)
    # 500 hours from 21:00 to 16:00: 124 whole 4h bars and an incomplete one at each end
    assert len(rows) == 126 and rows[0]["phase"] is None and rows[-1]["phase"] is None
    assert all(r["oi"] is not None for r in rows) and rows[1]["phase"] is not None
    refused(binance_home, *args, "--from-timeframe", "5m",
            says=("shares no bar with its prices binance:BTC/USDT",))  # fmt: skip
    _, err = ok(binance_home, "export", "-e", "binanceusdm", "-s", "BTC/USDT:USDT", "-t", "4h",
                "--from-timeframe", "5m", "--out", str(binance_home / "polls.csv"))  # fmt: skip
    assert "note: 4h built from the stored 5m series (16 bars)" in err
    refused(binance_home, *args, "--from-timeframe", "15m",
            says=("--from-timeframe 15m", "stored timeframes of binanceusdm BTC/USDT:USDT: 5m, 1h"))
    refused(binance_home, *args, "--from-timeframe", "7m", says=("--from-timeframe '7m'",))


def test_the_series_covering_most_time_builds_the_view(tmp_path: Path) -> None:
    """Synthetic twin of the recorded case: 16 polls at 5m hide no longer a 500-bar 1h series."""
    home = tmp_path / "h"
    cat = Catalog(home)
    hourly = random_bars(500, HOUR_MS, seed=3).drop("complete")
    cat.write_bars(key("x", "ABC/USDT:USDT"), hourly, "sim")
    polls = random_bars(16, 5 * 60_000, seed=4, start_ms=1_800_000_000_000).select("ts", "oi")
    cat.write_bars(key("x", "ABC/USDT:USDT", Timeframe.M5), polls, "sim")
    args = ("export", "-e", "x", "-s", "ABC/USDT:USDT", "-t", "4h", "--out")
    _, err = ok(home, *args, str(tmp_path / "a.csv"))
    assert "note: 4h built from the stored 1h series (500 bars)" in err
    assert pl.read_csv(tmp_path / "a.csv")["close"].null_count() == 0
    _, err = ok(home, *args, str(tmp_path / "b.csv"), "--from-timeframe", "5m")
    assert "note: 4h built from the stored 5m series (16 bars)" in err
    assert pl.read_csv(tmp_path / "b.csv").height == 1
    _, err = ok(home, *args, str(tmp_path / "c.csv"), "-t", "1h")
    assert "note" not in err  # 1h is stored as such
    refused(home, *args, str(tmp_path / "d.csv"), "--from-timeframe", "1d",
            says=("--from-timeframe 1d", "stored timeframes of x ABC/USDT:USDT: 5m, 1h"))  # fmt: skip
    cat.write_bars(key("y", "ABC/USDT:USDT"), hourly, "sim")
    refused(home, "features", "-e", "y", "-s", "ABC/USDT:USDT", "-t", "15m",
            says=("no stored timeframe of y ABC/USDT:USDT builds 15m", "stored: 1h"))  # fmt: skip
