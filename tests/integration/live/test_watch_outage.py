"""Outages of ``oiradar watch`` against the local fake exchange (issue 14).

- the venue goes away for several bars and comes back: the gap is backfilled and the events of
  the bars that closed while it was away are sent, marked late; the others on time;
- the liquidation websocket drops mid-stream: it reconnects, a liquidation that the venue sends
  again on the new connection is stored once, and none of a burst or a batch is lost;
- a series that fails (an unknown symbol) does not stop the others, and status names its error.

The watch runs in-process on a clock the test drives (the fake's "now"), one bar per step.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from oiradar.app.feeds import VenueFeed
from oiradar.app.live import event_id, watch_status
from oiradar.app.scan import ScanOptions, scan_events
from oiradar.app.session import Session
from oiradar.config import load_settings
from oiradar.live.channels import JsonlChannel
from oiradar.live.watch import Watcher, WatchOptions
from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.sources import RetryReport
from oiradar.timeutil import duration_ms
from tests.fake_exchange import FakeExchange, FaultKind, FaultPlan
from tests.fake_exchange.harness import NOW, fake_env, fetch

EXCHANGE = "bybit"  # REST OI history as deep as asked (Binance's stops at 30 days)
TF = Timeframe.H4
KEY = SeriesKey(exchange=EXCHANGE, symbol="KSM/USDT:USDT", timeframe=TF)
BAD = SeriesKey(exchange=EXCHANGE, symbol="NOPE/USDT:USDT", timeframe=TF)
HISTORY = "32d"  # the first step's backfill (>= the 30-day z window)
START = NOW + 8 * DAY_MS  # the venue's clock at the watch's first step: events follow closely
SPAN = 30  # bars after START the plan looks at
LATE_EVENTS = 2  # event bars that close while the venue is away
WATCH_ENV = {"OIRADAR__WATCH__SETTLE_S": "0", "OIRADAR__WATCH__HISTORY": HISTORY}


@dataclass(frozen=True)
class Plan:
    """Where the fake market's events are, and the outage placed over some of them."""

    events: pl.DataFrame  # scan events of the whole range (ts, exchange, symbol, signal, side)
    closes: tuple[int, ...]  # when the event bars after START close
    down_at: int  # the venue's clock when it goes away ...
    up_at: int  # ... and when it is back
    end: int  # the clock at the last step

    def ids(self, after: int, until: int) -> list[str]:
        """Event ids of the bars in (after, until], in scan order."""
        rows = self.events.filter((pl.col("ts") > after) & (pl.col("ts") <= until))
        return [_event_id(r) for r in rows.iter_rows(named=True)]

    def closed_while_down(self, bar_ts: int) -> bool:
        return self.down_at <= bar_ts + TF.ms < self.up_at


def _event_id(row: dict[str, Any]) -> str:
    return event_id(row["exchange"], row["symbol"], TF.value, row["signal"], row["side"], row["ts"])


def _session(home: Path, fake: FakeExchange, **extra: str) -> Session:
    env = fake_env(fake, **WATCH_ENV, **extra)
    return Session(load_settings(environ=env, home=home), home)


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """The events a scan finds on the range the watch will see (fetched without an outage), and
    an outage that starts after the first event was alerted on time, swallows the next
    ``LATE_EVENTS`` event bars and ends as the one after them closes (sent on time)."""
    home = tmp_path_factory.mktemp("scan")
    end = START + SPAN * TF.ms
    with FakeExchange(now_ms=end) as fake:
        since = START - duration_ms(HISTORY)
        result, _ = fetch(fake, home, exchange=EXCHANGE, timeframe=TF, since=since, until=end)
        assert result.ok, result.failed
        session = _session(home, fake)
    events = scan_events(session, ScanOptions(TF, (EXCHANGE,), (KEY.symbol,))).events
    closes = sorted({int(t) + TF.ms for t in events["ts"] if START < int(t) + TF.ms <= end})
    assert len(closes) >= LATE_EVENTS + 2, f"the fake market has too few events: {closes}"
    down_at = closes[0] + TF.ms
    up_at = closes[1 + LATE_EVENTS]
    return Plan(events.select("ts", "exchange", "symbol", "signal", "side"), tuple(closes),
                down_at, up_at, up_at + 3 * TF.ms)  # fmt: skip


