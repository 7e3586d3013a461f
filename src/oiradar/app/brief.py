"""``brief`` and ``sheet``: the trader's ten-minute morning check and daily tracking sheet
(SPEC section 7).

Both read each watched series as ``oiradar scan`` reads it: :func:`~.series.load_series`, then
:func:`~oiradar.signals.scan_bars` over the series and its *companions* (the stored series of the
same symbol on the other venues, and the other-margined contract of its base on the same venue),
so that ``exchange_divergence`` and ``margin_divergence`` fire as in a scan of everything stored.
Only bars closed by a cut are read: now for the brief, the UTC day's end for the sheet.
Signals never look ahead, so a cut changes nothing before it.

- **The brief**: one row per watched series at its last complete bar: OI (base units and USD),
  7-day change, OI/volume and its ratio to its 30-day mean, z-score, the funding of the last bar
  that had a settlement (a bar's funding is the sum settled in it), the phase, the signals that
  fired within the last ``[signals] watch_lookback_bars`` bars and the last alert ``oiradar
  watch`` recorded (``none yet`` when no watch ever ran: the ledger is not created to be read).
- **The sheet**: one row per series and UTC day, at the day's last complete bar, with the day's
  divergence flags (``divergence``, ``exchange_divergence``, ``margin_divergence``) and its other
  events; :func:`append_sheet` keeps them in one cumulative CSV (``<sheet_dir>/sheet.csv``).

A series that cannot be read is a row with a ``note`` saying why; the others go on.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from oiradar.app.availability import with_input_notes
from oiradar.app.live import open_ledger, parse_series, series_label
from oiradar.app.series import (
    ALL_VENUES,
    LoadedSeries,
    NothingDone,
    Skipped,
    load_series,
    summary_notes,
)
from oiradar.app.session import Session
from oiradar.app.values import finite_or_none
from oiradar.errors import InputError, OiradarError
from oiradar.model import DAY_MS, SeriesKey, Timeframe, margin_type, now_ms, parse_symbol
from oiradar.signals import scan_bars, signal_states, venue_family, with_liquidations
from oiradar.store.ledger import ledger_path
from oiradar.timeutil import day_start_ms, iso_utc, iso_utc_expr, utc_date

NO_SERIES = ("no series to brief: add [watch] series = [...] to oiradar.toml "
             "(e.g. \"binanceusdm KSM/USDT:USDT 4h\") or give -e/-s/-t")  # fmt: skip
NO_ALERT = "none yet"
DIVERGENCES = ("divergence", "exchange_divergence", "margin_divergence")
SHEET_FILE = "sheet.csv"
SHEET_KEY = ("date", "exchange", "symbol", "timeframe")

_F, _S = pl.Float64(), pl.String()
_VALUES: dict[str, pl.DataType] = {
    "bar_ts": pl.Int64(),  # the open time of the bar the values are read at (epoch ms)
    "oi": _F,  # base units
    "oi_usd": _F,  # quote currency (oi_value; oi x close where the venue gives none)
    "oi_chg_7d": _F,  # fraction
    "oi_vol_ratio": _F,  # days of turnover open
    "oi_vol_vs_ma": _F,  # oi_vol_ratio / its 30-day mean (1.2: 20 % above it)
    "oi_vs_ma_30d": _F,  # oi / oi_ma_30d - 1 (fraction)
    "oi_z_30d": _F,
    "funding_rate": _F,  # the latest settled rate (fraction)
}
BRIEF_SCHEMA: dict[str, pl.DataType] = {
    "exchange": _S, "symbol": _S, "timeframe": _S, **_VALUES, "phase": _S, "signals": _S,
    "last_alert": _S, "note": _S,
}  # fmt: skip
SHEET_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(), "exchange": _S, "symbol": _S, "timeframe": _S, **_VALUES,
    "divergences": _S, "signals": _S, "phase": _S, "note": _S,
}  # fmt: skip


# ------------------------------------------------------------------------- loading and analysis
@dataclass(frozen=True)
class _Series:
    """One watched series cut at a time: features with ``phase``, and its own events."""

    key: SeriesKey
    feats: pl.DataFrame
    events: pl.DataFrame


def watched_keys(session: Session, given: Sequence[SeriesKey] = ()) -> list[SeriesKey]:
    """``given``, else the ``[watch] series`` of the settings (each once, in order)."""
    keys = list(given) or [parse_series(t) for t in session.settings.watch.series]
    if not keys:
        raise InputError(NO_SERIES)
    return list(dict.fromkeys(keys))


def _load(
    session: Session, keys: Sequence[SeriesKey], what: str
) -> tuple[list[LoadedSeries], dict[SeriesKey, str]]:
    """The loaded series and, per key that failed, why. One key's error is raised as it is (the
    user named that series); :class:`NothingDone` when every key failed."""
    if len(keys) == 1:
        return [_loaded_as(keys[0], load_series(session.catalog, keys[0]))], {}
    loaded, failed = [], {}
    for key in keys:
        try:
            loaded.append(_loaded_as(key, load_series(session.catalog, key)))
        except OiradarError as exc:
            failed[key] = _reason(key, str(exc))
    if not loaded:
        raise NothingDone(what, [Skipped(str(k), why) for k, why in failed.items()])
    return loaded, failed


def _loaded_as(key: SeriesKey, loaded: LoadedSeries) -> LoadedSeries:
    """``loaded`` under the key it was asked for (a summed series may name itself otherwise)."""
    return with_input_notes(LoadedSeries(key, loaded.bars, loaded.notes, loaded.prices))


def _reason(key: SeriesKey, message: str) -> str:
    return message.removeprefix(f"{key} ").removeprefix(f"{key}: ")


def _companions(session: Session, keys: Sequence[SeriesKey]) -> list[LoadedSeries]:
    """The stored series the cross-venue signals of ``keys`` compare them with; one that cannot
    be read is left out (it only adds context)."""
    stored = sorted({(k.exchange, k.symbol) for k in session.catalog.stored_keys()})
    wanted: list[SeriesKey] = []
    for key in keys:
        for e, s in stored:
            other = SeriesKey(exchange=e, symbol=s, timeframe=key.timeframe)
            if other not in keys and other not in wanted and _pairs(key, other):
                wanted.append(other)
    out = []
    for other in wanted:
        try:
            out.append(load_series(session.catalog, other))
        except OiradarError:
            continue
    return out


def _pairs(key: SeriesKey, other: SeriesKey) -> bool:
    """Whether ``other`` is compared with ``key`` by exchange_ or margin_divergence."""
    if ALL_VENUES in (key.exchange, other.exchange):
        return False
    if other.symbol == key.symbol:
        return other.exchange != key.exchange
    same_venue = venue_family(other.exchange) == venue_family(key.exchange)
    same_base = parse_symbol(other.symbol)[0] == parse_symbol(key.symbol)[0]
    return same_venue and same_base and margin_type(other.symbol) != margin_type(key.symbol)


def _analyse(
    session: Session, loaded: Sequence[LoadedSeries], companions: Sequence[LoadedSeries], cut: int
) -> dict[SeriesKey, _Series]:
    """Features, phase and events of the ``loaded`` series from their bars closed by ``cut``,
    computed as a scan computes them (one :func:`scan_bars` call per timeframe)."""
    watched = {x.key for x in loaded}
    groups: dict[Timeframe, list[tuple[SeriesKey, pl.DataFrame]]] = defaultdict(list)
    for x in [*loaded, *companions]:
        bars = x.bars.filter(pl.col("ts") + x.key.timeframe.ms <= cut)
        if x.key in watched:
            bars = with_liquidations(session.catalog, x.key, bars)
        if bars.height:
            groups[x.key.timeframe].append((x.key, bars))
    out = {k: _Series(k, pl.DataFrame(), pl.DataFrame()) for k in watched}
    for tf, group in groups.items():
        result = scan_bars([b for _, b in group], [k for k, _ in group], session.settings)
        for key, _bars in group:
            if key in watched:
                feats = result.features[key]
                states = signal_states(feats, tf, session.settings.for_symbol(key.symbol))
                out[key] = _Series(key, feats.with_columns(states["phase"]),
                                   _own_events(result.events, key))  # fmt: skip
    return out


def _own_events(events: pl.DataFrame, key: SeriesKey) -> pl.DataFrame:
    """The events of ``key``: its own, and the margin_divergence of its leg (named by venue)."""
    venue = (pl.col("exchange") == key.exchange) | (
        (pl.col("signal") == "margin_divergence")
        & (pl.col("exchange") == venue_family(key.exchange))
    )
    return events.filter(
        venue & (pl.col("symbol") == key.symbol) & (pl.col("timeframe") == key.timeframe.value)
    )


# ------------------------------------------------------------------------- one row's values
def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _last_complete(series: _Series, cut: int) -> dict[str, Any]:
    """The row of the last complete bar closed by ``cut``; an InputError when there is none."""
    feats = series.feats
    done = feats.filter(pl.col("complete")) if feats.height else feats
    if done.is_empty():
        raise InputError(f"{series.key}: no complete bar closed by {iso_utc(cut)} UTC")
    return done.row(done.height - 1, named=True)


def _values(series: _Series, row: dict[str, Any]) -> dict[str, Any]:
    """The values of the brief and the sheet at ``row`` (a features row with ``phase``)."""
    oi, close = finite_or_none(row.get("oi")), finite_or_none(row.get("close"))
    usd = finite_or_none(row.get("oi_value"))
    if usd is None and oi is not None and close is not None:
        usd = oi * close
    ratio, ma = finite_or_none(row.get("oi_vol_ratio")), finite_or_none(row.get("oi_vol_ratio_ma_30d"))
    vs_ma = _div(oi, finite_or_none(row.get("oi_ma_30d")))
    return {
        "bar_ts": int(row["ts"]), "oi": oi, "oi_usd": usd, "oi_chg_7d": finite_or_none(row.get("oi_chg_7d")),
        "oi_vol_ratio": ratio, "oi_vol_vs_ma": _div(ratio, ma),
        "oi_vs_ma_30d": None if vs_ma is None else vs_ma - 1,
        "oi_z_30d": finite_or_none(row.get("oi_z_30d")), "funding_rate": _funding(series.feats, row["ts"]),
        "phase": row.get("phase") or "",
    }  # fmt: skip


def _funding(feats: pl.DataFrame, ts: int) -> float | None:
    """The latest funding rate settled in a bar up to ``ts`` (bars without a settlement hold
    none)."""
    if "funding_rate" not in feats.columns:
        return None
    rates = feats.filter(pl.col("ts") <= ts)["funding_rate"].drop_nulls().drop_nans()
    return float(rates[-1]) if rates.len() else None


def signal_list(events: pl.DataFrame) -> str:
    """``entry short, watch short``: each (signal, side) of ``events`` once, sorted."""
    if events.is_empty():
        return ""
    pairs = sorted(set(zip(events["signal"], events["side"], strict=True)))
    return ", ".join(f"{s} {side}" for s, side in pairs)


def _error_row(key: SeriesKey, why: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"exchange": key.exchange, "symbol": key.symbol, "timeframe": key.timeframe.value,
            **(extra or {}), "note": why}  # fmt: skip


# ------------------------------------------------------------------------- the brief
@dataclass(frozen=True)
class BriefOptions:
    series: tuple[SeriesKey, ...] = ()  # empty: the [watch] series of the settings
    closed_by: int | None = None  # epoch ms: read the bars closed by then (None: now)


@dataclass(frozen=True)
class BriefReport:
    rows: pl.DataFrame  # BRIEF_SCHEMA, one row per series in the order asked
    closed_by: int  # the cut (epoch ms)
    notes: tuple[str, ...] = ()  # how the series were built (stored timeframe, prices)
    trails: tuple[Trail, ...] = ()  # the last bars of each series, for a terminal sparkline


@dataclass(frozen=True)
class Trail:
    """The closes and OI of a series' last :data:`TRAIL_BARS` complete bars up to the cut."""

    series: str  # "exchange symbol timeframe"
    close: tuple[float | None, ...]
    oi: tuple[float | None, ...]


