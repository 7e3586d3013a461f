"""Replay: a stored history played through ``watch`` on a clock the test drives produces exactly
the events that ``oiradar scan`` finds on the same history, in the same order (issue 14)."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import polars as pl
import pytest

from oiradar.app.feeds import RevealFeed
from oiradar.app.scan import ScanOptions, scan_events
from oiradar.app.session import Session
from oiradar.app.sim import SimOptions, simulate_market
from oiradar.config import load_settings
from oiradar.live.channels import JsonlChannel
from oiradar.live.watch import Watcher, WatchOptions
from oiradar.model import DAY_MS, Timeframe

TF = Timeframe.H4


def _session(home: Path, env: dict[str, str] | None = None) -> Session:
    environ = {"OIRADAR__WATCH__SETTLE_S": "0", **(env or {})}
    return Session(load_settings(environ=environ, home=home), home)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Session, object]:
    src = _session(tmp_path_factory.mktemp("source"))
    rep = simulate_market(src, SimOptions(preset="ksm", days=120, seed=11, timeframe=TF))
    return src, rep.key


def _replay(src: Session, key, home: Path, steps: list[int], start: int,
            env: dict[str, str] | None = None) -> tuple[list[dict], int]:  # fmt: skip
    """Watch ``key`` revealed from ``src`` on a driven clock; the JSONL channel's alerts."""
    session = _session(home, env)
    hist = src.catalog.read_stored(key)
    now = {"t": start}
    feed = RevealFeed(session, {key: hist}, lambda: now["t"])
    out = home / "alerts.jsonl"
    w = Watcher(session, WatchOptions((key,), console=False), feeds={key.exchange: feed},
                channels=[JsonlChannel(out)])  # fmt: skip

    async def drive() -> None:
        w.open()
        try:
            await w.step()  # first start: backfill, cursor at the last closed bar
            for dt in steps:
                now["t"] += dt
                await w.step()
        finally:
            await w.close()

    asyncio.run(drive())
    first = Watcher(session, WatchOptions((key,))).first_cursor(w.states[0].label)
    assert first is not None
    lines = out.read_text().splitlines() if out.exists() else []
    return [json.loads(x) for x in lines], first


def _ids(alerts: list[dict], first: int) -> tuple[list[str], int]:
    return [a["event_id"] for a in alerts], first


def _scan_ids(src: Session, key, after: int, until: int) -> list[str]:
    events = scan_events(src, ScanOptions(TF, (key.exchange,), (key.symbol,))).events
    events = events.filter((pl.col("ts") > after) & (pl.col("ts") + TF.ms <= until))
    return [f"{r['exchange']}|{r['symbol']}|{TF.value}|{r['signal']}|{r['side']}|"
            + _iso(r["ts"]) for r in events.iter_rows(named=True)]  # fmt: skip


def _iso(ts: int) -> str:
    from oiradar.timeutil import iso_utc

    return iso_utc(ts).replace(" ", "T") + "Z"


def test_replay_bar_by_bar_equals_scan(history, tmp_path: Path) -> None:
    src, key = history
    hist = src.catalog.read_stored(key)
    t0, t_end = int(hist["ts"][0]), int(hist["ts"][-1]) + TF.ms
    start = t0 + 40 * DAY_MS
    steps = [TF.ms] * ((t_end - start) // TF.ms)
    got, first = _ids(*_replay(src, key, tmp_path / "w", steps, start))
    want = _scan_ids(src, key, first, t_end)
    assert len(want) > 20, "the history must hold enough events to mean something"
    assert got == want


def test_replay_in_uneven_steps_equals_scan(history, tmp_path: Path) -> None:
    """Several bars at once (a slow poll, a backfill) and mid-bar clock ticks change nothing."""
    src, key = history
    hist = src.catalog.read_stored(key)
    t0, t_end = int(hist["ts"][0]), int(hist["ts"][-1]) + TF.ms
    start = t0 + 40 * DAY_MS + TF.ms // 3
    rng = random.Random(5)
    steps, t = [], start
    while t < t_end:
        dt = rng.choice([TF.ms // 2, TF.ms, 2 * TF.ms, 5 * TF.ms, 17 * TF.ms // 3])
        steps.append(dt)
        t += dt
    got, first = _ids(*_replay(src, key, tmp_path / "w", steps, start))
    assert got == _scan_ids(src, key, first, t_end)


def test_each_closed_utc_day_goes_to_the_sheet_and_the_brief_to_the_channels(
    history, tmp_path: Path
) -> None:
    """``watch`` appends every UTC day all series closed to the daily sheet once, and with
    ``[alerts] daily_brief`` sends that day's brief as one alert."""
    src, key = history
    hist = src.catalog.read_stored(key)
    start = int(hist["ts"][0]) + 40 * DAY_MS + 3 * TF.ms  # mid-day
    home = tmp_path / "w"
    # three days of 4h bars, one at a time, then the same instant again (nothing new is written)
    alerts, _ = _replay(src, key, home, [TF.ms] * 19 + [0], start,
                        env={"OIRADAR__ALERTS__DAILY_BRIEF": "true"})  # fmt: skip
    first_day = (start // DAY_MS) - 1  # the day before the first start was complete
    days = [_day(first_day + i) for i in range(4)]
    sheet = pl.read_csv(home / "sheets" / "sheet.csv")
    assert sheet["date"].to_list() == days
    briefs = [b for b in alerts if b.get("kind") == "brief"]
    assert [b["event_id"] for b in briefs] == [f"brief|{d}" for d in days]
    assert all("sim KSM/USDT:USDT 4h" in b["text"] for b in briefs)


def _day(n: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(n * 86400, UTC).date().isoformat()
