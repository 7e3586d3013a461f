"""Alert channels end to end: Apprise ``json://`` URLs posting to real HTTP receivers on loopback.

A receiver is an ``http.server.ThreadingHTTPServer`` on 127.0.0.1 that records each request's
JSON body and when it arrived; a bad one answers 500 to its first requests, holding each response.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from oiradar.app.live import Ledger, NewAlert, alert_payload, alert_title
from oiradar.config import AlertSettings, ChannelSettings
from oiradar.live.channels import ChannelError, JsonlChannel, build_channels, route
from oiradar.live.dispatch import Dispatcher
from oiradar.model import HOUR_MS, Timeframe
from oiradar.store.ledger import ledger_path
from tests.integration.cli_helpers import run_cli

T0 = 1_709_280_000_000  # 2024-03-01 08:00 UTC


class Receiver(ThreadingHTTPServer):
    """A webhook: answers 500 (after ``hold_s``) to its first ``fail_first`` requests, then 200."""

    daemon_threads = True

    def __init__(self, fail_first: int = 0, hold_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first, self.hold_s = fail_first, hold_s
        self.lock = threading.Lock()
        self.requests = 0
        self.ok: list[tuple[float, dict[str, Any]]] = []  # (arrival, body) of the 200s
        self.refused_at: list[float] = []  # when each 500 was answered
        self.closing = threading.Event()  # ends the held responses at teardown

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server_address[1]}/hook"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that stopped waiting (the timeout test) is expected

    def messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body["message"]) for _, body in self.ok]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        arrived = time.monotonic()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        with srv.lock:
            srv.requests += 1
            fail = srv.requests <= srv.fail_first
        if fail:
            srv.closing.wait(srv.hold_s)
            with srv.lock:
                srv.refused_at.append(time.monotonic())
            self.send_error(500)
            return
        with srv.lock:
            srv.ok.append((arrived, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(**kw: Any) -> Receiver:
        srv = Receiver(**kw)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()  # fmt: skip
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.closing.set()
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "ledger.sqlite")
    yield led
    led.close()


def make_payload(i: int) -> dict[str, Any]:
    ts = T0 + i * 4 * HOUR_MS
    event = {"ts": ts, "exchange": "binanceusdm", "symbol": "KSM/USDT:USDT", "signal": "entry",
             "side": "short", "close": 31.5 + i, "oi_z_30d": 2.4, "why": "OI z 2.4 over 30d"}  # fmt: skip
    return alert_payload(event, Timeframe.parse("4h"), ts + 4 * HOUR_MS)


def commit_alerts(ledger: Ledger, channels: list[Any], n: int) -> list[dict[str, Any]]:
    payloads = [make_payload(i) for i in range(n)]
    for p in payloads:
        a = NewAlert(p["event_id"], "binanceusdm KSM/USDT:USDT 4h", p["bar_ts"], False, p,
                     route(channels, p))  # fmt: skip
        ledger.commit(a.series, a.bar_ts, [a], int(time.time() * 1000))
    return payloads


def wait_for(cond: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def fast(**kw: Any) -> AlertSettings:
    return AlertSettings(**{"retries": 8, "backoff_base": 0.05, "backoff_max": 0.2,
                            "timeout": 5.0, **kw})  # fmt: skip


def test_a_json_receiver_gets_each_alerts_fields_in_message(
    receivers: Callable[..., Receiver], ledger: Ledger
) -> None:
    hook = receivers()
    channels = build_channels(fast(channels=(ChannelSettings(url=hook.url),)), ())
    payloads = commit_alerts(ledger, channels, 3)
    with Dispatcher(ledger, channels, fast()) as d:
        assert d.drain(10)
    assert hook.messages() == payloads  # every field, in bar order
    assert [body["title"] for _, body in hook.ok] == [alert_title(p) for p in payloads]
    assert channels[0].name == f"json://127.0.0.1:{hook.server_address[1]}"
    assert {r["channel"]: r["last_error"] for r in ledger.channel_rows()} == {channels[0].name: None}


def test_a_failing_channel_never_delays_the_others_and_is_delivered_once_it_recovers(
    receivers: Callable[..., Receiver], ledger: Ledger
) -> None:
    n = 5
    bad = receivers(fail_first=3, hold_s=0.6)  # slow 500s, then healthy
    good = receivers()
    specs = (ChannelSettings(url=bad.url, name="bad"), ChannelSettings(url=good.url, name="good"))
    channels = build_channels(fast(channels=specs), ())
    payloads = commit_alerts(ledger, channels, n)
    events: list[str] = []
    with Dispatcher(ledger, channels, fast(), on_event=events.append) as d:
        assert wait_for(lambda: len(good.ok) == n)
        good_done = time.monotonic()
        assert wait_for(lambda: ledger.pending_count() == 0)
        d.stop()
    # every alert reached the good receiver before the bad one answered its first request
    assert bad.refused_at and good_done < bad.refused_at[0]
    assert max(t for t, _ in good.ok) < bad.refused_at[0]
    assert good.messages() == payloads
    # the bad channel was retried and got every alert once it recovered, each exactly once
    assert len(bad.refused_at) == 3
    assert sorted(m["event_id"] for m in bad.messages()) == sorted(p["event_id"] for p in payloads)
    assert min(t for t, _ in bad.ok) > bad.refused_at[0]
    assert sum("channel bad failed" in e and "error=500" in e for e in events) == 3
    assert all(ledger.deliveries(p["event_id"]) == {"bad": "sent", "good": "sent"}
               for p in payloads)  # fmt: skip
    rows = {r["channel"]: r for r in ledger.channel_rows()}
    assert rows["bad"]["failures"] == 0 and rows["bad"]["last_ok_ms"] is not None  # recovered
    assert "500" in rows["bad"]["last_error"]  # the last error stays for `oiradar status`


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_channel_is_reported_after_its_retries(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ledger = Ledger(ledger_path(home))  # where `oiradar status` reads it
    port = closed_port()
    s = fast(retries=2, channels=(ChannelSettings(url=f"json://127.0.0.1:{port}/hook"),))
    channels = [*build_channels(s, ()), JsonlChannel(tmp_path / "alerts.jsonl")]
    payloads = commit_alerts(ledger, channels, 2)
    events: list[str] = []
    with Dispatcher(ledger, channels, s, on_event=events.append):
        assert wait_for(lambda: ledger.pending_count() == 0)
    name = f"json://127.0.0.1:{port}"
    rows = {r["channel"]: r for r in ledger.channel_rows()}
    assert rows[name]["failed"] == 2 and rows[name]["pending"] == 0
    assert rows[name]["failures"] == 2 * 3  # 1 try + 2 retries, per alert
    assert rows[name]["last_ok_ms"] is None
    assert "Connection error" in rows[name]["last_error"]
    assert sum(f"channel {name} unreachable: gave up" in e and "after 3 tries" in e
               for e in events) == 2  # fmt: skip
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == payloads  # the other channel got every alert
    ledger.close()
    shown = run_cli(["status"], home)  # what the user sees
    assert shown.code == 0, shown.output
    assert any(name in line and "unreachable" in line for line in shown.stdout.splitlines()), (
        shown.stdout)
    data = json.loads(run_cli(["status", "--format", "json"], home).stdout)
    states = {c["channel"]: c["state"] for c in data["channels"]}
    assert states == {name: "unreachable", "jsonl://" + str(tmp_path / "alerts.jsonl"): "ok"}


def test_a_send_is_cut_at_the_alerts_timeout(receivers: Callable[..., Receiver]) -> None:
    slow = receivers(fail_first=1, hold_s=2.0)
    channel = build_channels(fast(timeout=0.2, channels=(ChannelSettings(url=slow.url),)), ())[0]
    with pytest.raises(ChannelError, match="Connection error"):
        channel.send(make_payload(0))
    assert slow.requests == 1 and slow.refused_at == []  # given up before the receiver answered