TRAIL_BARS = 30


def brief(session: Session, opts: BriefOptions = BriefOptions()) -> BriefReport:
    """The morning brief: one row per watched series at its last complete bar (module doc)."""
    keys = watched_keys(session, opts.series)
    cut = now_ms() if opts.closed_by is None else opts.closed_by
    loaded, failed = _load(session, keys, "brief")
    analysed = _analyse(session, loaded, _companions(session, keys), cut)
    alerts = last_alerts(session, keys)
    rows = []
    for key in keys:
        if key in failed:
            rows.append(_error_row(key, failed[key], {"last_alert": alerts.get(key, NO_ALERT)}))
            continue
        rows.append(_brief_row(session, analysed[key], cut, alerts.get(key, NO_ALERT)))
    notes = summary_notes([(x.key, x.notes) for x in loaded])
    trails = tuple(_trail(analysed[k]) for k in keys if k in analysed)
    return BriefReport(pl.DataFrame(rows, schema=BRIEF_SCHEMA), cut, tuple(notes), trails)


def _trail(series: _Series) -> Trail:
    feats = series.feats
    done = (feats.filter(pl.col("complete")) if feats.height else feats).tail(TRAIL_BARS)
    key = series.key
    return Trail(f"{key.exchange} {key.symbol} {key.timeframe.value}",
                 tuple(done["close"].to_list()) if done.height else (),
                 tuple(done["oi"].to_list()) if done.height else ())  # fmt: skip


