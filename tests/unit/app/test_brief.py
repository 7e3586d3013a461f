"""``brief`` and ``sheet`` against values recomputed from the stored bars with plain polars/numpy,
against ``scan`` for the signals, and the cumulative sheet's idempotent, atomic append."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from oiradar.app.brief import (
    NO_ALERT,
    SHEET_FILE,
    BriefOptions,
    SheetOptions,
    alert_line,
    append_sheet,
    brief,
    brief_text,
    sheet,
    sheet_folder,
)
from oiradar.app.live import event_id, series_label
from oiradar.app.scan import ScanOptions, scan_events
from oiradar.app.session import Session
from oiradar.app.sim import SimOptions, simulate_market
from oiradar.config import Settings, WatchSettings
from oiradar.errors import InputError, OiradarError
from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.store.ledger import Ledger, NewAlert, ledger_path
from oiradar.timeutil import day_start_ms, utc_date

START = 1_704_067_200_000  # 2024-01-01 00:00 UTC
DAYS = 60  # to 2024-02-29 (the last complete day)
LAST_DAY = date(2024, 2, 29)
SYMBOL = "KSM/USDT:USDT"
KSM = SeriesKey(exchange="sim", symbol=SYMBOL, timeframe=Timeframe.H4)
KSM_B = SeriesKey(exchange="simb", symbol=SYMBOL, timeframe=Timeframe.H4)
NOT_STORED = SeriesKey(exchange="nope", symbol=SYMBOL, timeframe=Timeframe.H4)
H4 = Timeframe.H4.ms


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two venues of a KSM-like market, 60 days of 1h bars (the 4h series are built from them)."""
    home = tmp_path_factory.mktemp("brief-home")
    s = Session(Settings(), home)
    for exchange, seed in (("sim", 7), ("simb", 8)):
        simulate_market(s, SimOptions("ksm", DAYS, seed, exchange, None, Timeframe.H1, START))
    return home


def session(home: Path, **watch: object) -> Session:
    return Session(Settings(watch=WatchSettings(**watch)), home)


def expected(home: Path, key: SeriesKey, last_ts: int) -> dict[str, float]:
    """The SPEC section 2 values at bar ``last_ts``, from ``catalog.read_bars`` alone."""
    bars = session(home).catalog.read_bars(key).filter(pl.col("ts") <= last_ts)
    assert bars["ts"][-1] == last_ts and (bars["ts"].diff().drop_nulls() == H4).all()
    oi = bars["oi"].to_numpy()
    window = oi[-180:]  # 30 days of 4h bars
    turnover = bars["quote_volume"].to_numpy()[-6:].sum()  # 24 hours
    return {
        "oi": oi[-1],
        "oi_usd": bars["oi_value"][-1],
        "oi_chg_7d": oi[-1] / oi[-1 - 42] - 1,
        "oi_z_30d": (oi[-1] - window.mean()) / window.std(ddof=1),
        "oi_vs_ma_30d": oi[-1] / window.mean() - 1,
        "oi_vol_ratio": bars["oi_value"][-1] / turnover,
        "funding_rate": bars["funding_rate"].drop_nulls()[-1],
    }


@pytest.fixture(scope="module")
def events(home: Path) -> pl.DataFrame:
    """What ``oiradar scan -t 4h`` finds in the module's catalog."""
    return scan_events(session(home), ScanOptions(timeframe=Timeframe.H4)).events


def scanned(events: pl.DataFrame, key: SeriesKey, first_ts: int, last_ts: int) -> set[str]:
    """``signal side`` of the scan's events of ``key`` with first_ts <= ts <= last_ts."""
    mine = events.filter(
        pl.col("ts").is_between(first_ts, last_ts),
        pl.col("symbol") == key.symbol,
        (pl.col("exchange") == key.exchange) | (pl.col("signal") == "margin_divergence"),
    )
    return {f"{s} {side}" for s, side in zip(mine["signal"], mine["side"], strict=True)}


def listed(text: str | None) -> set[str]:
    return set() if not text else set(text.split(", "))


