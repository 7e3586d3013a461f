"""Every command refuses a user's mistake cleanly: exit code 2, a message that names the option or
file and the value given, and never a traceback.

One table row per bad input, over every command, on a small simulated catalog (30 days of 1h bars,
written once for the module). The rows run the CLI in-process, as ``oiradar.cli.main.main`` does:
an :class:`~oiradar.errors.OiradarError` that escapes a command is what ``main`` turns into
``error: ...`` and exit code 2, any other exception would be a traceback. A few rows run the real
entry point in a subprocess as well (``test_the_entry_point_refuses_the_same_way``).

Venue commands point every venue at a closed local port, so a row that reached the network would
fail on the connection, not on the mistake: the rows show the input is refused before any request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oiradar.cli.main import app
from oiradar.errors import OiradarError
from tests.integration.cli_helpers import run_cli

SERIES = ("-e", "sim", "-s", "KSM/USDT:USDT")
STORED = "sim KSM/USDT:USDT"  # how an error lists the stored series
OFFLINE = {
    f"OIRADAR__VENUES__{v.upper()}__REST_URL": "http://127.0.0.1:9"
    for v in ("binanceusdm", "binancecoinm", "bybit", "okx")
}
FILES = {
    "header_only.csv": "ts,open,high,low,close,volume\n",
    "wrong_columns.csv": "when,price,amount\n2024-01-01,1,2\n2024-01-02,1,2\n",
    "good.csv": "ts,open,high,low,close,volume\n1704067200000,1,2,0.5,1,3\n1704070800000,1,2,0.5,1,3\n",
    "bad_grid.toml": "folds = [\n",
    "unknown_grid.toml": "[params]\ntake_profit_rr = [1.0, 2.0]\n",
}


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{d}" stands for the folder of FILES, "{home}" for the catalog
    fragments: tuple[str, ...]  # each must be in the message
    absent: tuple[str, ...] = field(default=())  # none may appear in the output

    def argv(self, d: Path, home: Path) -> list[str]:
        return [a.format(d=d, home=home) for a in self.args]


def case(id: str, *args: str, says: tuple[str, ...], absent: tuple[str, ...] = ()) -> Case:
    return Case(id, args, says, absent)


CASES = [
    # the catalog: list, gaps, sql, export
    case("list-format", "list", "--format", "xml", says=("--format", "xml")),
    case("gaps-timeframe", "gaps", "-t", "7m", says=("7m",)),
    case("gaps-exchange", "gaps", "-e", "nosuch", says=("nosuch", STORED)),
    case("gaps-symbol", "gaps", "-s", "NOPE/USDT:USDT", says=("NOPE/USDT:USDT", STORED)),
    case("sql-table", "sql", "select * from nosuch", says=("nosuch", "bars", "liquidations"),
         absent=("pg_",)),
    case("sql-write", "sql", "copy (select 1) to 'x.csv'", says=("COPY", "read-only")),
    case("sql-syntax", "sql", "selec 1", says=("selec",)),
    case("export-folder", "export", *SERIES, "-t", "1h", "--out", "/nonexistent/dir/x.csv",
         says=("--out", "/nonexistent/dir")),
    case("export-suffix", "export", *SERIES, "-t", "1h", "--out", "{d}/x.xlsx",
         says=("--out", "x.xlsx")),
    case("export-timeframe", "export", *SERIES, "-t", "9h", "--out", "{d}/x.csv", says=("9h",)),
    case("export-exchange", "export", "-e", "nosuch", "-s", "KSM/USDT:USDT", "-t", "1h",
         "--out", "{d}/x.csv", says=("nosuch", STORED)),
    case("export-symbol", "export", "-e", "sim", "-s", "NOPE/USDT:USDT", "-t", "1h",
         "--out", "{d}/x.csv", says=("NOPE/USDT:USDT", STORED)),
    # price links
    case("link-series", "link", "nosuch:KSM/USDT:USDT", "--prices", "sim:KSM/USDT:USDT",
         says=("nosuch:KSM/USDT:USDT", "sim:KSM/USDT:USDT")),
    case("link-prices", "link", "sim:KSM/USDT:USDT", "--prices", "nocolon",
         says=("--prices", "nocolon")),
    # features, scan
    case("features-since", "features", *SERIES, "-t", "1h", "--since", "2024-13-01",
         says=("--since", "2024-13-01")),
    case("features-tail", "features", *SERIES, "-t", "1h", "-n", "-5", says=("-5",)),
    case("features-out", "features", *SERIES, "-t", "1h", "--out", "/nonexistent/x.csv",
         says=("--out", "/nonexistent")),
    case("features-ts", "features", *SERIES, "-t", "1h", "--ts", "foo", says=("--ts", "foo")),
    case("features-exchange", "features", "-e", "nosuch", "-s", "KSM/USDT:USDT", "-t", "1h",
         says=("nosuch", STORED)),
    case("features-prices", "features", *SERIES, "-t", "1h", "--prices", "nocolon",
         says=("--prices", "nocolon")),
    case("scan-exchange", "scan", "-t", "1h", "-e", "nosuch", says=("nosuch", "sim")),
    case("scan-symbol", "scan", "-t", "1h", "-s", "NOPE/USDT:USDT", says=("NOPE/USDT:USDT",)),
    case("scan-signal", "scan", "-t", "1h", "--signal", "nosignal", says=("nosignal", "divergence")),
    case("scan-since", "scan", "-t", "1h", "--since", "yesterday", says=("--since", "yesterday")),
    case("scan-timeframe", "scan", "-t", "3h", says=("3h",)),
    case("scan-mtf", "scan", "--mtf", says=("--mtf", "--symbol")),
    case("scan-format", "scan", "-t", "1h", "--format", "yaml", says=("--format", "yaml")),
    # study, backtest, sweep
    case("study-side", "study", "-t", "1h", "--side", "sideways", says=("--side", "sideways")),
    case("study-batch-no-pooled", "study", "-t", "1h", "--batch-size", "2",
         says=("--batch-size", "--pooled")),
    case("study-with-total-pooled", "study", "-t", "1h", "--with-total", "--pooled",
         says=("--with-total", "--exchange all")),
    case("study-signal", "study", "-t", "1h", "--signal", "nosignal", says=("nosignal",)),
    case("study-prices-form", "study", "-t", "1h", "--prices", "nocolon",
         says=("--prices", "nocolon")),
    case("study-prices-series", "study", "-t", "1h", "--prices", "nosuch:BTC/USDT",
         says=("nosuch", "BTC/USDT")),
    case("study-horizon", "study", "-t", "1h", "--horizon", "0", says=("horizon", "0")),
    case("study-reps", "study", "-t", "1h", "--reps", "0", says=("reps", "0")),
    case("study-exchange", "study", "-t", "1h", "-e", "nosuch", says=("nosuch", "sim")),
    case("scan-batch-size", "scan", "-t", "1h", "--batch-size", "0", says=("--batch-size", "0")),
    case("scan-executor", "scan", "-t", "1h", "--executor", "rey", says=("--executor", "rey", "ray")),
    case("features-batch-size", "features", "-t", "1h", "--batch-size", "0",
         says=("--batch-size", "0")),
    case("backtest-exit", "backtest", "-t", "1h", "--exit", "sideways", says=("--exit", "sideways")),
    case("backtest-exit-clash", "backtest", "-t", "1h", "--exit", "oi_turn", "-p", "take_profit_r=1",
         says=("--exit oi_turn", "take_profit_r")),
    case("backtest-param-key", "backtest", "-t", "1h", "-p", "foo=1",
         says=("foo", "take_profit_r")),
    case("backtest-leverage-negative", "backtest", "-t", "1h", "-p", "leverage=-1",
         says=("leverage", "-1")),
    case("backtest-leverage-zero", "backtest", "-t", "1h", "-p", "leverage=0",
         says=("leverage", "0")),
    case("backtest-param-value", "backtest", "-t", "1h", "-p", "leverage=abc",
         says=("leverage", "abc")),
    case("backtest-param-form", "backtest", "-t", "1h", "-p", "leverage",
         says=("--param", "leverage")),
    case("backtest-trades", "backtest", "-t", "1h", "--trades", "/nonexistent/t.csv",
         says=("--trades", "/nonexistent")),
    case("backtest-side", "backtest", "-t", "1h", "--side", "up", says=("--side", "up")),
    case("sweep-grid-missing", "sweep", "-t", "1h", "--grid", "{d}/nosuch.toml",
         says=("nosuch.toml",)),
    case("sweep-grid-toml", "sweep", "-t", "1h", "--grid", "{d}/bad_grid.toml",
         says=("bad_grid.toml",)),
    case("sweep-grid-key", "sweep", "-t", "1h", "--grid", "{d}/unknown_grid.toml",
         says=("take_profit_rr",)),
    case("sweep-executor", "sweep", "-t", "1h", "--grid", "docs/examples/sweep-grid.toml",
         "--executor", "gpu", says=("--executor", "gpu")),
    case("sweep-batch-size", "sweep", "-t", "1h", "--grid", "docs/examples/sweep-grid.toml",
         "--batch-size", "0", says=("--batch-size", "0")),
    case("sweep-batch-size-local", "sweep", "-t", "1h", "--grid", "docs/examples/sweep-grid.toml",
         "--batch-size", "4", says=("--batch-size", "--executor ray")),
    # liquidation prices and the map
    case("liqprice-side", "liqprice", "--side", "sideways", "--entry", "25", "--leverage", "10",
         says=("--side", "sideways")),
    case("liqprice-leverage-negative", "liqprice", "--side", "long", "--entry", "25",
         "--leverage", "-10", says=("--leverage", "-10")),
    case("liqprice-leverage-zero", "liqprice", "--side", "long", "--entry", "25",
         "--leverage", "0", says=("--leverage", "0")),
    case("liqprice-entry", "liqprice", "--side", "long", "--entry", "-25", "--leverage", "10",
         says=("--entry", "-25")),
    case("liqprice-mmr", "liqprice", "--side", "long", "--entry", "25", "--leverage", "10",
         "--mmr", "2", says=("--mmr", "2")),
    case("liqprice-exchange", "liqprice", "--side", "long", "--entry", "25", "--leverage", "10",
         "-e", "nosuchvenue", says=("nosuchvenue",)),
    case("liqmap-mix", "liqmap", *SERIES, "-t", "1h", "--mix", "foo", says=("mix", "foo")),
    case("liqmap-moves", "liqmap", *SERIES, "-t", "1h", "--moves", "abc", says=("--moves", "abc")),
    case("liqmap-at", "liqmap", *SERIES, "-t", "1h", "--at", "notadate", says=("--at", "notadate")),
    case("liqmap-at-after", "liqmap", *SERIES, "-t", "1h", "--at", "2030-01-01",
         says=("--at", "2030-01-01", "after the last bar", "2024-01-30 23:00")),
    case("liqmap-at-before", "liqmap", *SERIES, "-t", "1h", "--at", "2000-01-01",
         says=("--at", "2000-01-01", "before the first bar", "2024-01-01 00:00")),
    case("liqmap-prices", "liqmap", *SERIES, "-t", "1h", "--prices", "nocolon",
         says=("--prices", "nocolon")),
    case("liqmap-exchange", "liqmap", "-e", "nosuch", "-s", "KSM/USDT:USDT", "-t", "1h",
         says=("nosuch", STORED)),
    case("liqmap-what-if", "liqmap", "--what-if", "--price", "30", says=("--oi-usd",)),
    # venues: markets, fetch, record (the venue is unreachable: nothing may be asked of it)
    case("markets-exchange", "markets", "-e", "nosuchvenue", says=("nosuchvenue",)),
    case("markets-format", "markets", "-e", "okx", "--format", "xml", says=("--format", "xml")),
    case("fetch-since-after-until", "fetch", "-e", "binanceusdm", "-s", "BTC/USDT:USDT",
         "--since", "2024-02-01", "--until", "2024-01-01", "--dry-run",
         says=("--since", "2024-02-01", "--until", "2024-01-01")),
    case("fetch-since", "fetch", "-e", "binanceusdm", "-s", "BTC/USDT:USDT", "--since",
         "tomorrowish", "--dry-run", says=("--since", "tomorrowish")),
    case("fetch-timeframe", "fetch", "-e", "binanceusdm", "-s", "BTC/USDT:USDT", "-t", "7m",
         "--dry-run", says=("7m",)),
    case("fetch-exchange", "fetch", "-e", "nosuchvenue", "-s", "BTC/USDT:USDT", "--dry-run",
         says=("nosuchvenue",)),
    case("fetch-symbol", "fetch", "-e", "binanceusdm", "--dry-run", says=("--symbol",)),
    case("record-interval", "record", "-e", "binanceusdm", "-s", "BTC/USDT:USDT",
         "--interval", "0s", says=("--interval", "0s")),
    case("record-duration", "record", "-e", "binanceusdm", "-s", "BTC/USDT:USDT",
         "--duration", "abc", says=("abc",)),
    # files: import
    case("import-missing", "import", "{d}/nosuch.csv", says=("nosuch.csv",)),
    case("import-header-only", "import", "{d}/header_only.csv", "-e", "x", "-s", "A/USDT:USDT",
         says=("header_only.csv",), absent=("None",)),
    case("import-wrong-columns", "import", "{d}/wrong_columns.csv", "-e", "x", "-s",
         "A/USDT:USDT", says=("wrong_columns.csv", "ts"), absent=("_row",)),
    case("import-format", "import", "{d}/good.csv", "-f", "nosuch", says=("nosuch", "csv")),
    case("import-timeframe", "import", "{d}/good.csv", "-e", "x", "-s", "A/USDT:USDT",
         "-t", "7m", says=("7m",)),
    case("import-symbol", "import", "{d}/good.csv", "-e", "x", "-s", "nonsense",
         says=("nonsense",)),
    case("import-map", "import", "{d}/good.csv", "-e", "x", "-s", "A/USDT:USDT", "--map", "ts",
         says=("--map", "ts")),
    case("import-drop", "import", "{d}/good.csv", "-e", "x", "-s", "A/USDT:USDT", "--drop",
         "fundng", says=("--drop 'fundng'", "funding_rate")),
    # the simulator
    case("simulate-preset", "simulate", "--preset", "nosuch", "--days", "3", says=("nosuch",)),
    case("simulate-days", "simulate", "--days", "0", says=("--days", "0")),
    case("simulate-timeframe", "simulate", "--days", "3", "-t", "7m", says=("7m",)),
    case("simulate-start", "simulate", "--days", "3", "--start", "2024-02-30",
         says=("--start", "2024-02-30")),
    case("demo-days", "demo", "--days", "0", says=("--days", "0")),
    # the live radar (each refused before anything starts)
    case("watch-none", "watch", says=("no series to watch", "[watch] series")),
    case("watch-no-symbol", "watch", "-e", "sim", says=("-s",)),
    case("watch-no-exchange", "watch", "-s", "KSM/USDT:USDT", says=("-e",)),
    case("watch-timeframe", "watch", *SERIES, "-t", "7m", says=("7m",)),
    case("watch-exchange", "watch", "-e", "../x", "-s", "KSM/USDT:USDT", says=("../x",)),
    case("watch-signal", "watch", *SERIES, "--signal", "nosuch", says=("nosuch", "entry")),
    case("watch-stop", "watch", *SERIES, "--stop-after-bars", "0",
         says=("--stop-after-bars", "0")),
    case("watch-notify", "watch", *SERIES, "--notify", "nosuch://x/y", says=("nosuch://",),
         absent=("x/y",)),
    case("status-format", "status", "--format", "xml", says=("--format", "xml")),
    case("brief-exchange", "brief", "-e", "nosuch", "-s", "KSM/USDT:USDT", "-t", "1h",
         says=("nosuch",)),
    case("brief-none", "brief", says=("no series to brief", "[watch] series")),
    case("sheet-date", "sheet", *SERIES, "-t", "1h", "--date", "2024-13-01",
         says=("--date", "2024-13-01")),
    case("sheet-format", "sheet", *SERIES, "-t", "1h", "--format", "pdf",
         says=("--format", "pdf")),
    # the report
    case("report-symbol", "report", "-e", "sim", "-s", "NOPE/USDT:USDT",
         says=("NOPE/USDT:USDT", STORED)),
    case("report-side", "report", "-e", "sim", "-s", "KSM/USDT:USDT", "--side", "up",
         says=("--side", "up")),
    case("report-out", "report", "-e", "sim", "-s", "KSM/USDT:USDT", "-t", "1h", "--no-study",
         "--out", "/nonexistent/r.html", says=("--out", "does not exist")),
    # the dashboard (each refused before it listens)
    case("serve-host", "serve", "--host", "0.0.0.0", says=("--host 0.0.0.0", "OIRADAR_TOKEN")),
    case("serve-port", "serve", "--port", "70000", says=("--port", "70000")),
]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A catalog with one simulated series (30 days of 1h bars) and the folder of FILES."""
    home, files = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("files")
    done = run_cli(["simulate", "--days", "30", "-t", "1h"], home)
    assert done.code == 0, done.output
    for name, text in FILES.items():
        (files / name).write_text(text)
    return home, files


