"""The dashboard's use cases against the commands that answer the same questions: a watchlist row is
``oiradar brief``'s row (the CLI's JSON, value for value), its lag is ``oiradar status``'s when a
watch keeps the series, the alert log is the ledger's, the paper view is ``paper status`` with the
journal, the sheet is ``oiradar sheet``'s rows; an empty home says why and creates nothing."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oiradar.app import paper
from oiradar.app.brief import BriefOptions, SheetOptions, brief, sheet
from oiradar.app.dashboard import (
    NO_ACCOUNTS,
    NO_SERIES_STORED,
    alert_log,
    dashboard_keys,
    json_safe,
    paper_view,
    series_versions,
    sheet_view,
    watchlist,
)
from oiradar.app.live import event_id, series_label
from oiradar.app.session import Session
from oiradar.app.sim import SimOptions, simulate_market
from oiradar.cli.main import app
from oiradar.config import Settings, WatchSettings
from oiradar.errors import InputError
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.store.ledger import Ledger, NewAlert, ledger_path
from oiradar.store.paper import paper_path
from oiradar.timeutil import iso_utc

START = 1_704_067_200_000  # 2024-01-01 00:00 UTC
DAYS = 40
SYMBOL = "KSM/USDT:USDT"
KSM = SeriesKey(exchange="sim", symbol=SYMBOL, timeframe=Timeframe.H1)
KSM_B = SeriesKey(exchange="simb", symbol=SYMBOL, timeframe=Timeframe.H1)
NOW = START + 400 * 24 * HOUR_MS  # long after the data: every bar is closed


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two venues of a KSM-like market, 40 days of 1h bars."""
    home = tmp_path_factory.mktemp("dashboard-home")
    s = Session(Settings(), home)
    for exchange, seed in (("sim", 7), ("simb", 8)):
        simulate_market(s, SimOptions("ksm", DAYS, seed, exchange, None, Timeframe.H1, START))
    return home


def session(home: Path, **watch: object) -> Session:
    return Session(Settings(watch=WatchSettings(**watch)), home)