def _brief_row(session: Session, series: _Series, cut: int, alert: str) -> dict[str, Any]:
    key = series.key
    try:
        row = _last_complete(series, cut)
    except InputError as exc:
        return _error_row(key, _reason(key, str(exc)), {"last_alert": alert})
    back = session.settings.for_symbol(key.symbol).signals.watch_lookback_bars
    since = int(row["ts"]) - (back - 1) * key.timeframe.ms
    recent = series.events.filter(pl.col("ts").is_between(since, row["ts"]))
    return {"exchange": key.exchange, "symbol": key.symbol, "timeframe": key.timeframe.value,
            **_values(series, row), "signals": signal_list(recent),
            "last_alert": alert}  # fmt: skip


def last_alerts(session: Session, keys: Iterable[SeriesKey]) -> dict[SeriesKey, str]:
    """The last alert ``oiradar watch`` recorded per series (``trigger short 2024-05-03 08:00``);
    empty when no watch ever ran (the ledger is not created just to be read)."""
    if not ledger_path(session.home).exists():
        return {}
    ledger = open_ledger(session)
    try:
        return {k: alert_line(ledger.last_alert(series_label(k))) for k in keys}
    finally:
        ledger.close()


def alert_line(alert: dict[str, Any] | None) -> str:
    """An alert payload as the brief shows it: ``trigger short 2024-05-03 08:00 (late)``."""
    if alert is None:
        return NO_ALERT
    when = alert.get("bar_time") or iso_utc(int(alert["bar_ts"]))
    late = " (late)" if alert.get("late") else ""
    return f"{alert['signal']} {alert['side']} {when}{late}"