def test_the_brief_reads_the_last_bar_as_the_spec_defines_it(
    home: Path, events: pl.DataFrame
) -> None:
    report = brief(session(home), BriefOptions((KSM, KSM_B)))
    rows = report.rows
    assert rows["exchange"].to_list() == ["sim", "simb"] and rows["note"].null_count() == 2
    last_bar = day_start_ms(LAST_DAY) + DAY_MS - H4
    for key, row in zip((KSM, KSM_B), rows.iter_rows(named=True), strict=True):
        assert row["bar_ts"] == last_bar
        for column, value in expected(home, key, last_bar).items():
            assert row[column] == pytest.approx(value, rel=1e-9), column
        assert row["oi_vol_vs_ma"] == pytest.approx(row["oi_vol_ratio"] / _ratio_ma(home, key))
        assert row["phase"] in {"accumulation", "breakout", "distribution", "cascade", "neutral"}
        # signals: those of the scan within the last [signals] watch_lookback_bars (6) bars
        assert listed(row["signals"]) == scanned(events, key, last_bar - 5 * H4, last_bar)
        assert row["last_alert"] == NO_ALERT
    assert not ledger_path(home).exists()  # reading "none yet" created no ledger
    # the terminal's sparklines: the closes and OI of the last 30 complete bars, as stored
    for key, trail in zip((KSM, KSM_B), report.trails, strict=True):
        stored = session(home).catalog.read_bars(key).filter(pl.col("ts") <= last_bar).tail(30)
        assert trail.series == f"{key.exchange} {key.symbol} 4h"
        assert list(trail.close) == pytest.approx(stored["close"].to_list(), rel=1e-12)
        assert list(trail.oi) == pytest.approx(stored["oi"].to_list(), rel=1e-12)


def _ratio_ma(home: Path, key: SeriesKey) -> float:
    bars = session(home).catalog.read_bars(key)
    turnover = bars["quote_volume"].rolling_sum(6)
    ratio = (bars["oi_value"] / turnover).to_numpy()
    return float(np.mean(ratio[-180:]))


def test_the_brief_cuts_at_closed_by_and_lists_recent_signals(
    home: Path, events: pl.DataFrame
) -> None:
    ev = events.filter(pl.col("exchange") == "sim", pl.col("symbol") == SYMBOL).row(-1, named=True)
    cut = ev["ts"] + H4  # the event's bar has just closed
    row = brief(session(home), BriefOptions((KSM,), closed_by=cut)).rows.row(0, named=True)
    assert row["bar_ts"] == ev["ts"]
    assert f"{ev['signal']} {ev['side']}" in listed(row["signals"])
    assert listed(row["signals"]) == scanned(events, KSM, ev["ts"] - 5 * H4, ev["ts"])
    for column, value in expected(home, KSM, ev["ts"]).items():
        assert row[column] == pytest.approx(value, rel=1e-9), column


def test_a_failing_series_is_a_row_with_a_note(home: Path) -> None:
    report = brief(session(home), BriefOptions((NOT_STORED, KSM)))
    bad, good = report.rows.iter_rows(named=True)
    assert bad["exchange"] == "nope" and "nope" in bad["note"] and bad["oi"] is None
    assert good["note"] is None and good["oi"] > 0
    text = brief_text(report)
    assert text.count("\n") == 2 and "nope KSM/USDT:USDT 4h: " in text
    assert "sim KSM/USDT:USDT 4h @ 2024-02-29 20:00" in text and "last alert none yet" in text
    with pytest.raises(OiradarError, match="nope"):  # the one series asked for: an error
        brief(session(home), BriefOptions((NOT_STORED,)))


def test_the_watched_series_come_from_the_settings(home: Path) -> None:
    s = session(home, series=("sim KSM/USDT:USDT 4h",))
    assert brief(s).rows["exchange"].to_list() == ["sim"]
    with pytest.raises(InputError, match=r"no series to brief.*\[watch\] series"):
        brief(session(home))


def test_the_last_alert_comes_from_the_ledger(tmp_path: Path, home: Path) -> None:
    s = session(home)
    copy = Session(s.settings, tmp_path)  # a ledger of its own, the catalog of the module
    copy.__dict__["catalog"] = s.catalog
    bar = day_start_ms(date(2024, 2, 20)) + 8 * 3_600_000
    payload = {"signal": "trigger", "side": "short", "bar_ts": bar, "bar_time": "2024-02-20 08:00",
               "late": False}  # fmt: skip
    ledger = Ledger(ledger_path(tmp_path))
    eid = event_id("sim", SYMBOL, "4h", "trigger", "short", bar)
    ledger.commit(series_label(KSM), bar, [NewAlert(eid, series_label(KSM), bar, False, payload,
                                                   ())], bar + H4)  # fmt: skip
    ledger.close()
    rows = brief(copy, BriefOptions((KSM, KSM_B))).rows
    assert rows["last_alert"].to_list() == ["trigger short 2024-02-20 08:00", NO_ALERT]
    assert alert_line({**payload, "late": True}).endswith("(late)")