def invoke(args: list[str], home: Path) -> tuple[int, str, BaseException | None]:
    """``oiradar --home HOME ARGS`` in-process: exit code, output, and an unexpected exception."""
    env = {k: None for k in os.environ if k.startswith("OIRADAR")} | OFFLINE | {"COLUMNS": "250"}
    res = CliRunner().invoke(app, ["--home", str(home), *args], env=env)
    exc = res.exception
    if isinstance(exc, OiradarError):  # what main() prints as "error: ..." with exit code 2
        return 2, f"{res.output}error: {exc}\n", None
    return res.exit_code, res.output, None if isinstance(exc, SystemExit | None) else exc


def test_the_table_covers_every_command() -> None:
    covered = {c.args[0] for c in CASES}
    commands = {c.name for c in app.registered_commands if c.name}
    assert len(CASES) >= 40
    assert not commands - covered, f"no bad input for {sorted(commands - covered)}"


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_a_bad_input_is_refused_by_name(c: Case, catalog: tuple[Path, Path]) -> None:
    home, files = catalog
    code, output, exc = invoke(c.argv(files, home), home)
    shown = f"oiradar {' '.join(c.argv(files, home))}\nexit {code}\n{output}"
    assert exc is None, f"{shown}\nraised {type(exc).__name__}: {exc}"
    assert "Traceback" not in output, shown
    assert code == 2, shown
    missing = [f for f in c.fragments if f not in output]
    assert not missing, f"the message lacks {missing}\n{shown}"
    present = [f for f in c.absent if f in output]
    assert not present, f"the message shows {present}\n{shown}"


