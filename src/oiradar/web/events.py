"""New bars as server-sent events: one thread polls the series' versions, each page listens.

:class:`BarWatch` asks the server's :class:`~oiradar.app.dashboard.Dashboard` for each series'
last stored bar every ``poll_s`` seconds (one ``stat`` per series; the ``ts`` column is read only
when a series was written) and numbers each advance. When one moved, it brings the cached watchlist
up to date, so a page that refetches gets it at once. The thread starts with the server (or the
first listener) and stops with it. A listener (:func:`event_stream`) gets
``event: hello`` with every version, then one ``event: bar`` per series whose last stored bar
moved, with its ``series``, ``ts`` and ``time``; a comment every :data:`KEEPALIVE_S` seconds keeps
proxies from closing the stream. A page then fetches what it draws again: no reload.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from oiradar.app.dashboard import Dashboard
from oiradar.app.session import Session
from oiradar.errors import OiradarError
from oiradar.timeutil import iso_utc

POLL_S = 1.0
KEEPALIVE_S = 15.0
CHECK_S = 0.25  # how often a listener looks for new events
FIRST_POLL_S = 10.0  # a new listener waits this long at most for the first versions
KEPT = 1_000  # the last events kept for listeners that are behind


class BarWatch:
    """The last stored bar of each series, polled in a thread; each advance is numbered."""

    def __init__(
        self, open_session: Callable[[], Session], poll_s: float = POLL_S, board: Dashboard | None = None
    ) -> None:
        self._open, self.poll_s = open_session, poll_s
        self.board = board or Dashboard()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()  # set after the first poll
        self._thread: threading.Thread | None = None
        self.versions: dict[str, int] = {}
        self.events: deque[tuple[int, str, int]] = deque(maxlen=KEPT)  # (seq, series, ts)
        self.seq = 0
        self.error: str | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="oiradar-bars", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the polls and every event stream (safe in a signal handler: it only sets a flag)."""
        self._stop.set()

    def close(self) -> None:
        self.stop()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> tuple[int, dict[str, int]]:
        with self._lock:
            return self.seq, dict(self.versions)

    def since(self, seq: int) -> list[tuple[int, str, int]]:
        with self._lock:
            return [e for e in self.events if e[0] > seq]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                session = self._open()
                moved = self._update(self.board.versions(session))
                if moved or not self.ready.is_set():  # the watchlist ready before a page asks
                    self.board.watchlist(session)
                self.error = None
            except (OiradarError, OSError) as exc:  # a partition replaced while read: next poll
                self.error = str(exc)
            self.ready.set()
            self._stop.wait(self.poll_s)

    def _update(self, versions: dict[str, int]) -> bool:
        """Number each series' advance; True when one moved."""
        moved = False
        with self._lock:
            for series, ts in versions.items():
                if ts > self.versions.get(series, -1):
                    if series in self.versions:
                        self.seq += 1
                        self.events.append((self.seq, series, ts))
                        moved = True
                    self.versions[series] = ts
        return moved


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def bar_data(series: str, ts: int) -> dict[str, Any]:
    return {"series": series, "ts": ts, "time": iso_utc(ts)}


async def event_stream(
    watch: BarWatch, disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """``hello`` (every version), then ``bar`` per advance, until the client leaves or the server
    stops."""
    watch.start()
    await asyncio.to_thread(watch.ready.wait, FIRST_POLL_S)
    seq, versions = watch.snapshot()
    yield sse("hello", {"versions": {s: bar_data(s, ts) for s, ts in versions.items()}})
    idle = 0.0
    while not watch.stopped and not await disconnected():
        for number, series, ts in watch.since(seq):
            seq = number
            yield sse("bar", bar_data(series, ts))
            idle = 0.0
        await asyncio.sleep(CHECK_S)
        idle += CHECK_S
        if idle >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            idle = 0.0


__all__ = ["POLL_S", "BarWatch", "bar_data", "event_stream", "sse"]
