"""The live radar's use cases: watched series, the alerts of newly closed bars, the ledger.

``oiradar watch`` (:mod:`oiradar.live`) keeps series current and calls :func:`new_alerts` after
each closed bar. It runs **the same code as** ``oiradar scan``: the series is loaded from the
catalog as scan loads it (:func:`~oiradar.app.series.load_series`) and its events computed by
:func:`~oiradar.signals.scan_bars`; the events of the bars after the series' cursor become alerts.
Signals never look ahead (an event at bar ``t`` depends on bars ``<= t`` only, a property test over
every signal), so the events found bar by bar equal those a scan finds on the whole history.

An alert (SPEC section 7) is a JSON-able dict: its stable ``event_id`` (exchange, symbol,
timeframe, signal, side, bar time), the values that fired it, ``late`` (sent after the bar's next
bar closed: an outage, a backfill) and the command that shows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from oiradar.app.scan import check_signals
from oiradar.app.series import SeriesOptions, load_series
from oiradar.app.session import Session
from oiradar.app.values import finite_or_none
from oiradar.errors import InputError
from oiradar.evidence.pipeline import DERIVED_SIGNALS, derived_events
from oiradar.model import SeriesKey, Timeframe, validate_exchange_name
from oiradar.model import now_ms as wall_clock
from oiradar.signals import scan_bars
from oiradar.signals.frame import VALUE_COLUMNS
from oiradar.store.atomic import LockBusy, file_lock
from oiradar.store.ledger import Delivery, Ledger, NewAlert, ledger_path
from oiradar.timeutil import iso_utc

ALERT_VALUES = ("close", "oi", "oi_z_30d", "oi_chg_7d", "oi_vol_ratio", "oi_dd", "volume")


def series_label(key: SeriesKey) -> str:
    """``binanceusdm KSM/USDT:USDT 4h``: how a watched series is written in config and status."""
    return f"{key.exchange} {key.symbol} {key.timeframe.value}"


def parse_series(text: str, where: str = "[watch] series") -> SeriesKey:
    """``"EXCHANGE SYMBOL TIMEFRAME"`` -> a key; an error names the entry and the expected form."""
    parts = text.split()
    if len(parts) != 3:
        raise InputError(f"{where}: {text!r} is not 'EXCHANGE SYMBOL TIMEFRAME', "
                         "e.g. 'binanceusdm KSM/USDT:USDT 4h'")  # fmt: skip
    exchange, symbol, tf = parts
    validate_exchange_name(exchange)
    try:
        timeframe = Timeframe.parse(tf)
    except ValueError as exc:
        raise InputError(f"{where}: {text!r}: {exc}") from None
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=timeframe)


def event_id(exchange: str, symbol: str, timeframe: str, signal: str, side: str, bar_ts: int) -> str:
    """Stable across runs and restarts: the same event always has the same id."""
    return f"{exchange}|{symbol}|{timeframe}|{signal}|{side}|{iso_utc(bar_ts).replace(' ', 'T')}Z"


def is_late(bar_ts: int, timeframe: Timeframe, now_ms: int) -> bool:
    """SPEC section 7: an alert sent after its bar's next bar closed is late."""
    return now_ms >= bar_ts + 2 * timeframe.ms


def alert_payload(event: dict[str, Any], timeframe: Timeframe, now_ms: int) -> dict[str, Any]:
    """One scan event row -> the alert's fields (JSON-able)."""
    bar_ts = int(event["ts"])
    ex, sym, sig, side = event["exchange"], event["symbol"], event["signal"], event["side"]
    late = is_late(bar_ts, timeframe, now_ms)
    values = {c: finite_or_none(event.get(c)) for c in ALERT_VALUES if c in event}
    when = iso_utc(bar_ts)
    return {
        "event_id": event_id(ex, sym, timeframe.value, sig, side, bar_ts),
        "exchange": ex,
        "symbol": sym,
        "timeframe": timeframe.value,
        "signal": sig,
        "side": side,
        "bar_ts": bar_ts,
        "bar_time": when,
        "closed_at": iso_utc(bar_ts + timeframe.ms),
        "values": values,
        "why": event.get("why") or "",
        "late": late,
        "fired_at": iso_utc(now_ms),
        "command": f"oiradar scan -e {ex} -s {sym} -t {timeframe.value} --signal {sig} "
        f"--since {when[:10]}",
    }


