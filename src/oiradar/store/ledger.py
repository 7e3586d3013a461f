"""The alert ledger: SQLite in WAL mode under ``<home>/live/ledger.sqlite``.

``oiradar watch`` writes an alert here, with one delivery row per channel it is routed to, in the
same transaction that advances the series' cursor (the last bar evaluated). A delivery is marked
``sent`` only after its channel acknowledged it. So after a crash at any point:

- an event whose bar was evaluated is in the ledger (the cursor never passes an unwritten event);
- a delivery not marked sent is sent again on restart; one marked sent never is.

The only window for a repeat is between a channel's acknowledgement and the ``sent`` commit
(microseconds); every alert carries its ``event_id`` so that a receiver can drop a repeat.

Tables:

- ``alerts``: one row per event (``event_id`` primary key), its JSON payload, bar time, lateness.
- ``deliveries``: (event_id, channel) -> status ``pending`` | ``sent`` | ``failed``, attempts,
  the next try (backoff), the last error.
- ``cursors``: per series, the last evaluated bar.
- ``series_status``: per series, the last bar seen, lag, last error (``oiradar status``).
- ``channels``: per channel, the last success and the last error (an unreachable channel).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oiradar.errors import StoreError
from oiradar.store.sqlite import WalDatabase, connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    event_id TEXT PRIMARY KEY,
    series TEXT NOT NULL,
    bar_ts INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    late INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_series ON alerts(series, bar_ts);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL REFERENCES alerts(event_id),
    channel TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_ms INTEGER,
    PRIMARY KEY (event_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(channel, status, next_ms);
CREATE TABLE IF NOT EXISTS cursors (
    series TEXT PRIMARY KEY,
    bar_ts INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS series_status (
    series TEXT PRIMARY KEY,
    last_bar_ts INTEGER,
    checked_ms INTEGER,
    error TEXT,
    error_ms INTEGER,
    errors INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS channels (
    channel TEXT PRIMARY KEY,
    last_ok_ms INTEGER,
    last_error TEXT,
    last_error_ms INTEGER,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to record: its id, series, bar time, lateness, payload and routed channels."""

    event_id: str
    series: str
    bar_ts: int
    late: bool
    payload: dict[str, Any]
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    channel: str
    attempts: int
    payload: dict[str, Any]


def ledger_path(home: Path) -> Path:
    return home / "live" / "ledger.sqlite"


def clear_live(home: Path) -> None:
    """Forget every live state of ``home`` (ledger, simulated clock, paper accounts): the
    ``<home>/live`` folder. ``oiradar demo --fresh`` calls it with the catalog's reset."""
    folder = home / "live"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise StoreError(f"{folder} is not a folder oiradar made; remove it yourself")
    if folder.exists():
        shutil.rmtree(folder)