def brief_text(report: BriefReport) -> str:
    """The brief as plain text lines (``oiradar watch`` sends it as a daily alert)."""
    lines = [f"oiradar brief: {report.rows.height} series, bars closed by "
             f"{iso_utc(report.closed_by)} UTC"]  # fmt: skip
    for r in report.rows.iter_rows(named=True):
        lines.append(_brief_line(r))
    return "\n".join(lines)


def _brief_line(r: dict[str, Any]) -> str:
    name = f"{r['exchange']} {r['symbol']} {r['timeframe']}"
    if r["note"] is not None:
        return f"{name}: {r['note']}"
    base = parse_symbol(r["symbol"])[0]
    parts = [
        f"{name} @ {iso_utc(r['bar_ts'])}",
        f"OI {_amount(r['oi'])} {base} (${_amount(r['oi_usd'])})",
        f"7d {_pct(r['oi_chg_7d'], 1)}",
        f"OI/vol {_fixed(r['oi_vol_ratio'])} ({_fixed(r['oi_vol_vs_ma'])}x its 30d mean)",
        f"z {_fixed(r['oi_z_30d'], signed=True)}",
        f"funding {_pct(r['funding_rate'], 4)}",
        f"phase {r['phase'] or 'n/a'}",
        f"signals {r['signals'] or 'none'}",
        f"last alert {r['last_alert']}",
    ]
    return " | ".join(parts)


