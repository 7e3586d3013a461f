"""Hostile exchange and symbol names: refused at the edge, and nothing outside the home is touched.

Every test lays out ``tmp_path/home`` (the oiradar home) beside ``tmp_path/victim`` (a folder
holding a decoy ``*.parquet``, the kind of file the catalog's clean-up deletes) and checks that
everything outside the home is byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.errors import InputError, StoreError
from oiradar.model import SeriesKey, Timeframe, parse_symbol, validate_exchange_name
from oiradar.sources import import_paths
from oiradar.store import Catalog

SYMBOL = "KSM/USDT:USDT"
ABSOLUTE = "<absolute path of the victim folder>"  # replaced per test: it must lie in tmp_path
HOSTILE = [
    "../../../victim",
    ABSOLUTE,
    ".",
    "..",
    "a\nb",
    "x" * 300,
    "a/b",
    "\x00",
    "",
    "~",
    "$HOME",
    "-rf",
    "a b",
    "gate.io",
    "a\\b",
]
LIQ_CSV = (
    "Symbol,Side,Order Type,Time in Force,Quantity,Price,Average Price,Order Status,"
    "Last Filled Quantity,Filled Quantity,Event Time (IST),Trade Time (IST)\n"
    "BTCUSDT,SELL,LIMIT,IOC,0.013,94434.91,94809.6,FILLED,0.013,0.013,"
    "2024-12-04 22:16:25.587000+05:30,2024-12-04 22:16:25.584000+05:30\n"
    "BTCUSDT,BUY,LIMIT,IOC,0.01,101972.92,101611.0,FILLED,0.01,0.01,"
    "2024-12-06 23:41:44.095000+05:30,2024-12-06 23:41:44.092000+05:30\n"
)
BAR_CSV = (
    "ts,open,high,low,close,volume\n"
    "1704067200000,100.0,101.0,99.5,100.5,10.0\n"
    "1704067500000,100.5,102.0,100.0,101.5,12.0\n"
)


def _named(name: str, tmp_path: Path) -> str:
    return str(tmp_path / "victim") if name == ABSOLUTE else name


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp_path/home`` and the input files; a victim folder with decoys beside the home."""
    victim = tmp_path / "victim"
    for folder in (victim, victim / "KSM-USDT-USDT" / "5m", victim / "BTC-USDT-USDT"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "2024-01.decoy.parquet").write_bytes(b"decoy: must survive")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "binance_btcusdt_liquidation_orders.csv").write_text(LIQ_CSV)
    (inputs / "bars.csv").write_text(BAR_CSV)
    return tmp_path / "home", inputs