class Ledger(WalDatabase):
    """Alerts, deliveries, cursors and health of ``oiradar watch``; thread-safe."""

    schema = SCHEMA

    @classmethod
    def open(cls, home: Path) -> Ledger:
        return cls(ledger_path(home))

    # ------------------------------------------------------------------ cursors and alerts
    def cursor(self, series: str) -> int | None:
        """The last bar of ``series`` evaluated (None: never)."""
        rows = self._query("SELECT bar_ts FROM cursors WHERE series = ?", (series,))
        return int(rows[0][0]) if rows else None

    def commit(self, series: str, bar_ts: int, alerts: Sequence[NewAlert], now_ms: int) -> list[str]:
        """Record ``alerts`` (an event already recorded is kept as it was) with a pending delivery
        per routed channel, and move the cursor of ``series`` to ``bar_ts``: one transaction.
        Returns the ids of the alerts that were new."""
        new = []
        with self._tx() as con:
            for a in alerts:
                cur = con.execute(
                    "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?)",
                    (a.event_id, a.series, a.bar_ts, now_ms, int(a.late), json.dumps(a.payload)),
                )
                if cur.rowcount:
                    new.append(a.event_id)
                    con.executemany(
                        "INSERT OR IGNORE INTO deliveries(event_id, channel) VALUES (?, ?)",
                        [(a.event_id, ch) for ch in a.channels],
                    )
            con.execute(
                "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT(series) DO UPDATE SET "
                "bar_ts = MAX(bar_ts, excluded.bar_ts), updated_ms = excluded.updated_ms",
                (series, bar_ts, now_ms),
            )
        return new

    def alert(self, event_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT payload FROM alerts WHERE event_id = ?", (event_id,))
        return json.loads(rows[0][0]) if rows else None

    def alerts(self, series: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Recorded alerts, newest bar first (of one series when given)."""
        sql = "SELECT payload FROM alerts"
        args: tuple[Any, ...] = ()
        if series is not None:
            sql, args = sql + " WHERE series = ?", (series,)
        rows = self._query(sql + " ORDER BY bar_ts DESC, event_id DESC LIMIT ?", (*args, limit))
        return [json.loads(r[0]) for r in rows]

    def alert_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM alerts")[0][0])

    def last_alert(self, series: str) -> dict[str, Any] | None:
        got = self.alerts(series, limit=1)
        return got[0] if got else None

    # ------------------------------------------------------------------ deliveries
    def due(self, channel: str, now_ms: int, limit: int = 100) -> list[Delivery]:
        """Pending deliveries of ``channel`` whose next try is due, oldest bar first."""
        rows = self._query(
            "SELECT d.event_id, d.channel, d.attempts, a.payload FROM deliveries d "
            "JOIN alerts a USING (event_id) WHERE d.channel = ? AND d.status = 'pending' "
            "AND d.next_ms <= ? ORDER BY a.bar_ts, a.event_id LIMIT ?",
            (channel, now_ms, limit),
        )
        return [Delivery(e, c, int(n), json.loads(p)) for e, c, n, p in rows]

    def next_due_ms(self, channel: str) -> int | None:
        rows = self._query(
            "SELECT MIN(next_ms) FROM deliveries WHERE channel = ? AND status = 'pending'",
            (channel,),
        )
        return None if rows[0][0] is None else int(rows[0][0])

    def pending_count(self, channel: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'"
        args: tuple[str, ...] = ()
        if channel is not None:
            sql, args = sql + " AND channel = ?", (channel,)
        return int(self._query(sql, args)[0][0])

    def sent(self, event_id: str, channel: str, now_ms: int) -> None:
        with self._tx() as con:
            con.execute(
                "UPDATE deliveries SET status = 'sent', sent_ms = ?, attempts = attempts + 1, "
                "last_error = NULL WHERE event_id = ? AND channel = ?",
                (now_ms, event_id, channel),
            )
            con.execute(
                "INSERT INTO channels(channel, last_ok_ms) VALUES (?, ?) ON CONFLICT(channel) "
                "DO UPDATE SET last_ok_ms = excluded.last_ok_ms, failures = 0",
                (channel, now_ms),
            )

    def failed(self, event_id: str, channel: str, error: str, now_ms: int, *,
               retry_at_ms: int | None) -> None:  # fmt: skip
        """A failed attempt: retried at ``retry_at_ms``, or given up (``failed``) when None."""
        status = "pending" if retry_at_ms is not None else "failed"
        with self._tx() as con:
            con.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, next_ms = ?, "
                "last_error = ? WHERE event_id = ? AND channel = ?",
                (status, retry_at_ms or now_ms, error[:500], event_id, channel),
            )
            con.execute(
                "INSERT INTO channels(channel, last_error, last_error_ms, failures) "
                "VALUES (?, ?, ?, 1) ON CONFLICT(channel) DO UPDATE SET "
                "last_error = excluded.last_error, last_error_ms = excluded.last_error_ms, "
                "failures = failures + 1",
                (channel, error[:500], now_ms),
            )

    def delay(self, event_id: str, channel: str, until_ms: int) -> None:
        """Hold a pending delivery until ``until_ms`` (quiet hours, the minimum interval)."""
        with self._tx() as con:
            con.execute(
                "UPDATE deliveries SET next_ms = MAX(next_ms, ?) WHERE event_id = ? AND channel = ? "
                "AND status = 'pending'",
                (until_ms, event_id, channel),
            )

    def last_sent_ms(self, series: str, channel: str) -> int | None:
        rows = self._query(
            "SELECT MAX(d.sent_ms) FROM deliveries d JOIN alerts a USING (event_id) "
            "WHERE a.series = ? AND d.channel = ? AND d.status = 'sent'",
            (series, channel),
        )
        return None if rows[0][0] is None else int(rows[0][0])

    def deliveries(self, event_id: str) -> dict[str, str]:
        rows = self._query(
            "SELECT channel, status FROM deliveries WHERE event_id = ?", (event_id,)
        )
        return dict(rows)

    # ------------------------------------------------------------------ health
    def series_checked(self, series: str, last_bar_ts: int | None, now_ms: int) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT INTO series_status(series, last_bar_ts, checked_ms, errors) "
                "VALUES (?, ?, ?, 0) ON CONFLICT(series) DO UPDATE SET "
                "last_bar_ts = COALESCE(excluded.last_bar_ts, last_bar_ts), "
                "checked_ms = excluded.checked_ms, errors = 0, error = NULL",
                (series, last_bar_ts, now_ms),
            )

    def series_failed(self, series: str, error: str, now_ms: int) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT INTO series_status(series, error, error_ms, errors) VALUES (?, ?, ?, 1) "
                "ON CONFLICT(series) DO UPDATE SET error = excluded.error, "
                "error_ms = excluded.error_ms, errors = errors + 1",
                (series, error[:500], now_ms),
            )

    def series_rows(self) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT s.series, s.last_bar_ts, s.checked_ms, s.error, s.error_ms, s.errors, "
            "c.bar_ts FROM series_status s LEFT JOIN cursors c USING (series) ORDER BY s.series"
        )
        keys = ("series", "last_bar_ts", "checked_ms", "error", "error_ms", "errors", "cursor")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def channel_rows(self) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT c.channel, c.last_ok_ms, c.last_error, c.last_error_ms, c.failures, "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.channel = c.channel "
            " AND d.status = 'pending'), "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.channel = c.channel "
            " AND d.status = 'failed') FROM channels c ORDER BY c.channel"
        )
        keys = ("channel", "last_ok_ms", "last_error", "last_error_ms", "failures", "pending",
                "failed")  # fmt: skip
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def get(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def put(self, key: str, value: str) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT INTO kv VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


__all__ = ["Delivery", "Ledger", "NewAlert", "clear_live", "connect", "ledger_path"]
