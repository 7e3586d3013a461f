"""The dashboard's use cases (``oiradar serve``): the watchlist, the version of each series, the
alert log, the paper accounts and the daily sheet, as JSON-ready values.

Every value is what the CLI shows for the same question: a watchlist row is the brief's row of the
series (:func:`~oiradar.app.brief.brief`) plus its last stored bar and lag; the alert log is the
ledger ``oiradar watch`` writes; the paper view is ``oiradar paper status`` with each account's last
journal entries; the sheet is ``oiradar sheet``'s rows. Values are JSON-safe: times as epoch ms
beside their ISO UTC text, and None for a missing or non-finite number.

**Which series.** The ``[watch] series`` of the settings, else every stored series at its stored
timeframe (a home filled by ``oiradar demo`` or ``fetch`` shows what it holds).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from oiradar.app.brief import BriefOptions, SheetOptions, brief, last_alerts, sheet
from oiradar.app.live import alert_text, open_ledger, parse_series, series_label, watch_status
from oiradar.app.series import NothingDone
from oiradar.app.session import Session
from oiradar.errors import InputError, OiradarError
from oiradar.model import SeriesKey, now_ms, parse_symbol
from oiradar.store.ledger import ledger_path
from oiradar.store.paper import paper_path
from oiradar.timeutil import iso_utc

NO_SERIES_STORED = "no series stored: run `oiradar demo` or `oiradar fetch`"
NO_ALERTS = "no alert recorded yet: `oiradar watch` records them"
NO_ACCOUNTS = "no paper account: start one with `oiradar paper start`"
JOURNAL_TAIL = 20  # journal entries shown per paper account


def dashboard_keys(session: Session) -> list[SeriesKey]:
    """The ``[watch] series`` of the settings, else every stored series (module doc)."""
    configured = [parse_series(t) for t in session.settings.watch.series]
    if configured:
        return list(dict.fromkeys(configured))
    stored = session.catalog.stored_keys()
    return sorted(stored, key=lambda k: (k.exchange, k.symbol, k.timeframe.ms))


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None and dates as ISO text, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _iso(ms: int | None) -> str | None:
    return None if ms is None else iso_utc(int(ms))


# ------------------------------------------------------------------------- versions
def last_stored(session: Session, key: SeriesKey) -> int | None:
    """The open time of the last stored bar ``key`` is built from: its own series, else the finest
    stored timeframe that builds it (None: nothing stored)."""
    last = session.catalog.last_ts(key)
    if last is not None:
        return last
    source = session.catalog.finest_source_for(key)
    return None if source is None else session.catalog.last_ts(source)


def series_versions(session: Session, keys: Sequence[SeriesKey] | None = None) -> dict[str, int]:
    """``{"exchange symbol timeframe": last stored bar ts}`` of the dashboard's series (or
    ``keys``); a series with nothing stored is left out. A new bar changes its version."""
    return Dashboard().versions(session, keys)


# ------------------------------------------------------------------------- the watchlist
def watchlist(session: Session, *, now: int | None = None) -> list[dict[str, Any]]:
    """One row per series: the brief's row (OI, 7-day change, z-score, OI/volume, phase, recent
    signals, last alert) plus ``series``, ``bar_time``, its last stored bar and its lag."""
    return Dashboard().watchlist(session, now=now)


KEYS_TTL_S = 10.0  # the stored series are listed again after this many seconds


class Dashboard:
    """What ``serve`` keeps between requests, so that 200 series answer in milliseconds:

    - the series list, listed again every :data:`KEYS_TTL_S` seconds;
    - each series' last stored bar, read again only when its manifest changed (one ``stat`` per
      series and poll: :meth:`Catalog.series_stamp`);
    - the watchlist's brief rows, computed again only for the base assets (all venues of a coin:
      the cross-venue signals compare them) one of whose series got a bar or saw its last bar
      close. The last alert, the lag and the watch's errors are read fresh on every request.

    The values are those :func:`watchlist` and :func:`series_versions` give without a cache (a
    test holds them equal). Thread-safe: the event poller and the requests share one."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._keys: tuple[float, list[SeriesKey]] | None = None
        self._seen: dict[SeriesKey, tuple[tuple[int, int], int]] = {}
        self._rows: dict[SeriesKey, tuple[tuple[int | None, bool], dict[str, Any]]] = {}

    def keys(self, session: Session) -> list[SeriesKey]:
        with self._lock:
            if self._keys is not None and time.monotonic() - self._keys[0] < KEYS_TTL_S:
                return self._keys[1]
            keys = dashboard_keys(session)
            self._keys = (time.monotonic(), keys)
            return keys

    def last(self, session: Session, key: SeriesKey) -> int | None:
        """:func:`last_stored`, read again only when the series' manifest changed."""
        stamp = session.catalog.series_stamp(key)
        if stamp is None:  # a view built from a finer stored series: read as it is
            return last_stored(session, key)
        with self._lock:
            seen = self._seen.get(key)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        last = session.catalog.last_ts(key)
        if last is not None:
            with self._lock:
                self._seen[key] = (stamp, last)
        return last

    def versions(self, session: Session, keys: Sequence[SeriesKey] | None = None) -> dict[str, int]:
        out = {}
        for key in self.keys(session) if keys is None else keys:
            last = self.last(session, key)
            if last is not None:
                out[series_label(key)] = last
        return out

    def watchlist(self, session: Session, *, now: int | None = None) -> list[dict[str, Any]]:
        keys = self.keys(session)
        if not keys:
            return []
        wall = now_ms() if now is None else now
        lasts = {k: self.last(session, k) for k in keys}
        rows = self._brief_rows(session, keys, lasts, wall)
        alerts = last_alerts(session, keys)
        status = watch_status(session, wall)
        watched = {r["series"]: r for r in status.series} if status is not None else {}
        return [_watch_row(key, {**row, **({"last_alert": alerts[key]} if key in alerts else {})},
                           lasts[key], watched.get(series_label(key)), wall)
                for key, row in zip(keys, rows, strict=True)]  # fmt: skip

    def _brief_rows(
        self, session: Session, keys: list[SeriesKey], lasts: dict[SeriesKey, int | None], wall: int
    ) -> list[dict[str, Any]]:
        """The brief's row of each key, from the cache where neither the key nor a series of the
        same base asset moved (a new bar, or its last bar closed since)."""
        state = {k: (last, last is not None and last + k.timeframe.ms <= wall)
                 for k, last in lasts.items()}  # fmt: skip
        with self._lock:
            stale = {_base(k) for k in keys if k not in self._rows or self._rows[k][0] != state[k]}
            redo = [k for k in keys if _base(k) in stale]
            if redo:
                for k, row in zip(redo, _brief(session, redo, wall), strict=True):
                    self._rows[k] = (state[k], row)
            return [self._rows[k][1] for k in keys]