@pytest.mark.parametrize("id", ["export-folder", "backtest-param-key", "sql-table", "gaps-exchange"])
def test_the_entry_point_refuses_the_same_way(id: str, catalog: tuple[Path, Path]) -> None:
    home, files = catalog
    c = next(c for c in CASES if c.id == id)
    res = run_cli(c.argv(files, home), home, env=OFFLINE)
    assert "Traceback" not in res.output, res.output
    assert res.code == 2 and "error:" in res.stderr, res.output
    assert all(f in res.stderr for f in c.fragments), res.output


def test_the_stored_listing_is_never_cut(tmp_path: Path) -> None:
    from oiradar.features.oracle import random_bars
    from oiradar.model import HOUR_MS, SeriesKey, Timeframe
    from oiradar.store import Catalog

    cat = Catalog(tmp_path)
    names = [f"C{i:02d}/USDT:USDT" for i in range(12)]
    for i, symbol in enumerate(names):
        bars = random_bars(30, HOUR_MS, seed=i, start_ms=1_704_067_200_000).drop("complete")
        cat.write_bars(SeriesKey(exchange="x", symbol=symbol, timeframe=Timeframe.H1), bars, "sim")
    for args in (["export", "-e", "x", "-s", "NOPE/USDT:USDT", "-t", "1h", "--out", "o.csv"],
                 ["scan", "-t", "1h", "-e", "nosuch"], ["gaps", "-s", "NOPE/USDT:USDT"]):  # fmt: skip
        code, output, exc = invoke(args, tmp_path)
        assert exc is None and code == 2, output
        assert all(f"x {s}" in output for s in names), output