def cli_brief(home: Path, key: SeriesKey) -> dict[str, object]:
    """``oiradar brief -e -s -t --format json``'s row of ``key``."""
    args = ["--home", str(home), "brief", "-e", key.exchange, "-s", key.symbol, "-t",
            key.timeframe.value, "--format", "json"]  # fmt: skip
    res = CliRunner().invoke(app, args, env={"OIRADAR_HOME": None, "COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["rows"]
    return row


def test_a_watchlist_row_is_the_briefs_row(home: Path) -> None:
    rows = watchlist(session(home), now=NOW)
    assert [r["series"] for r in rows] == [series_label(KSM), series_label(KSM_B)]
    catalog = session(home).catalog
    for key, row in zip((KSM, KSM_B), rows, strict=True):
        want = cli_brief(home, key)
        assert {k: row[k] for k in want} == want
        assert row["oi"] > 0 and row["phase"] and row["last_alert"] == "none yet"
        last = catalog.last_ts(key)
        assert row["bar_time"] == iso_utc(want["bar_ts"])  # type: ignore[arg-type]
        assert (row["last_bar_ts"], row["last_bar_time"]) == (last, iso_utc(last))  # type: ignore[arg-type]
        assert row["lag_ms"] == NOW - (last + HOUR_MS)  # type: ignore[operator]
        json.dumps(row, allow_nan=False)


def test_the_watch_series_come_before_the_stored_ones(home: Path) -> None:
    s = session(home, series=("sim KSM/USDT:USDT 4h",))
    key = KSM.with_timeframe(Timeframe.H4)
    assert dashboard_keys(s) == [key]
    (row,) = watchlist(s, now=NOW)
    want = brief(s, BriefOptions((key,), closed_by=NOW)).rows.to_dicts()[0]
    assert {k: row[k] for k in want} == json_safe(want)
    last_1h = s.catalog.last_ts(KSM)  # the 4h series is built from the stored 1h bars
    assert row["last_bar_ts"] == last_1h
    assert series_versions(s) == {"sim KSM/USDT:USDT 4h": last_1h}


def test_a_series_that_cannot_be_read_is_a_row_that_says_why(home: Path) -> None:
    rows = watchlist(session(home, series=("nope KSM/USDT:USDT 1h", "sim KSM/USDT:USDT 1h")))
    assert [r["exchange"] for r in rows] == ["nope", "sim"]
    assert "nope" in rows[0]["note"] and rows[0]["oi"] is None and rows[0]["last_bar_ts"] is None
    assert rows[1]["note"] is None and rows[1]["oi"] > 0
    (alone,) = watchlist(session(home, series=("nope KSM/USDT:USDT 1h",)))
    assert "nope" in alone["note"]


def test_the_lag_of_a_watched_series_is_the_status(home: Path, tmp_path: Path) -> None:
    s = Session(Settings(), tmp_path)  # a ledger of its own, the catalog of the module
    s.__dict__["catalog"] = session(home).catalog
    seen = s.catalog.last_ts(KSM) - 5 * HOUR_MS  # type: ignore[operator]
    ledger = Ledger(ledger_path(tmp_path))
    ledger.series_checked(series_label(KSM), seen, NOW)
    ledger.close()
    rows = {r["series"]: r for r in watchlist(s, now=NOW)}
    assert rows[series_label(KSM)]["lag_ms"] == NOW - (seen + HOUR_MS)
    last_b = s.catalog.last_ts(KSM_B)
    assert rows[series_label(KSM_B)]["lag_ms"] == NOW - (last_b + HOUR_MS)  # type: ignore[operator]


def test_the_alert_log_is_the_ledgers(home: Path, tmp_path: Path) -> None:
    s = Session(Settings(), tmp_path)
    bar = START + 30 * 24 * HOUR_MS
    ledger = Ledger(ledger_path(tmp_path))
    for i, signal in enumerate(("watch", "trigger")):
        ts = bar + i * HOUR_MS
        eid = event_id("sim", SYMBOL, "1h", signal, "short", ts)
        payload = {"event_id": eid, "exchange": "sim", "symbol": SYMBOL, "timeframe": "1h",
                   "signal": signal, "side": "short", "bar_ts": ts, "bar_time": iso_utc(ts),
                   "late": False, "values": {"close": 30.0, "oi_z_30d": float("nan")}, "why": "w"}  # fmt: skip
        ledger.commit(series_label(KSM), ts, [NewAlert(eid, series_label(KSM), ts, False, payload,
                                                       ("console",))], ts + HOUR_MS)  # fmt: skip
    ledger.close()
    log = alert_log(s)
    assert [a["signal"] for a in log] == ["trigger", "watch"]  # newest bar first
    assert log[0]["deliveries"] == {"console": "pending"} and "trigger short" in log[0]["text"]
    assert log[0]["values"]["oi_z_30d"] is None  # JSON has no NaN
    assert [a["signal"] for a in alert_log(s, limit=1)] == ["trigger"]
    with pytest.raises(InputError, match="limit"):
        alert_log(s, limit=0)


def test_the_sheet_view_is_the_sheet(home: Path) -> None:
    s = session(home)
    view = sheet_view(s)
    report = sheet(s, SheetOptions(None, (KSM, KSM_B)))
    assert view["day"] == report.day.isoformat() and view["note"] is None
    want = json_safe(report.rows.to_dicts())
    assert [{k: r[k] for k in w} for r, w in zip(view["rows"], want, strict=True)] == want
    bad = sheet_view(s, date(2030, 1, 1))
    assert bad["rows"] == [] and "2030-01-01" in bad["note"]


def test_the_paper_view_is_paper_status_with_the_journal(home: Path, tmp_path: Path) -> None:
    s = Session(Settings(), tmp_path)
    s.__dict__["catalog"] = session(home).catalog
    assert paper_view(s) == {"accounts": [], "min_trades": paper.MIN_TRADES, "note": NO_ACCOUNTS}
    assert not paper_path(tmp_path).exists()  # not created just to be read
    paper.start(s, paper.PaperStart("sim", SYMBOL, Timeframe.H1, since=START + 24 * HOUR_MS))
    view = paper_view(s, tail=5)
    (acct,) = view["accounts"]
    want = paper.journal(s, "1", 5).to_dict()
    assert [{k: e[k] for k in w} for e, w in zip(acct["journal"], want["entries"], strict=True)] \
        == json_safe(want["entries"])  # fmt: skip
    assert acct["journal_total"] == want["total"] and view["note"] is None
    assert acct["account"]["start_time"] == iso_utc(acct["account"]["start_ts"])
    status = json_safe(paper.status(s).to_dict()["accounts"][0])
    assert {k: acct["account"][k] for k in status["account"]} == status.pop("account")
    assert {k: acct[k] for k in status} == status
    assert acct["journal"] and acct["trades"] == status["trades"]


def test_an_empty_home_says_why_and_creates_nothing(tmp_path: Path) -> None:
    s = Session(Settings(), tmp_path)
    assert watchlist(s) == [] and series_versions(s) == {} and alert_log(s) == []
    assert sheet_view(s)["note"] == NO_SERIES_STORED
    assert paper_view(s)["note"] == NO_ACCOUNTS
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


def test_json_safe() -> None:
    got = json_safe({"a": [math.nan, 1.5, math.inf], "d": date(2024, 1, 2), "n": None, "i": 3})
    assert got == {"a": [None, 1.5, None], "d": "2024-01-02", "n": None, "i": 3}


def test_the_server_cache_equals_the_uncached_answers_across_a_write(tmp_path: Path) -> None:
    """``serve``'s :class:`Dashboard` keeps rows and versions between requests; after a new bar
    in one series it gives what a fresh computation gives, and recomputes only that base asset."""
    from oiradar.app.dashboard import Dashboard
    from oiradar.model import Source
    from oiradar.store import Catalog

    s = Session(Settings(), tmp_path)
    for exchange, seed, preset in (("sim", 7, "ksm"), ("simb", 8, "ksm")):
        simulate_market(s, SimOptions(preset, DAYS, seed, exchange, None, Timeframe.H1, START))
    dot = SeriesKey(exchange="sim", symbol="DOT/USDT:USDT", timeframe=Timeframe.H1)
    catalog = Catalog(tmp_path)
    bars = catalog.read_bars(KSM).drop("complete", "ohlc_from_close", strict=False)
    catalog.write_bars(dot, bars.head(bars.height - 1), Source.SIM)
    board = Dashboard()
    assert board.watchlist(s, now=NOW) == watchlist(s, now=NOW)
    ksm_rows = {k: id(v[1]) for k, v in board._rows.items() if k.symbol == SYMBOL}
    catalog.write_bars(dot, bars.tail(1), Source.SIM)  # DOT's next bar
    assert board.versions(s) == series_versions(s)
    assert board.versions(s)[series_label(dot)] == int(bars["ts"][-1])
    assert board.watchlist(s, now=NOW) == watchlist(s, now=NOW)
    assert {k: id(v[1]) for k, v in board._rows.items() if k.symbol == SYMBOL} == ksm_rows