def _base(key: SeriesKey) -> str:
    return parse_symbol(key.symbol)[0]


def _brief(session: Session, keys: list[SeriesKey], wall: int) -> list[dict[str, Any]]:
    try:
        return brief(session, BriefOptions(tuple(keys), closed_by=wall)).rows.to_dicts()
    except OiradarError as exc:
        return _failed_rows(keys, exc)


def _failed_rows(keys: Sequence[SeriesKey], exc: OiradarError) -> list[dict[str, Any]]:
    """The brief's rows when it failed as a whole: each series with why."""
    why = {s.series: s.why for s in exc.skipped} if isinstance(exc, NothingDone) else {}
    return [{"exchange": k.exchange, "symbol": k.symbol, "timeframe": k.timeframe.value,
             "note": why.get(str(k), str(exc))} for k in keys]  # fmt: skip


def _watch_row(
    key: SeriesKey, row: dict[str, Any], last: int | None, watched: dict[str, Any] | None, now: int
) -> dict[str, Any]:
    """A brief row with the series' last stored bar and lag (``oiradar status``'s, when a watch
    keeps the series: a simulated venue runs on its own clock)."""
    if watched is not None and watched.get("last_bar_ts") is not None:
        lag = watched["lag_ms"]
    else:
        lag = None if last is None else max(0, now - (last + key.timeframe.ms))
    out = {"series": series_label(key), **row, "bar_time": _iso(row.get("bar_ts")),
           "last_bar_ts": last, "last_bar_time": _iso(last), "lag_ms": lag,
           "watch_error": None if watched is None else watched.get("error")}  # fmt: skip
    return json_safe(out)


# ------------------------------------------------------------------------- alerts, paper, sheet
def alert_log(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The alerts ``oiradar watch`` recorded, newest bar first, each with ``text`` (the line the
    console showed) and ``deliveries`` (channel -> state); empty when no watch ever ran."""
    if limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    if not ledger_path(session.home).exists():
        return []
    ledger = open_ledger(session)
    try:
        alerts = ledger.alerts(limit=limit)
        return [json_safe({**a, "text": alert_text(a),
                           "deliveries": ledger.deliveries(str(a["event_id"]))})
                for a in alerts]  # fmt: skip
    finally:
        ledger.close()


def paper_view(session: Session, tail: int = JOURNAL_TAIL) -> dict[str, Any]:
    """``oiradar paper status`` (running accounts brought up to date first) with each account's
    last ``tail`` journal entries and its bar times as ISO text; no accounts when paper trading
    was never started (the store is not created just to be read)."""
    from oiradar.app import paper

    if not paper_path(session.home).exists():
        return {"accounts": [], "min_trades": paper.MIN_TRADES, "note": NO_ACCOUNTS}
    status = paper.status(session).to_dict()
    for account in status["accounts"]:
        a = account["account"]
        journal = paper.journal(session, str(a["id"]), tail).to_dict()
        account["journal"] = [{**e, "bar_time": _iso(e["bar_ts"])} for e in journal["entries"]]
        account["journal_total"] = journal["total"]
        a["start_time"], a["last_bar_time"] = _iso(a["start_ts"]), _iso(a["last_bar_ts"])
    note = None if status["accounts"] else NO_ACCOUNTS
    return json_safe({**status, "note": note})


def sheet_view(session: Session, day: date | None = None) -> dict[str, Any]:
    """``oiradar sheet``'s rows for ``day`` (None: the last complete UTC day of the data), or
    ``note`` saying why there are none."""
    keys = dashboard_keys(session)
    if not keys:
        return {"day": None, "rows": [], "notes": [], "note": NO_SERIES_STORED}
    try:
        report = sheet(session, SheetOptions(day, tuple(keys)))
    except OiradarError as exc:
        return {"day": None, "rows": [], "notes": [], "note": str(exc)}
    rows = [{"series": f"{r['exchange']} {r['symbol']} {r['timeframe']}", **r,
             "bar_time": _iso(r.get("bar_ts"))} for r in report.rows.to_dicts()]  # fmt: skip
    return json_safe({"day": report.day, "rows": rows, "notes": list(report.notes), "note": None})


__all__ = [
    "KEYS_TTL_S",
    "NO_ACCOUNTS",
    "NO_ALERTS",
    "NO_SERIES_STORED",
    "Dashboard",
    "alert_log",
    "dashboard_keys",
    "json_safe",
    "last_stored",
    "paper_view",
    "series_versions",
    "watchlist",
]
