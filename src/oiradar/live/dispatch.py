"""The alert dispatcher: the ledger's pending deliveries, sent by one worker thread per channel.

``oiradar watch`` commits each alert with a pending delivery per routed channel
(:meth:`~oiradar.app.live.Ledger.commit`), then calls :meth:`Dispatcher.notify`. Each channel's
worker takes its due deliveries, oldest bar first, and for each:

1. holds it, if the channel is ``quiet`` and now is inside ``[alerts] quiet_hours`` (UTC), until
   the quiet hours end;
2. holds it, if its series' last alert on this channel was sent less than ``min_interval`` ago,
   until that interval has passed (held, never dropped: no alert is lost);
3. else sends it. Success marks it ``sent``; only then, so a restart resends exactly what no
   channel acknowledged. A failure is retried after ``backoff_base * 2**attempts`` seconds (at
   most ``backoff_max``); after ``retries`` retries (``retries + 1`` tries) it is given up:
   ``failed`` in the ledger, the channel's error in ``oiradar status``.

A slow or failing channel holds up only its own worker. ``on_event`` hears failures (from the
workers' threads, so it must be thread-safe)::

    channel tgram://… failed (Failed to send Telegram notification: Bad Gateway, error=502.), retry in 4s
    channel json://10.0.0.5:8080 unreachable: gave up on event binanceusdm|KSM/USDT:USDT|4h|entry|short|2024-03-01T08:00Z after 9 tries
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from oiradar.app.live import Delivery, Ledger
from oiradar.config import AlertSettings
from oiradar.live.channels import Channel, ChannelError
from oiradar.model import DAY_MS, MINUTE_MS, now_ms
from oiradar.timeutil import duration_ms

Clock = Callable[[], int]
POLL_S = 1.0  # a worker looks at the ledger at least this often (another writer, a moved clock)


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """``"22:00-07:00"`` -> (start, end) in minutes of the UTC day; None when empty or empty-length."""
    if not text:
        return None
    start, end = (int(h) * 60 + int(m) for h, m in (t.split(":") for t in text.split("-")))
    return None if start == end else (start, end)


def quiet_until(quiet: tuple[int, int] | None, now: int) -> int | None:
    """When the quiet hours around ``now`` end (epoch ms), or None when ``now`` is outside them."""
    if quiet is None:
        return None
    start, end = quiet
    minute = (now % DAY_MS) // MINUTE_MS
    inside = start <= minute < end if start < end else minute >= start or minute < end
    if not inside:
        return None
    until = now - now % DAY_MS + end * MINUTE_MS
    return until if until > now else until + DAY_MS


def series_of(payload: dict[str, Any]) -> str | None:
    """``"exchange symbol timeframe"``, as :func:`~oiradar.app.live.series_label` writes it."""
    try:
        return f"{payload['exchange']} {payload['symbol']} {payload['timeframe']}"
    except KeyError:
        return None


class Dispatcher:
    """Sends the ledger's pending deliveries to ``channels``, one worker thread per channel.

    ``clock`` gives epoch ms (tests drive it); ``poll_s`` bounds how long a worker sleeps without
    a :meth:`notify`. Use as a context manager, or :meth:`start` and :meth:`stop`.
    """

    def __init__(self, ledger: Ledger, channels: Sequence[Channel], settings: AlertSettings,
                 clock: Clock = now_ms, on_event: Callable[[str], None] | None = None, *,
                 poll_s: float = POLL_S) -> None:  # fmt: skip
        names = [ch.name for ch in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique: {names}")
        self._ledger = ledger
        self._channels = list(channels)
        self._settings = settings
        self._clock = clock
        self._on_event = on_event or (lambda _msg: None)
        self._poll_s = poll_s
        self._quiet = parse_quiet_hours(settings.quiet_hours)
        self._min_interval = duration_ms(settings.min_interval)
        self._wake = {ch.name: threading.Event() for ch in self._channels}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        if self._threads:
            raise RuntimeError("the dispatcher is already started")
        self._stopping.clear()
        for ch in self._channels:
            # Daemon: a send stuck past stop() must not keep the process alive; its delivery is
            # still pending in the ledger and is sent again at the next start.
            t = threading.Thread(target=self._run, args=(ch,), name=f"alerts {ch.name}",
                                 daemon=True)  # fmt: skip
            self._threads.append(t)
            t.start()

    def notify(self) -> None:
        """New deliveries were committed (or the clock moved): wake every worker."""
        for wake in self._wake.values():
            wake.set()

    def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is due now on any channel (deliveries in backoff or held by quiet
        hours or the minimum interval are not due); False if still due after ``timeout_s``."""
        self.notify()
        deadline = time.monotonic() + timeout_s
        while True:
            now = self._clock()
            if not any(self._ledger.due(ch.name, now, limit=1) for ch in self._channels):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop the workers after their current send; False if one is still sending."""
        self._stopping.set()
        self.notify()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        return not alive

    def __enter__(self) -> Dispatcher:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    # ------------------------------------------------------------------ workers
    def _run(self, ch: Channel) -> None:
        wake = self._wake[ch.name]
        while not self._stopping.is_set():
            wake.clear()  # before reading the ledger: a notify() from now on is not lost
            try:
                for d in self._ledger.due(ch.name, self._clock()):
                    if self._stopping.is_set():
                        return
                    self._deliver(ch, d)
                sleep = self._sleep_s(ch)
            except Exception as exc:  # the ledger failed (a locked or full disk): retry, loudly
                self._on_event(f"channel {ch.name}: dispatch error ({type(exc).__name__}: {exc})")
                sleep = self._poll_s
            wake.wait(sleep)

    def _sleep_s(self, ch: Channel) -> float:
        nxt = self._ledger.next_due_ms(ch.name)
        if nxt is None:
            return self._poll_s
        return min(self._poll_s, max(0.0, (nxt - self._clock()) / 1000))

    def _deliver(self, ch: Channel, d: Delivery) -> None:
        hold = self._hold_until(ch, d, self._clock())
        if hold is not None:
            self._ledger.delay(d.event_id, ch.name, hold)
            return
        try:
            ch.send(d.payload)
        except ChannelError as exc:
            self._failed(ch, d, str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug in a channel must not end its worker
            self._failed(ch, d, f"{type(exc).__name__}: {exc}")
        else:
            self._ledger.sent(d.event_id, ch.name, self._clock())

    def _hold_until(self, ch: Channel, d: Delivery, now: int) -> int | None:
        """Until when ``d`` waits (quiet hours, the minimum interval), or None: send it now."""
        if ch.quiet and (until := quiet_until(self._quiet, now)) is not None:
            return until
        series = series_of(d.payload)
        if self._min_interval <= 0 or series is None:
            return None
        last = self._ledger.last_sent_ms(series, ch.name)
        if last is not None and now - last < self._min_interval:
            return last + self._min_interval
        return None

    def _failed(self, ch: Channel, d: Delivery, reason: str) -> None:
        now = self._clock()
        s = self._settings
        tries = d.attempts + 1
        if tries > s.retries:
            self._ledger.failed(d.event_id, ch.name, reason, now, retry_at_ms=None)
            self._on_event(f"channel {ch.name} unreachable: gave up on event {d.event_id} "
                           f"after {tries} tries ({reason[:200]})")  # fmt: skip
            return
        wait_s = min(s.backoff_max, s.backoff_base * 2.0 ** min(d.attempts, 60))
        self._ledger.failed(d.event_id, ch.name, reason, now,
                            retry_at_ms=now + round(wait_s * 1000))  # fmt: skip
        self._on_event(f"channel {ch.name} failed ({reason[:200]}), retry in {wait_s:g}s")


__all__ = ["POLL_S", "Dispatcher", "parse_quiet_hours", "quiet_until", "series_of"]