def test_the_sheet_defaults_to_the_last_complete_day(home: Path) -> None:
    report = sheet(session(home), SheetOptions(series=(KSM, KSM_B)))
    assert report.day == LAST_DAY
    assert report.rows["date"].to_list() == [LAST_DAY, LAST_DAY]
    assert report.rows["bar_ts"].to_list() == [day_start_ms(LAST_DAY) + DAY_MS - H4] * 2


def test_a_sheet_day_reads_the_bars_closed_by_its_end(home: Path, events: pl.DataFrame) -> None:
    days = sorted({utc_date(ts + H4 - 1) for ts in events["ts"]})[-12:]  # days with events
    seen: set[str] = set()
    for day in days:
        end = day_start_ms(day) + DAY_MS
        report = sheet(session(home), SheetOptions(day, (KSM, KSM_B)))
        for key, row in zip((KSM, KSM_B), report.rows.iter_rows(named=True), strict=True):
            assert row["date"] == day and row["bar_ts"] == end - H4
            for column, value in expected(home, key, end - H4).items():
                assert row[column] == pytest.approx(value, rel=1e-9), (day, column)
            # the day's events: its bars closing after 00:00 and by 24:00 (ts 00:00 .. 20:00)
            today = scanned(events, key, end - DAY_MS, end - H4)
            flags = {e for e in today if e.split()[0].endswith("divergence")}
            assert listed(row["divergences"]) == flags, day
            assert listed(row["signals"]) == today - flags, day
            seen |= {c for c in ("divergences", "signals") if row[c]}
    assert seen == {"divergences", "signals"}  # both kinds were there to compare


def test_a_day_outside_the_data_names_its_range(home: Path) -> None:
    for day in (date(2023, 12, 31), date(2024, 3, 1)):
        with pytest.raises(
            InputError, match=r"sim KSM/USDT:USDT 4h: .* 2024-01-01 \.\. 2024-02-29"
        ):
            sheet(session(home), SheetOptions(day, (KSM,)))
    with pytest.raises(InputError, match="outside the data of every series"):
        sheet(session(home), SheetOptions(date(2023, 1, 1), (KSM, KSM_B)))


def test_append_sheet_is_idempotent(tmp_path: Path, home: Path) -> None:
    s = session(home, sheet_dir=str(tmp_path / "sheets"))
    assert sheet_folder(s) == tmp_path / "sheets"
    path = append_sheet(s, (KSM, KSM_B), LAST_DAY)
    assert path == tmp_path / "sheets" / SHEET_FILE
    first = path.read_bytes()
    assert append_sheet(s, (KSM, KSM_B), LAST_DAY) == path and path.read_bytes() == first
    append_sheet(s, (KSM,), date(2024, 2, 28))
    append_sheet(s, (KSM, KSM_B), LAST_DAY)  # again, after another day: replaced, not repeated
    got = pl.read_csv(path)
    keys = got.select("date", "exchange", "timeframe").rows()
    assert keys == [("2024-02-28", "sim", "4h"), ("2024-02-29", "sim", "4h"),
                    ("2024-02-29", "simb", "4h")]  # fmt: skip
    assert got.filter(pl.col("date") == "2024-02-29").equals(pl.read_csv(first))
    assert [p.name for p in path.parent.iterdir()] == [SHEET_FILE]  # no temporary file left
    row = sheet(s, SheetOptions(LAST_DAY, (KSM,))).rows.row(0, named=True)
    assert got.row(1, named=True)["oi_z_30d"] == pytest.approx(row["oi_z_30d"])
    assert got.row(1, named=True)["bar_utc"] == "2024-02-29 20:00"


def test_the_sheet_folder_defaults_to_the_home(home: Path) -> None:
    assert sheet_folder(session(home)) == home / "sheets"
    assert sheet_folder(session(home, sheet_dir="daily")) == home / "daily"