def brief_payload(day: date, text: str) -> dict[str, Any]:
    """The morning brief of ``day`` as an alert (``[alerts] daily_brief``): one per UTC day."""
    return {"event_id": f"brief|{day.isoformat()}", "kind": "brief", "signal": "brief",
            "side": "", "day": day.isoformat(), "text": text}  # fmt: skip


def alert_title(a: dict[str, Any]) -> str:
    if a.get("kind") == "brief":
        return f"oiradar brief {a['day']}"
    late = " (late)" if a.get("late") else ""
    return f"oiradar: {a['signal']} {a['side']} {a['symbol']} {a['timeframe']}{late}"


def alert_text(a: dict[str, Any]) -> str:
    """The alert as one human line (console, chat channels); the brief as its lines."""
    if a.get("kind") == "brief":
        return str(a["text"])
    v = a.get("values", {})
    parts = [f"{a['bar_time']} UTC", f"{a['exchange']} {a['symbol']} {a['timeframe']}",
             f"{a['signal']} {a['side']}"]  # fmt: skip
    if v.get("close") is not None:
        parts.append(f"close {v['close']:,.4g}")
    if v.get("oi_z_30d") is not None:
        parts.append(f"OI z {v['oi_z_30d']:+.2f}")
    if v.get("oi_chg_7d") is not None:
        parts.append(f"OI 7d {v['oi_chg_7d'] * 100:+.1f}%")
    line = " · ".join(parts)
    if a.get("why"):
        line += f": {a['why']}"
    if a.get("late"):
        line += " [late]"
    return line


@dataclass(frozen=True)
class Evaluation:
    """What the closed bars after a series' cursor produced."""

    key: SeriesKey
    last_bar_ts: int | None  # the last closed bar now stored (None: nothing stored)
    events: pl.DataFrame  # scan events with cursor < ts <= last_bar_ts
    bars: pl.DataFrame  # the series as loaded (for paper trading, the brief)


def evaluate(
    session: Session, key: SeriesKey, cursor: int | None, closed_by: int,
    signals: Sequence[str] = (),
) -> Evaluation:  # fmt: skip
    """The events of ``key``'s bars closed by ``closed_by`` after ``cursor`` (all when None),
    computed as ``oiradar scan`` computes them (same loader, same kernels, same settings)."""
    # exactly the stored series the feed writes: a finer one of the same market (an import, the
    # demo's 5m) may cover more time and would win the choice of source scan makes
    loaded = load_series(session.catalog, key, SeriesOptions(from_timeframe=key.timeframe))
    bars = settled(loaded.bars.filter(pl.col("ts") + key.timeframe.ms <= closed_by))
    if bars.height == 0:
        return Evaluation(key, None, pl.DataFrame(), bars)
    last = int(bars["ts"][-1])
    result = scan_bars([bars], [key], session.settings)
    events = result.events
    derived = [n for n in DERIVED_SIGNALS if n in signals]  # as scan: only when named
    if derived:
        extra = derived_events(result.features[key], key, session.settings.for_symbol(key.symbol),
                               derived)  # fmt: skip
        events = pl.concat([events, extra]).sort("ts", "signal", "side")
    if cursor is not None:
        events = events.filter(pl.col("ts") > cursor)
    if signals:
        events = events.filter(pl.col("signal").is_in(list(signals)))
    return Evaluation(key, last, events, bars)