def _amount(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def _fixed(v: float | None, *, signed: bool = False) -> str:
    return "n/a" if v is None else f"{v:{'+' if signed else ''}.2f}"


def _pct(v: float | None, digits: int) -> str:
    return "n/a" if v is None else f"{100 * v:+.{digits}f}%"


# ------------------------------------------------------------------------- the daily sheet
@dataclass(frozen=True)
class SheetOptions:
    day: date | None = None  # the UTC day (None: the last complete day of the data)
    series: tuple[SeriesKey, ...] = ()  # empty: the [watch] series of the settings


@dataclass(frozen=True)
class SheetReport:
    day: date
    rows: pl.DataFrame  # SHEET_SCHEMA, one row per series in the order asked
    notes: tuple[str, ...] = field(default=())


def sheet(session: Session, opts: SheetOptions = SheetOptions()) -> SheetReport:
    """One row per series for a UTC day, from the bars closed by the day's end (module doc).

    A day outside a series' data is an InputError naming its complete days (with several series:
    a row with that note, and an error only when the day is outside every series)."""
    keys = watched_keys(session, opts.series)
    loaded, failed = _load(session, keys, "sheet")
    day = opts.day or _default_day(loaded)
    end = day_start_ms(day) + DAY_MS
    analysed = _analyse(session, loaded, _companions(session, keys), end)
    rows, outside = [], []
    for x in loaded:
        try:
            _check_day(x, day)
            rows.append(_sheet_row(analysed[x.key], day))
        except InputError as exc:
            outside.append(str(exc))
            failed[x.key] = _reason(x.key, str(exc))
    if not rows:
        what = (
            "" if len(outside) == 1 else f"{day.isoformat()} is outside the data of every series: "
        )
        raise InputError(what + "; ".join(outside))
    by_key = {(r["exchange"], r["symbol"], r["timeframe"]): r for r in rows}
    frame = [by_key.get(_triple(k)) or _error_row(k, failed[k], {"date": day}) for k in keys]
    notes = summary_notes([(x.key, x.notes) for x in loaded])
    return SheetReport(day, pl.DataFrame(frame, schema=SHEET_SCHEMA), tuple(notes))


def _triple(key: SeriesKey) -> tuple[str, str, str]:
    return key.exchange, key.symbol, key.timeframe.value


def _day_range(x: LoadedSeries, cut: int) -> tuple[date, date]:
    """The first and the last complete UTC day of ``x``'s bars closed by ``cut`` (the first may
    be partial: its bars are there, from some hour on). A day is complete when a bar closes at
    or after its end; a bar closing at 00:00 belongs to the day before."""
    closes = (x.bars["ts"] + x.key.timeframe.ms).filter(x.bars["ts"] + x.key.timeframe.ms <= cut)
    if closes.is_empty():
        raise InputError(f"{x.key}: no bar closed by {iso_utc(cut)} UTC")
    first, last = int(closes[0]), int(closes[-1])
    return utc_date(first - 1), utc_date(last - last % DAY_MS - DAY_MS)


def _default_day(loaded: Sequence[LoadedSeries]) -> date:
    """The last complete UTC day of the series' data (of the one that reaches furthest)."""
    days = []
    for x in loaded:
        try:
            days.append(_day_range(x, now_ms())[1])
        except InputError:
            continue
    if not days:
        raise InputError("no bar of " + ", ".join(str(x.key) for x in loaded) + " has closed yet")
    return max(days)


def _check_day(x: LoadedSeries, day: date) -> None:
    first, last = _day_range(x, now_ms())
    if last < first:
        raise InputError(f"{x.key}: no complete UTC day in its data yet (its bars start on "
                         f"{first.isoformat()})")  # fmt: skip
    if not first <= day <= last:
        raise InputError(f"{x.key}: {day.isoformat()} is outside its data: its complete UTC "
                         f"days are {first.isoformat()} .. {last.isoformat()}")  # fmt: skip


def _sheet_row(series: _Series, day: date) -> dict[str, Any]:
    key, end = series.key, day_start_ms(day) + DAY_MS
    row = _last_complete(series, end)
    closes = pl.col("ts") + key.timeframe.ms
    today = series.events.filter((closes > end - DAY_MS) & (closes <= end))
    flags = today.filter(pl.col("signal").is_in(DIVERGENCES))
    others = today.filter(~pl.col("signal").is_in(DIVERGENCES))
    return {"date": day, "exchange": key.exchange, "symbol": key.symbol,
            "timeframe": key.timeframe.value, **_values(series, row),
            "divergences": signal_list(flags), "signals": signal_list(others)}  # fmt: skip


def sheet_folder(session: Session) -> Path:
    """``[watch] sheet_dir`` (relative to the home folder), else ``<home>/sheets``."""
    given = session.settings.watch.sheet_dir
    if not given:
        return session.home / "sheets"
    path = Path(given).expanduser()
    return path if path.is_absolute() else session.home / path


def sheet_document(rows: pl.DataFrame) -> pl.DataFrame:
    """The sheet as files hold it: ``date`` as ``YYYY-MM-DD``, the bar as ``bar_utc`` text
    (``2024-05-03 20:00``), values raw (fractions, not percents)."""
    return rows.with_columns(
        pl.col("date").dt.strftime("%Y-%m-%d"),
        iso_utc_expr("bar_ts").alias("bar_ts"),
    ).rename({"bar_ts": "bar_utc"})


def append_sheet(session: Session, keys: Sequence[SeriesKey], day: date) -> Path:
    """Add ``day``'s rows of ``keys`` (the ``[watch] series`` when empty) to the cumulative
    ``<sheet folder>/sheet.csv``: a (date, exchange, symbol, timeframe) already there is
    replaced, never repeated. Written atomically (a temporary file, then ``os.replace``)."""
    keys = watched_keys(session, keys)
    parts = []
    for batch in sheet_batches(keys):  # a few series at a time: a long watch's memory stays flat
        try:
            parts.append(sheet(session, SheetOptions(day, tuple(batch))).rows)
        except InputError as exc:  # the day is outside every series of this batch
            parts.append(pl.DataFrame([_error_row(k, str(exc), {"date": day}) for k in batch],
                                      schema=SHEET_SCHEMA))  # fmt: skip
    path = sheet_folder(session) / SHEET_FILE
    new = sheet_document(pl.concat(parts)).cast(pl.String)
    old = _read_sheet(path)
    if old is not None:
        stale = old.join(new.select(SHEET_KEY), on=list(SHEET_KEY), how="anti")
        new = pl.concat([stale, new], how="diagonal")
    _write_atomic(new.sort(SHEET_KEY, maintain_order=True), path)
    return path


SHEET_BATCH = 16  # series analysed together by append_sheet


def sheet_batches(keys: Sequence[SeriesKey], size: int = SHEET_BATCH) -> list[list[SeriesKey]]:
    """``keys`` in batches of about ``size``, the series of one base asset always together (the
    cross-venue and cross-margin signals compare them), in their order of first appearance.

    ``watch`` appends 200 series' rows at each UTC day close: analysed all at once, their
    features' buffers raised the process's resident memory by ~100 MiB each day
    (``bench/bench_watch.py``); a batch at a time keeps the high-water mark of one batch."""
    groups: dict[str, list[SeriesKey]] = {}
    for k in keys:
        groups.setdefault(parse_symbol(k.symbol)[0], []).append(k)
    batches: list[list[SeriesKey]] = []
    for group in groups.values():
        if batches and len(batches[-1]) + len(group) <= size:
            batches[-1].extend(group)
        else:
            batches.append(list(group))
    return batches


def _read_sheet(path: Path) -> pl.DataFrame | None:
    if not path.exists():
        return None
    try:
        old = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(
            f"cannot read the sheet {path} ({exc}); move it away to start anew"
        ) from None
    missing = [c for c in SHEET_KEY if c not in old.columns]
    if missing:
        raise InputError(f"the sheet {path} lacks the column(s) {missing}; move it away to start "
                         "anew")  # fmt: skip
    return old


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            frame.write_csv(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "BRIEF_SCHEMA",
    "DIVERGENCES",
    "NO_ALERT",
    "SHEET_FILE",
    "SHEET_SCHEMA",
    "BriefOptions",
    "BriefReport",
    "SheetOptions",
    "SheetReport",
    "alert_line",
    "append_sheet",
    "brief",
    "brief_text",
    "last_alerts",
    "sheet",
    "sheet_document",
    "sheet_folder",
    "signal_list",
    "watched_keys",
]
