"""The dispatcher over a real ledger: quiet hours, the minimum interval, restarts, giving up."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from oiradar.app.live import Ledger, NewAlert, alert_payload
from oiradar.config import AlertSettings
from oiradar.live.channels import Channel, ChannelError, route
from oiradar.live.dispatch import Dispatcher, quiet_until
from oiradar.model import HOUR_MS, MINUTE_MS, Timeframe

T0 = 1_709_280_000_000  # 2024-03-01 08:00 UTC
SERIES = "binanceusdm KSM/USDT:USDT 4h"


class Clock:
    """Epoch ms that the test moves."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Recorder(Channel):
    """An in-memory channel: records what it sends; fails while ``failing`` says so."""

    def __init__(self, name: str, *, quiet: bool = True, failing: int = 0) -> None:
        super().__init__(name, quiet=quiet)
        self.failing = failing  # this many next sends fail (-1: every send)
        self.got: list[str] = []
        self.tries = 0

    def send(self, payload: Mapping[str, Any]) -> None:
        self.tries += 1
        if self.failing:
            self.failing -= self.failing > 0
            raise ChannelError("HTTP 503 Service Unavailable")
        self.got.append(payload["event_id"])


class Blocking(Recorder):
    """A channel whose sends hang until released (a crash while sending)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, payload: Mapping[str, Any]) -> None:
        self.entered.set()
        self.release.wait(10)
        super().send(payload)


def new_alert(bar: int, channels: list[Channel], symbol: str = "KSM/USDT:USDT") -> NewAlert:
    ts = T0 + bar * 4 * HOUR_MS
    event = {"ts": ts, "exchange": "binanceusdm", "symbol": symbol, "signal": "entry",
             "side": "short", "close": 31.5, "oi_z_30d": 2.4}  # fmt: skip
    payload = alert_payload(event, Timeframe.parse("4h"), ts + 4 * HOUR_MS)
    series = f"binanceusdm {symbol} 4h"
    return NewAlert(payload["event_id"], series, ts, False, payload, route(channels, payload))


def commit(ledger: Ledger, alerts: list[NewAlert], now: int) -> list[str]:
    for a in alerts:
        ledger.commit(a.series, a.bar_ts, [a], now)
    return [a.event_id for a in alerts]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "ledger.sqlite")
    yield led
    led.close()


def settings(**kw: Any) -> AlertSettings:
    return AlertSettings(**{"retries": 3, "backoff_base": 0.0, "backoff_max": 0.0, **kw})


def test_quiet_hours_end_computed_across_midnight() -> None:
    quiet = (22 * 60, 7 * 60)
    day = T0 - 8 * HOUR_MS  # 2024-03-01 00:00
    assert quiet_until(quiet, day + 23 * HOUR_MS) == day + 31 * HOUR_MS
    assert quiet_until(quiet, day + 3 * HOUR_MS) == day + 7 * HOUR_MS
    assert quiet_until(quiet, day + 7 * HOUR_MS) is None
    assert quiet_until((9 * 60, 17 * 60), day + 12 * HOUR_MS) == day + 17 * HOUR_MS
    assert quiet_until(None, day) is None


def test_quiet_hours_hold_a_quiet_channel_then_release_it(ledger: Ledger) -> None:
    night = T0 + 15 * HOUR_MS  # 23:00 UTC
    clock = Clock(night)
    quiet, loud = Recorder("quiet"), Recorder("loud", quiet=False)
    ids = commit(ledger, [new_alert(0, [quiet, loud])], night)
    with Dispatcher(ledger, [quiet, loud], settings(quiet_hours="22:00-07:00"), clock,
                    poll_s=0.02) as d:  # fmt: skip
        assert d.drain(5)
        assert loud.got == ids and quiet.got == []
        assert ledger.pending_count("quiet") == 1  # held, not dropped
        clock.now = night + 7 * HOUR_MS + MINUTE_MS  # 06:01: still quiet
        assert d.drain(5) and quiet.got == []
        clock.now = night + 8 * HOUR_MS  # 07:00: the quiet hours are over
        assert d.drain(5)
        assert quiet.got == ids
    assert ledger.deliveries(ids[0]) == {"quiet": "sent", "loud": "sent"}


def test_min_interval_delays_the_next_alert_of_a_series_never_drops_it(ledger: Ledger) -> None:
    clock = Clock(T0)
    ch = Recorder("ch")
    same = [new_alert(0, [ch]), new_alert(1, [ch]), new_alert(2, [ch])]
    other = new_alert(1, [ch], symbol="DOT/USDT:USDT")
    ids = commit(ledger, [*same, other], T0)
    with Dispatcher(ledger, [ch], settings(min_interval="10m"), clock, poll_s=0.02) as d:
        assert d.drain(5)
        assert ch.got == [ids[0], other.event_id]  # another series is not held
        clock.now += 10 * MINUTE_MS - 1
        assert d.drain(5) and len(ch.got) == 2
        clock.now += 1
        assert d.drain(5) and ch.got[-1] == ids[1]
        clock.now += 10 * MINUTE_MS
        assert d.drain(5)
    assert ch.got == [ids[0], other.event_id, ids[1], ids[2]]
    assert ledger.pending_count() == 0


def test_a_restart_sends_what_was_pending_and_never_resends_what_was_sent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    clock = Clock(T0)
    first = Ledger(path)
    a = Recorder("a", failing=1)  # the first send fails: that delivery waits for its retry
    alerts = [new_alert(i, [a]) for i in range(3)]
    ids = commit(first, alerts, T0)
    with Dispatcher(first, [a], settings(backoff_base=60, backoff_max=60), clock,
                    poll_s=0.02) as d:  # fmt: skip
        assert d.drain(5)
    assert a.got == ids[1:]
    more = commit(first, [new_alert(3, [a])], T0)  # committed while no dispatcher runs
    first.close()

    clock.now += 60_000  # the retry is due
    second = Ledger(path)
    b = Recorder("a")
    with Dispatcher(second, [b], settings(), clock, poll_s=0.02) as d:
        assert d.drain(5)
    assert b.got == [ids[0], *more]
    assert second.pending_count() == 0
    second.close()


def test_a_delivery_is_sent_again_after_a_crash_during_its_send(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    first = Ledger(path)
    hung = Blocking("a")
    ids = commit(first, [new_alert(0, [hung])], T0)
    d = Dispatcher(first, [hung], settings(), Clock(T0), poll_s=0.02)
    d.start()
    assert hung.entered.wait(5)
    assert not d.stop(0.05)  # "the process dies" with the send unacknowledged

    second = Ledger(path)
    assert second.deliveries(ids[0]) == {"a": "pending"}
    again = Recorder("a")
    with Dispatcher(second, [again], settings(), Clock(T0), poll_s=0.02) as d2:
        assert d2.drain(5)
    assert again.got == ids
    hung.release.set()
    assert d.stop(5)
    second.close()
    first.close()


def test_gives_up_after_retries_and_reports_the_channel(ledger: Ledger) -> None:
    clock = Clock(T0)
    down, up = Recorder("down", failing=-1), Recorder("up")
    ids = commit(ledger, [new_alert(0, [down, up]), new_alert(1, [down, up])], T0)
    events: list[str] = []
    s = settings(retries=3, backoff_base=2, backoff_max=5)
    with Dispatcher(ledger, [down, up], s, clock, events.append, poll_s=0.02) as d:
        for _ in range(3):
            assert d.drain(5)
            clock.now += 5_000
        assert d.drain(5)
    assert up.got == ids
    assert down.tries == 2 * 4  # 1 try + 3 retries per alert
    assert ledger.deliveries(ids[0]) == {"down": "failed", "up": "sent"}
    waits = [e.rsplit(" ", 1)[-1] for e in events if "retry in" in e]
    assert waits == ["2s", "2s", "4s", "4s", "5s", "5s"]  # doubling, capped by backoff_max
    gave_up = [e for e in events if "gave up" in e]
    assert gave_up == [
        f"channel down unreachable: gave up on event {i} after 4 tries "
        "(HTTP 503 Service Unavailable)" for i in ids
    ]  # fmt: skip
    row = {r["channel"]: r for r in ledger.channel_rows()}["down"]
    assert row["last_error"] == "HTTP 503 Service Unavailable"
    assert (row["failed"], row["pending"], row["failures"]) == (2, 0, 8)


def test_no_retry_before_its_backoff_has_passed(ledger: Ledger) -> None:
    clock = Clock(T0)
    ch = Recorder("ch", failing=1)
    ids = commit(ledger, [new_alert(0, [ch])], T0)
    with Dispatcher(ledger, [ch], settings(backoff_base=30, backoff_max=60), clock,
                    poll_s=0.02) as d:  # fmt: skip
        assert d.drain(5)
        assert ch.tries == 1 and ch.got == []
        clock.now += 29_999
        assert d.drain(5) and ch.tries == 1
        clock.now += 1
        assert d.drain(5)
    assert ch.got == ids and ch.tries == 2