def settled(bars: pl.DataFrame) -> pl.DataFrame:
    """``bars`` without the trailing ones that lack their close or OI: a venue publishes a bar's
    OI after its kline (Binance's openInterestHist minutes later), and a bar evaluated before its
    OI arrived would miss its events for good once the cursor passed it."""
    if bars.height == 0:
        return bars
    ok = (pl.col("close").is_not_null() & pl.col("oi").is_not_null()).alias("ok")
    flags = bars.select(ok)["ok"]
    good = flags.arg_true()
    return bars.head(int(good[-1]) + 1) if len(good) else bars.head(0)


@contextmanager
def watch_lock(session: Session) -> Iterator[None]:
    """One ``oiradar watch`` per home: a second one is refused at once, naming the first's pid."""
    path = ledger_path(session.home).parent / "watch.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with file_lock(path, timeout_s=0, what="the watch lock",
                       hint="another `oiradar watch` runs on this home; stop it first"):  # fmt: skip
            yield
    except LockBusy as exc:
        raise InputError(str(exc)) from None


@dataclass(frozen=True)
class WatchStatus:
    """``oiradar status``: what the ledger says about each series and channel."""

    home: str
    running: str | None  # "pid N" while a watch holds this home's lock
    series: list[dict[str, Any]]  # series, last_bar_ts, lag_ms, error, errors, last_alert
    channels: list[dict[str, Any]]  # channel, state, last_ok_ms, last_error, pending, failed
    alerts: int  # recorded alerts
    now_ms: int


def watch_status(session: Session, now_ms: int | None = None) -> WatchStatus | None:
    """The state of the watch of this home (None: no watch has run here)."""
    path = ledger_path(session.home)
    if not path.exists():
        return None
    ledger = Ledger(path)
    try:
        wall = now_ms if now_ms is not None else wall_clock()
        running = _holder(path.parent / "watch.lock")
        sim_now = _sim_now(ledger.get("sim_clock"), wall, running is not None)
        rows = []
        for r in ledger.series_rows():
            key = parse_series(r["series"])
            now = sim_now if key.exchange == "sim" and sim_now is not None else wall
            last = r["last_bar_ts"]
            lag = None if last is None else max(0, now - (last + key.timeframe.ms))
            alert = ledger.last_alert(r["series"])
            rows.append({**r, "lag_ms": lag, "last_alert": alert})
        channels = []
        for c in ledger.channel_rows():
            failing = c["failures"] > 0 and (c["last_ok_ms"] is None
                                             or (c["last_error_ms"] or 0) > c["last_ok_ms"])  # fmt: skip
            state = "unreachable" if failing and c["failed"] else "failing" if failing else "ok"
            channels.append({**c, "state": state})
        count = ledger.alert_count()
    finally:
        ledger.close()
    return WatchStatus(str(session.home), running, rows, channels, count, wall)


def _sim_now(raw: str | None, wall: int, running: bool) -> int | None:
    """The simulated venue's time: it runs only while a watch runs (``app.feeds.sim_clock``)."""
    if raw is None:
        return None
    c = json.loads(raw)
    return int(c["anchor_sim"] + ((wall - c["anchor_wall"]) * c["speed"] if running else 0))


def _holder(lock: Path) -> str | None:
    if not lock.exists():
        return None
    try:
        with file_lock(lock, timeout_s=0, what="the watch lock"):
            return None
    except LockBusy as exc:
        return exc.holder


check_watch_signals = check_signals  # the same names and message as `scan --signal`


def open_ledger(session: Session) -> Ledger:
    return Ledger.open(session.home)


__all__ = [
    "ALERT_VALUES",
    "VALUE_COLUMNS",
    "Delivery",
    "Evaluation",
    "Ledger",
    "NewAlert",
    "WatchStatus",
    "alert_payload",
    "alert_text",
    "alert_title",
    "brief_payload",
    "check_watch_signals",
    "evaluate",
    "event_id",
    "is_late",
    "open_ledger",
    "parse_series",
    "series_label",
    "settled",
    "watch_lock",
    "watch_status",
]