def _outside(tmp_path: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``tmp_path`` except the home: mode and content digest (links unfollowed)."""
    out = {}
    home = tmp_path / "home"
    for top, dirs, files in os.walk(tmp_path):
        dirs[:] = [d for d in dirs if Path(top, d) != home]
        for name in dirs + files:
            path = Path(top, name)
            st = path.lstat()
            is_file = path.is_file() and not path.is_symlink()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if is_file else ""
            out[str(path.relative_to(tmp_path))] = (st.st_mode, digest)
    return out


def _liq_frame(exchange: object, symbol: object = "BTC/USDT:USDT") -> pl.DataFrame:
    return pl.DataFrame(
        {"ts": [1_733_330_785_584], "exchange": [exchange], "symbol": [symbol],
         "side": ["long"], "price": [94434.91], "qty": [0.013], "quote_qty": [1227.65]},
        schema_overrides={"exchange": pl.String, "symbol": pl.String},
    )  # fmt: skip


def _bars() -> pl.DataFrame:
    return pl.DataFrame({"ts": [1_704_067_200_000], "open": [1.0], "high": [2.0],
                         "low": [0.5], "close": [1.5], "volume": [3.0]})  # fmt: skip


def _forged_key(exchange: str) -> SeriesKey:
    """A key whose exchange skipped the check (as a bug elsewhere might): the store re-checks."""
    key = SeriesKey(exchange="binanceusdm", symbol=SYMBOL, timeframe=Timeframe.M5)
    object.__setattr__(key, "exchange", exchange)
    return key


# ------------------------------------------------------------------------- the name check
@pytest.mark.parametrize(
    "name",
    ["binanceusdm", "binancecoinm", "sim", "simbtc", "x", "coinalyze_binance", "OKX-2", "_a"],
)
def test_names_the_project_uses_are_accepted(name: str) -> None:
    assert validate_exchange_name(name) == name
    assert validate_exchange_name("a" * 64)


@pytest.mark.parametrize("name", [*HOSTILE, None, 3, "a" * 65])
def test_hostile_exchange_names_are_refused_naming_the_value(name: object) -> None:
    with pytest.raises(InputError) as err:
        validate_exchange_name(name)
    assert repr(name) in str(err.value) and "letters, digits" in str(err.value)
    with pytest.raises(InputError):
        SeriesKey(exchange=name, symbol=SYMBOL, timeframe=Timeframe.M5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "symbol", ["BTC/USDT\n", "BTC/USDT:USDT\n", "A" * 60 + "/USDT", "../x/USDT", "BTC/USDT:", ""]
)
def test_hostile_symbols_are_refused(symbol: str) -> None:
    with pytest.raises(InputError, match="invalid symbol"):
        parse_symbol(symbol)


# ------------------------------------------------------------------------- the Catalog API
@pytest.mark.parametrize("name", HOSTILE)
def test_catalog_refuses_hostile_names_and_touches_nothing(tmp_path: Path, name: str) -> None:
    home, _ = _layout(tmp_path)
    name = _named(name, tmp_path)
    cat = Catalog(home)
    before = _outside(tmp_path)
    for call in (
        lambda: cat.write_liquidations(_liq_frame(name)),
        lambda: cat.read_liquidations(exchange=name),
        lambda: cat.delete_series(name, SYMBOL),
        lambda: cat.write_bars(_forged_key(name), _bars()),
        lambda: cat.read_bars(_forged_key(name)),
    ):
        with pytest.raises(InputError, match="invalid exchange name"):
            call()
    assert _outside(tmp_path) == before
    assert not home.exists()  # refused before the write lock: not even the catalog folder


def test_a_bad_name_in_any_row_refuses_the_whole_liquidation_write(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "home")
    frame = pl.concat([_liq_frame("binanceusdm"), _liq_frame("../x"), _liq_frame(None)])
    with pytest.raises(InputError, match=r"'\.\./x'"):
        cat.write_liquidations(frame)
    with pytest.raises(InputError, match="invalid symbol"):
        cat.write_liquidations(_liq_frame("binanceusdm", symbol="BTC/USDT\n"))
    assert cat.read_liquidations().is_empty()


@pytest.mark.parametrize("kind", ["bars", "liquidations"])
def test_a_link_planted_in_the_catalog_is_not_followed_out(tmp_path: Path, kind: str) -> None:
    """Defence in depth: a valid name whose folder is a link out of the catalog is refused."""
    home, _ = _layout(tmp_path)
    cat = Catalog(home)
    (cat.root / kind).mkdir(parents=True)
    (cat.root / kind / "binanceusdm").symlink_to(tmp_path / "victim", target_is_directory=True)
    before = _outside(tmp_path)
    key = SeriesKey(exchange="binanceusdm", symbol=SYMBOL, timeframe=Timeframe.M5)
    with pytest.raises(StoreError, match="outside the catalog"):
        if kind == "bars":
            cat.write_bars(key, _bars())
        else:
            cat.write_liquidations(_liq_frame("binanceusdm"))
    with pytest.raises(StoreError, match="outside the catalog"):
        cat.delete_series("binanceusdm", SYMBOL if kind == "bars" else "BTC/USDT:USDT")
    assert _outside(tmp_path) == before


def test_a_linked_home_still_works(tmp_path: Path) -> None:
    """The containment check resolves the catalog root too: a home reached by a link is fine."""
    (tmp_path / "real").mkdir()
    (tmp_path / "home").symlink_to(tmp_path / "real", target_is_directory=True)
    cat = Catalog(tmp_path / "home")
    key = SeriesKey(exchange="binanceusdm", symbol=SYMBOL, timeframe=Timeframe.M5)
    assert cat.write_bars(key, _bars()).rows_added == 1
    assert cat.write_liquidations(_liq_frame("binanceusdm")).rows_added == 1
    assert cat.delete_series("binanceusdm", SYMBOL) == 1


# ------------------------------------------------------------------------- the real CLI
def _cli(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "200"})


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("kind", ["liquidations", "bars"])
def test_import_refuses_hostile_exchange(tmp_path: Path, name: str, kind: str) -> None:
    home, inputs = _layout(tmp_path)
    name = _named(name, tmp_path)
    if kind == "liquidations":
        args = [str(inputs / "binance_btcusdt_liquidation_orders.csv")]
    else:
        args = [str(inputs / "bars.csv"), "--symbol", SYMBOL, "--timeframe", "5m"]
    before = _outside(tmp_path)
    res = _cli(home, "import", *args, "--exchange", name, "-q")
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)  # typer.Exit: no uncaught exception
    assert "Traceback" not in res.output
    assert f"invalid exchange name {name!r}" in res.output
    assert _outside(tmp_path) == before
    assert not (home / "catalog" / "liquidations").exists()
    assert not (home / "catalog" / "bars").exists()


@pytest.mark.parametrize("name", ["../../../victim", ABSOLUTE, "a\nb", "x" * 300])
def test_console_import_refuses_without_traceback(tmp_path: Path, name: str) -> None:
    home, inputs = _layout(tmp_path)
    name = _named(name, tmp_path)
    before = _outside(tmp_path)
    res = subprocess.run(
        [sys.executable, "-c", "from oiradar.cli.main import main; main()", "--home", str(home),
         "import", str(inputs / "binance_btcusdt_liquidation_orders.csv"), "-e", name, "-q"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "HOME": str(tmp_path / "userhome")},
    )  # fmt: skip
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert f"invalid exchange name {name!r}" in res.stderr
    assert _outside(tmp_path) == before


def test_a_legitimate_reimport_cleans_up_only_inside_its_folder(tmp_path: Path) -> None:
    """The second import collects garbage in the series folder and nowhere else."""
    home, inputs = _layout(tmp_path)
    cat = Catalog(home)
    liq_file = inputs / "binance_btcusdt_liquidation_orders.csv"
    assert import_paths([liq_file], cat, exchange="binanceusdm").liquidations.rows_added == 2
    folder = cat.liq_dir / "binanceusdm" / "BTC-USDT-USDT"
    stray = folder / "2024-12.0123456789ab.parquet"  # uncommitted: what a killed writer leaves
    stray.write_bytes(b"stray")
    before = _outside(tmp_path)
    res = _cli(home, "import", str(liq_file), "--exchange", "binanceusdm", "-q")
    assert res.exit_code == 0, res.output
    assert not stray.exists()  # the clean-up ran ...
    assert _outside(tmp_path) == before  # ... and deleted nothing outside the home
    assert cat.read_liquidations(exchange="binanceusdm").height == 2