class Venue:
    """The fake exchange on a fixed port, and its clock, which runs on while it is away."""

    def __init__(self, now_ms: int, faults: FaultPlan | None = None) -> None:
        self.now_ms = now_ms
        self.fake: FakeExchange | None = FakeExchange(now_ms=now_ms, faults=faults).start()
        self.port = int(self.fake.url.rsplit(":", 1)[1])

    def clock(self) -> int:
        return self.now_ms

    def tick(self) -> None:
        self.now_ms += TF.ms
        if self.fake is not None:
            self.fake.now_ms = self.now_ms

    def down(self) -> None:
        assert self.fake is not None
        self.fake.stop()
        self.fake = None

    def up(self) -> None:
        self.fake = FakeExchange(now_ms=self.now_ms, port=self.port).start()

    def close(self) -> None:
        if self.fake is not None:
            self.down()


def _watcher(session: Session, venue: Venue, keys: tuple[SeriesKey, ...], out: Path) -> Watcher:
    feed = VenueFeed(session, EXCHANGE, HISTORY, RetryReport(), clock=venue.clock)
    return Watcher(session, WatchOptions(keys, console=False), feeds={EXCHANGE: feed},
                   channels=[JsonlChannel(out)])  # fmt: skip


def _received(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []


def test_an_outage_is_backfilled_and_its_alerts_sent_late(plan: Plan, tmp_path: Path) -> None:
    venue = Venue(START)
    assert venue.fake is not None
    session = _session(tmp_path / "home", venue.fake)
    out = tmp_path / "alerts.jsonl"
    w = _watcher(session, venue, (KEY,), out)
    label = w.states[0].label
    down_steps: list[dict[str, Any]] = []
    first: list[int | None] = []

    async def drive() -> None:
        w.open()
        try:
            await w.step()  # first start: the history is backfilled, alerts start after it
            first.append(w.first_cursor(label))
            while venue.now_ms < plan.end:
                venue.tick()
                if venue.now_ms == plan.down_at:
                    venue.down()
                elif venue.now_ms == plan.up_at:
                    venue.up()
                await w.step()
                if venue.fake is None:  # what `oiradar status` shows meanwhile
                    status = watch_status(session, now_ms=venue.now_ms)
                    assert status is not None
                    down_steps.append(status.series[0])
        finally:
            await w.close()
            venue.close()

    asyncio.run(drive())

    # while the venue was away, every step recorded the series' error and the cursor stood still
    n_down = (plan.up_at - plan.down_at) // TF.ms
    assert len(down_steps) == n_down >= 2
    held = plan.down_at - 2 * TF.ms  # the last bar closed before it went away
    for i, row in enumerate(down_steps, start=1):
        assert row["error"] and "cannot connect" in row["error"], row
        assert (row["errors"], row["cursor"], row["last_bar_ts"]) == (i, held, held)
        assert row["lag_ms"] == i * TF.ms  # status: the series falls behind bar by bar
    status = watch_status(session, now_ms=plan.end)
    assert status is not None
    after = status.series[0]
    assert (after["error"], after["cursor"], after["lag_ms"]) == (None, plan.end - TF.ms, 0)

    # the gap is backfilled: every bar from the history's start to the last closed one, once
    ts = session.catalog.read_stored(KEY)["ts"]
    assert ts.is_sorted() and ts.diff().drop_nulls().unique().to_list() == [TF.ms]
    assert int(ts[0]) == START - duration_ms(HISTORY) and int(ts[-1]) == plan.end - TF.ms

    # the alerts are the scan's events after the first cursor, in order; late iff the venue was
    # away when their bar closed
    assert first == [START - TF.ms] and down_steps[0]["series"] == label
    got = _received(out)
    assert [a["event_id"] for a in got] == plan.ids(START - TF.ms, plan.end - TF.ms)
    lateness = [(a["event_id"], a["late"]) for a in got]
    assert lateness == [(a["event_id"], plan.closed_while_down(a["bar_ts"])) for a in got]
    assert sum(late for _, late in lateness) >= LATE_EVENTS
    assert any(a["bar_ts"] + TF.ms < plan.down_at for a in got)  # on time before the outage
    assert any(a["bar_ts"] + TF.ms >= plan.up_at for a in got)  # and after it


def test_a_series_that_fails_does_not_stop_the_others(plan: Plan, tmp_path: Path) -> None:
    venue = Venue(START)
    assert venue.fake is not None
    session = _session(tmp_path / "home", venue.fake)
    out = tmp_path / "alerts.jsonl"
    w = _watcher(session, venue, (BAD, KEY), out)  # the bad one first: it fails before each pass
    bad, good = (st.label for st in w.states)
    end = plan.closes[1]  # past the first two event bars, on time

    async def drive() -> None:
        w.open()
        try:
            await w.step()
            while venue.now_ms < end:
                venue.tick()
                await w.step()
        finally:
            await w.close()
            venue.close()

    asyncio.run(drive())
    got = _received(out)
    want = plan.ids(START - TF.ms, end - TF.ms)
    assert len(want) >= 2 and [a["event_id"] for a in got] == want
    assert not any(a["late"] for a in got)
    status = watch_status(session, now_ms=end)
    assert status is not None
    rows = {r["series"]: r for r in status.series}
    assert rows[bad]["error"] and "NOPE" in rows[bad]["error"], rows[bad]
    assert rows[bad]["errors"] == (end - START) // TF.ms + 1  # every pass
    assert rows[bad]["cursor"] is None and rows[bad]["last_bar_ts"] is None
    assert rows[good]["error"] is None and rows[good]["cursor"] == end - TF.ms
    assert rows[good]["lag_ms"] == 0


def _force_order(t: int, qty: float) -> dict[str, Any]:
    """Binance's ``forceOrder`` stream message (a SELL order closes a long)."""
    return {"e": "forceOrder", "E": t + 23, "o": {
        "s": "KSMUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": str(qty), "p": "30.10",
        "ap": "30.05", "X": "FILLED", "l": str(qty), "z": str(qty), "T": t}}  # fmt: skip


def _all_liquidation(*batch: tuple[int, float]) -> dict[str, Any]:
    """Bybit's ``allLiquidation`` message: a batch of the last 500 ms."""
    data = [{"T": t, "s": "KSMUSDT", "S": "Buy", "v": str(q), "p": "29.95"} for t, q in batch]
    return {"topic": "allLiquidation.KSMUSDT", "type": "snapshot", "ts": batch[-1][0] + 50,
            "data": data}  # fmt: skip


LIQS = ((1706745600100, 1.5), (1706745601100, 2.5), (1706745602100, 3.5))  # (ts, qty)
STREAMS = {  # each venue's messages: one liquidation each, or a batch in one message
    "binanceusdm": [_force_order(t, q) for t, q in LIQS],
    "bybit": [_all_liquidation(LIQS[0]), _all_liquidation(*LIQS[1:])],
}


@pytest.mark.parametrize("exchange", list(STREAMS))
def test_a_dropped_websocket_keeps_each_liquidation_once(tmp_path: Path, exchange: str) -> None:
    """The fake sends its messages on each connection and drops the first connection after the
    first message: that one arrives twice, the others once; each liquidation is stored once."""
    faults = FaultPlan().add(FaultKind.WS_DROP, f"/ws/{exchange}")
    venue = Venue(START, faults)
    fake = venue.fake
    assert fake is not None
    fake.ws_messages += [{"venue": exchange, "message": m} for m in STREAMS[exchange]]
    session = _session(tmp_path / "home", fake, OIRADAR__WATCH__LIQUIDATIONS="true")
    key = SeriesKey(exchange=exchange, symbol=KEY.symbol, timeframe=TF)
    feed = VenueFeed(session, exchange, HISTORY, RetryReport(), clock=venue.clock)
    w = Watcher(session, WatchOptions((key,), console=False), feeds={exchange: feed},
                channels=[])  # fmt: skip

    def stored() -> pl.DataFrame:
        return session.catalog.read_liquidations(exchange, KEY.symbol)

    def connections() -> int:
        return len([r for r in fake.requests if r.startswith("/ws/")])

    async def drive() -> None:
        w.open()
        try:
            await w.start_streams()
            for _ in range(400):  # the first arrives, the socket drops, the client reconnects
                if connections() >= 2 and stored().height >= len(LIQS):
                    break
                await asyncio.sleep(0.025)
            await asyncio.sleep(0.3)  # room for a repeat to be stored, were it not dropped
        finally:
            await w.close()
            venue.close()

    asyncio.run(drive())
    assert faults.faults[0].fired and connections() == 2
    got = stored().select("ts", "qty").sort("ts").rows()
    assert got == [(t, pytest.approx(q)) for t, q in LIQS]
