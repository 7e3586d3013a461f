"""Paper trading (SPEC sections 4 and 7): the backtest's trade model on live bars, with a persistent
account and a journal of every decision and its reason.

**The same code as the backtest.** An account's bars go through the backtest's input builder
(:func:`~oiradar.app.backtest.entry_inputs`: the same loader, features, signal mask and venue tiers)
and :class:`~oiradar.backtest.TradeModel`, which a hypothesis test holds equal to the numba engine.
At each :func:`advance` the model is re-run from the account's start bar over every stored closed
bar, deterministically: features and signals never look ahead, so the decisions of a bar do not
change when later bars arrive, and the journal is written idempotently (an entry already written is
kept as it is). Paper trades therefore equal backtest trades on the same bars; a test shows it.

**Live, not hindsight.** The model never sees a "last bar": an open position stays open and a
signal at the latest close queues an entry for the next open. :func:`stop` closes an open position
at the last close (the backtest's end-of-data rule), reason "stopped by the user".

**Against the backtest.** :func:`status` sets each account's running hit rate and mean R-multiple
beside the backtest of the same configuration on the history *before* the account's start bar
(Wilson interval for the hit rate, bootstrap percentile interval for the mean R). The account is
"on track" when its running hit rate and mean R both lie inside the backtest's intervals, "outside
the backtest's interval" when either lies above or below it; below ``min_trades`` closed trades on
either side there is nothing to judge.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from oiradar.app.backtest import entry_inputs
from oiradar.app.series import AS_STORED, load_series, one_key
from oiradar.app.session import Session
from oiradar.app.values import finite_or_none
from oiradar.backtest import BacktestInputs, Bar, ExitReason, TradeModel, TradeParams, run_backtest
from oiradar.backtest import trade_params as make_trade_params
from oiradar.backtest.paper import PaperTrade
from oiradar.config import FeatureSettings, Settings, SignalSettings
from oiradar.errors import InputError, OiradarError
from oiradar.model import SeriesKey, Side, Timeframe, now_ms
from oiradar.signals import SIGNALS
from oiradar.stats import Interval, percentile_interval, wilson_interval
from oiradar.store.paper import (
    Account,
    AccountState,
    ClosedTrade,
    JournalEntry,
    JournalKind,
    NewAccount,
    PaperStore,
)
from oiradar.timeutil import ceil_to, iso_utc

MIN_TRADES = 10  # closed trades needed, in the account and in the backtest, before a verdict
ON_TRACK = "on track"
OUTSIDE = "outside the backtest's interval"
STOPPED_REASON = "stopped by the user"
STOPPED_LABEL = "stopped"  # the trade reason of a position closed by `paper stop`


# ------------------------------------------------------------------------- start
@dataclass(frozen=True)
class PaperStart:
    """``paper start``: the series (one stored series; exchange/symbol may be left out when only one
    matches), the side (``[paper] side``), the starting equity (``[backtest] initial_equity``), and
    the first bar it trades: ``since`` (epoch ms, rounded up to a bar open) or, by default, the next
    bar to close after the last stored one."""

    exchange: str | None = None
    symbol: str | None = None
    timeframe: Timeframe = Timeframe.H4
    side: Side | None = None
    equity: float | None = None
    since: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # TradeParams fields to override
    signal: str | None = None  # default: [paper] signal
    name: str | None = None  # default: <base>-<side>-<timeframe>


@dataclass(frozen=True)
class Started:
    account: Account
    last_closed_ts: int  # the last closed bar stored when it started
    next_ts: int  # the bar after it: the next to close
    note: str = ""  # e.g. "--from is before the first stored bar: starts at it"


def start(session: Session, opts: PaperStart, *, now: int | None = None) -> Started:
    """Open a paper account on a stored series; refused when one already runs on it and side."""
    now = now_ms() if now is None else now
    s = session.settings
    side = opts.side or Side.parse(s.paper.side)
    signal = _check_signal(opts.signal or s.paper.signal)
    if "side" in opts.params:
        raise InputError("--param side: the side is set with --side long|short")
    key = one_key(session.catalog, opts.exchange, opts.symbol, opts.timeframe, None)
    ts = _closed(load_series(session.catalog, key, AS_STORED).bars, key, now)["ts"]
    if ts.len() == 0:
        raise InputError(f"{key} has no closed bar stored yet; fetch or import it first")
    start_ts, note = _start_bar(key, opts.since, int(ts[0]), int(ts[-1]))
    p = make_trade_params(
        s, key.exchange, side=side, initial_equity=opts.equity, **dict(opts.params)
    )
    new = NewAccount(name=opts.name, exchange=key.exchange, symbol=key.symbol,
                     timeframe=key.timeframe.value, side=side.value, signal=signal,
                     params=_snapshot(s, key, p, flat_tier="mmr" in opts.params),
                     start_ts=start_ts, equity=p.initial_equity, created_ms=now)  # fmt: skip
    with _store(session) as store:
        account = store.create(new)
    return Started(account, int(ts[-1]), int(ts[-1]) + key.timeframe.ms, note)


def _check_signal(signal: str) -> str:
    if signal not in SIGNALS:
        close = difflib.get_close_matches(signal, SIGNALS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(f"unknown signal {signal!r}; {hint}valid: {', '.join(SIGNALS)}")
    return signal


def _start_bar(key: SeriesKey, since: int | None, first: int, last: int) -> tuple[int, str]:
    """The account's first bar: ``since`` rounded up to a bar open (not before the first stored
    bar), else the bar after the last closed one."""
    if since is None:
        return last + key.timeframe.ms, ""
    start_ts = ceil_to(since, key.timeframe.ms)
    if start_ts < first:
        return (
            first,
            f"--from is before the first stored bar: it starts there, {iso_utc(first)} UTC",
        )
    return start_ts, ""


def _snapshot(s: Settings, key: SeriesKey, p: TradeParams, *, flat_tier: bool) -> dict[str, Any]:
    """What the account re-runs with, fixed at its start: the trade parameters and the feature and
    signal settings in force for the symbol (so a later config change does not rewrite history)."""
    sym = s.for_symbol(key.symbol)
    return {"trade": {k: (str(v) if isinstance(v, Side) else v) for k, v in asdict(p).items()},
            "features": sym.features.model_dump(mode="json"),
            "signals": sym.signals.model_dump(mode="json"), "flat_tier": flat_tier}  # fmt: skip


# ------------------------------------------------------------------------- the replay
@dataclass(frozen=True)
class _Before:
    """The model's state before a bar: what its state changes are read against."""

    cash: float
    pos: PaperTrade | None
    funding: float
    pending_entry: tuple[float, float, float] | None
    pending_exit: ExitReason | None
    n_trades: int

    @classmethod
    def of(cls, m: TradeModel) -> _Before:
        return cls(m.cash, m.pos, 0.0 if m.pos is None else m.pos.funding, m.pending_entry,
                   m.pending_exit, len(m.trades))  # fmt: skip


@dataclass
class Replay:
    """An account's model re-run from its start bar over ``x[start:]``."""

    x: BacktestInputs
    start: int
    model: TradeModel
    entries: list[JournalEntry]
    trades: list[ClosedTrade]
    state: AccountState


def _key(a: Account) -> SeriesKey:
    return SeriesKey(exchange=a.exchange, symbol=a.symbol, timeframe=Timeframe(a.timeframe))


def _params(a: Account) -> TradeParams:
    return TradeParams(**a.params["trade"])


def _settings(session: Session, a: Account) -> Settings:
    """The session's settings with the account's feature/signal snapshot (no symbol overrides on
    top: the snapshot holds them already)."""
    snap = a.params
    return session.settings.model_copy(update={
        "features": FeatureSettings(**snap["features"]), "signals": SignalSettings(**snap["signals"]),
        "symbols": {}})  # fmt: skip


def _closed(bars: pl.DataFrame, key: SeriesKey, closed_by: int) -> pl.DataFrame:
    return bars.filter(pl.col("ts") + key.timeframe.ms <= closed_by)


def account_inputs(session: Session, a: Account, closed_by: int) -> BacktestInputs | None:
    """The backtest's inputs for ``a``'s series and configuration over the bars closed by
    ``closed_by`` (history included: features need it); None when no bar has closed."""
    key = _key(a)
    bars = _closed(load_series(session.catalog, key, AS_STORED).bars, key, closed_by)
    if bars.height == 0:
        return None
    x = entry_inputs(_settings(session, a), bars, key, a.signal, Side(a.side))
    return replace(x, tiers=None) if a.params.get("flat_tier") else x


def replay(a: Account, x: BacktestInputs, *, final: bool = False) -> Replay:
    """Feed ``x``'s bars from the account's start bar to :class:`TradeModel`, one at a time, and
    read a journal entry off each state change. ``final``: the last bar is the end (an open
    position closes at its close, as the backtest's last bar does)."""
    assert x.ts is not None
    p = _params(a)
    start = int(np.searchsorted(x.ts, a.start_ts, side="left"))
    model = TradeModel(p, x.tiers)
    arrays = x.as_dict()
    entries: list[JournalEntry] = []
    ts = x.ts[start:]  # by the model's bar index
    for j in range(start, x.n):
        bar = Bar.at(arrays, j)
        before = _Before.of(model)
        equity = model.on_bar(bar, last=final and j == x.n - 1)
        for seq, (kind, why, price, qty, pnl) in enumerate(_decisions(p, model, before, bar, ts)):
            entries.append(JournalEntry(account=a.id, bar_ts=int(x.ts[j]), seq=seq, kind=kind,
                                        reason=why, equity=equity, price=price, qty=qty, pnl=pnl))  # fmt: skip
    trades = [_closed_trade(a.id, t, ts) for t in model.trades]
    return Replay(x, start, model, entries, trades, _state(a, model, x, start))


def _state(a: Account, m: TradeModel, x: BacktestInputs, start: int) -> AccountState:
    assert x.ts is not None
    if start >= x.n:
        return AccountState(last_bar_ts=None, equity=m.cash, cash=m.cash)
    close = float(x.close[-1])
    pos = m.pos
    position = None if pos is None else {
        "side": a.side, "entry_ts": int(x.ts[start + pos.entry_bar]), "entry_price": pos.entry,
        "qty": pos.qty, "stop": pos.stop, "target": finite_or_none(pos.target),
        "liq_price": finite_or_none(pos.liq), "margin": pos.margin, "risk": pos.risk_amt,
        "funding": pos.funding, "mark": close, "unrealised": m.equity(close) - m.cash,
    }  # fmt: skip
    pending: dict[str, Any] | None = None
    if m.pending_exit is not None:
        pending = {"order": "exit", "reason": m.pending_exit.label}
    elif m.pending_entry is not None:
        pending = {"order": "entry", "stop": finite_or_none(m.pending_entry[0])}
    return AccountState(last_bar_ts=int(x.ts[-1]), equity=m.equity(close), cash=m.cash,
                        position=position, pending=pending)  # fmt: skip


def _closed_trade(account: int, t: PaperTrade, ts: np.ndarray) -> ClosedTrade:
    assert t.reason is not None
    reason = STOPPED_LABEL if t.reason is ExitReason.END else t.reason.label
    return ClosedTrade(account=account, entry_ts=int(ts[t.entry_bar]), exit_ts=int(ts[t.exit_bar]),
                       entry_price=float(t.entry), exit_price=float(t.exit), qty=float(t.qty),
                       stop=float(t.stop), target=float(t.target), liq_price=float(t.liq),
                       margin=float(t.margin), risk=float(t.risk_amt), fees=float(t.fees),
                       funding=float(t.funding), pnl=float(t.pnl), reason=reason,
                       equity_after=float(t.equity_after))  # fmt: skip


# ------------------------------------------------------------------------- reasons
Decision = tuple[
    JournalKind, str, float | None, float | None, float | None
]  # kind, why, px, qty, pnl


def _px(v: float) -> str:
    return f"{v:,.6g}" if math.isfinite(v) else "n/a"


def _decisions(
    p: TradeParams, m: TradeModel, b: _Before, bar: Bar, ts: np.ndarray
) -> list[Decision]:
    """What happened in the bar just fed, in the order it happened: funding at the open, an exit at
    the open, the queued entry filled or skipped, an intrabar (or end-of-data) exit, then what the
    close queued."""
    out: list[Decision] = []
    j = m.j
    if b.pos is not None and b.pos.funding != b.funding:
        out.append(_funding(b.pos, b.pos.funding - b.funding, bar))
    closed = m.trades[b.n_trades :]
    out += [_exit(p, t, bar) for t in closed if t.entry_bar < j]
    if b.pending_entry is not None:
        opened = next((t for t in [*closed, m.pos] if t is not None and t.entry_bar == j), None)
        out.append(_entry(p, opened, b, bar) if opened is not None
                   else _skipped(p, b.pending_entry, b.cash, bar))  # fmt: skip
    out += [_exit(p, t, bar) for t in closed if t.entry_bar == j]
    out += _at_close(p, m, bar, ts)
    return out


def _funding(pos: PaperTrade, payment: float, bar: Bar) -> Decision:
    verb = "received" if payment > 0 else "paid"
    why = (f"funding rate {bar.funding:+.4%} settled at the open {_px(bar.open)} on "
           f"{pos.qty:,.6g} held: {verb} {abs(payment):,.2f}")  # fmt: skip
    return JournalKind.FUNDING, why, bar.open, pos.qty, payment


def _entry(p: TradeParams, t: PaperTrade, b: _Before, bar: Bar) -> Decision:
    notional = t.qty * t.entry
    lev = notional / t.margin if t.margin else math.nan
    share = t.risk_amt / b.cash if b.cash > 0 else math.nan
    exposure = notional / b.cash if b.cash > 0 else math.nan
    target = f", target {_px(t.target)} ({p.take_profit_r:g}R)" if math.isfinite(t.target) else ""
    liq = f", liquidation {_px(t.liq)}" if t.liq > 0 else ""
    if t.liq > 0 and p.use_stop and (t.liq < t.stop if p.side is Side.SHORT else t.liq > t.stop):
        liq += " (before the stop: a liquidation comes first)"
    why = (f"filled at the open {_px(bar.open)} with {p.slippage:.2%} slippage: qty {t.qty:,.6g} "
           f"at {_px(t.entry)}, notional {notional:,.2f} ({exposure:.2f}x equity; margin "
           f"{t.margin:,.2f} at {lev:g}x isolated), risk {t.risk_amt:,.2f} ({share:.2%} of equity) "
           f"to the stop {_px(t.stop)}{target}{liq}")  # fmt: skip
    return JournalKind.ENTRY, why, t.entry, t.qty, None


def _skipped(
    p: TradeParams, pending: tuple[float, float, float], cash: float, bar: Bar
) -> Decision:
    """Why the queued entry was not taken: the conditions :class:`TradeModel` checks, in its order."""
    stop, atr, _ = pending
    short = p.side is Side.SHORT
    if not atr > 0:
        why = "no ATR at the signal bar (the stop needs atr_14): entry skipped"
    elif not (stop > bar.open if short else stop < bar.open):
        where = "above" if short else "below"
        why = (f"the stop {_px(stop)} is not {where} the open {_px(bar.open)} (the price gapped "
               "past it): entry skipped")  # fmt: skip
    elif cash <= 0:
        why = "no equity left: entry skipped"
    else:
        why = "entry skipped"
    return JournalKind.SKIPPED, why, bar.open, None, None


def _exit(p: TradeParams, t: PaperTrade, bar: Bar) -> Decision:
    reason = t.reason
    short = p.side is Side.SHORT
    if reason is ExitReason.STOP:
        gapped = bar.open >= t.stop if short else bar.open <= t.stop
        head = (f"the open {_px(bar.open)} gapped through the stop {_px(t.stop)}: filled at the open"
                if gapped else f"stop {_px(t.stop)} touched intrabar "
                f"({'high' if short else 'low'} {_px(bar.high if short else bar.low)})")  # fmt: skip
    elif reason is ExitReason.LIQUIDATION:
        head = f"liquidated at {_px(t.liq)}: the isolated margin {t.margin:,.2f} is lost"
    elif reason is ExitReason.TAKE_PROFIT:
        head = f"take-profit at {p.take_profit_r:g}R: target {_px(t.target)} reached"
    elif reason is ExitReason.THESIS:
        head = f"thesis broken (OI {'rose' if short else 'fell'} {p.thesis_streak} bars in a row): out at the open"
    elif reason is ExitReason.TIME:
        head = f"time stop ({p.time_stop} bars held): out at the open"
    else:
        head = f"{STOPPED_REASON}: closed at the last close {_px(bar.close)}"
    r = t.pnl / t.risk_amt if t.risk_amt else math.nan
    why = f"{head}; P&L {t.pnl:+,.2f} ({r:+.2f}R, fees {t.fees:,.2f}, funding {t.funding:+,.2f})"
    return JournalKind.EXIT, why, t.exit, t.qty, t.pnl


def _at_close(p: TradeParams, m: TradeModel, bar: Bar, ts: np.ndarray) -> list[Decision]:
    short = p.side is Side.SHORT
    if m.pending_exit is ExitReason.THESIS:
        word = "rose" if short else "fell"
        why = (f"OI {word} {bar.streak:g} bars in a row (>= {p.thesis_streak}): the thesis is "
               "broken; exit at the next open")  # fmt: skip
        return [(JournalKind.EXIT_QUEUED, why, bar.close, None, None)]
    if m.pending_exit is ExitReason.TIME:
        why = f"time stop: {p.time_stop} bars held; exit at the next open"
        return [(JournalKind.EXIT_QUEUED, why, bar.close, None, None)]
    if m.pending_entry is not None:
        return [_queued(p, m.pending_entry, bar)]
    if not bar.entry:
        return []
    if m.pos is not None:
        since = iso_utc(int(ts[m.pos.entry_bar]))
        why = f"entry signal while {p.side} since {since}: one position at a time, ignored"
    elif m.cash <= 0:
        why = "entry signal ignored: no equity left"
    else:
        return []  # the account stops at this close: the stop's own entry says what it drops
    return [(JournalKind.IGNORED, why, bar.close, None, None)]


def _queued(p: TradeParams, pending: tuple[float, float, float], bar: Bar) -> Decision:
    stop, atr, z = pending
    short = p.side is Side.SHORT
    extreme = stop + (-1 if short else 1) * p.stop_atr * atr  # stop = extreme -/+ k x ATR
    verb, word, sign = ("sell", "high", "+") if short else ("buy", "low", "-")
    if not atr > 0:
        how = "no ATR yet, so no stop: the entry will be skipped"
    else:
        how = (f"stop {_px(stop)} = {p.stop_lookback}-bar {word} {_px(extreme)} {sign} "
               f"{p.stop_atr:g} x ATR {_px(atr)}")  # fmt: skip
    if not p.scale_by_oi:
        sizing = f"risk {p.risk:.2%} of equity"
    elif math.isfinite(z):
        sizing = f"risk {p.risk:.2%} x {1 / (1 + max(0.0, z)):.2f} (OI z {z:+.2f}) of equity"
    else:
        sizing = f"risk {p.risk:.2%} of equity (no OI z yet to scale it)"
    why = f"entry signal at the close {_px(bar.close)}: {verb} at the next open; {how}; {sizing}"
    return JournalKind.ENTRY_QUEUED, why, stop, None, None


# ------------------------------------------------------------------------- advance
@contextmanager
def _store(session: Session) -> Iterator[PaperStore]:
    store = PaperStore.open(session.home)
    try:
        yield store
    finally:
        store.close()


def advance(
    session: Session, key: SeriesKey | None = None, *, closed_by: int | None = None
) -> list[JournalEntry]:
    """Move every running account (of ``key``'s series when given) over the stored bars closed by
    ``closed_by`` (default: now), and write the journal entries and trades not written yet.

    Idempotent: run it after each newly closed bar (``oiradar watch`` does), or any time; what was
    written already is kept as it was. Returns the new journal entries, by account and bar."""
    closed_by = now_ms() if closed_by is None else closed_by
    series = None if key is None else (key.exchange, key.symbol, key.timeframe.value)
    new: list[JournalEntry] = []
    with _store(session) as store:
        for a in store.accounts(running=True, series=series):
            new += _advance_one(session, store, a, closed_by)[0]
    return new


def _advance_one(
    session: Session, store: PaperStore, a: Account, closed_by: int
) -> tuple[list[JournalEntry], Replay | None]:
    x = account_inputs(session, a, closed_by)
    if x is None:
        return [], None
    run = replay(a, x)
    return store.record(a.id, run.entries, run.trades, run.state, now_ms()), run


# ------------------------------------------------------------------------- stop
@dataclass(frozen=True)
class Stopped:
    account: Account
    entries: list[JournalEntry]  # written by the stop (the closing exit, the stop itself)
    trade: ClosedTrade | None  # the position it closed


def stop(session: Session, ref: str, *, closed_by: int | None = None) -> Stopped:
    """Stop account ``ref`` (id or name): an open position closes at the last close (the
    backtest's end-of-data fill), a queued order is dropped, and it trades no more."""
    closed_by = now_ms() if closed_by is None else closed_by
    with _store(session) as store:
        a = _find(store, ref)
        if not a.running:
            raise InputError(f"paper account #{a.id} {a.name!r} was stopped already "
                             f"({iso_utc(a.stopped_ms or 0)} UTC)")  # fmt: skip
        live = _advance_one(session, store, a, closed_by)[1]
        a = _find(store, ref)
        run = None if live is None else replay(a, live.x, final=True)
        entries, trades, state = ([], [], a.state) if run is None else (run.entries, run.trades,
                                                                         run.state)  # fmt: skip
        last_ts = a.state.last_bar_ts if a.state.last_bar_ts is not None else a.start_ts
        seq = max(
            [e.seq + 1 for e in [*entries, *(live.entries if live else [])] if e.bar_ts == last_ts],
            default=0,
        )  # after the last bar's own entries
        why = STOPPED_REASON + _dropped(a.state.pending)
        mark = JournalEntry(account=a.id, bar_ts=last_ts, seq=seq, kind=JournalKind.STOPPED,
                            reason=why, equity=state.equity)  # fmt: skip
        new = store.record(a.id, [*entries, mark], trades, state, now_ms(), stopped=True)
        done = _find(store, ref)
    closing = next((t for t in trades if t.reason == STOPPED_LABEL), None)
    return Stopped(done, new, closing)


def _dropped(pending: dict[str, Any] | None) -> str:
    if not pending:
        return ""
    what = "entry" if pending.get("order") == "entry" else f"exit ({pending.get('reason')})"
    return f"; the {what} queued for the next open is dropped"


def _find(store: PaperStore, ref: str) -> Account:
    a = store.find(ref)
    if a is None:
        known = ", ".join(f"#{x.id} {x.name} ({x.status})" for x in store.accounts()) or "none yet"
        raise InputError(f"no paper account {ref!r}; accounts: {known} "
                         "(start one with `oiradar paper start`)")  # fmt: skip
    return a


# ------------------------------------------------------------------------- journal
@dataclass(frozen=True)
class PaperJournal:
    account: Account
    entries: list[JournalEntry]  # the last ``tail`` (all when tail is None), in bar order
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"account": _account_dict(self.account), "total": self.total,
                "entries": [_entry_dict(e) for e in self.entries]}  # fmt: skip


def journal(
    session: Session, ref: str, tail: int | None = 20, *, closed_by: int | None = None
) -> PaperJournal:
    """The journal of account ``ref`` (id or name), brought up to date first when it runs."""
    closed_by = now_ms() if closed_by is None else closed_by
    with _store(session) as store:
        a = _find(store, ref)
        if a.running:
            _advance_one(session, store, a, closed_by)
            a = _find(store, ref)
        return PaperJournal(a, store.journal(a.id, tail), store.journal_count(a.id))


def trades(session: Session, ref: str) -> list[ClosedTrade]:
    """The closed trades of account ``ref`` (as written: call :func:`advance` first)."""
    with _store(session) as store:
        return store.trades(_find(store, ref).id)


# ------------------------------------------------------------------------- status
@dataclass(frozen=True)
class BacktestBand:
    """The backtest of an account's configuration on the history before its start bar."""

    first_ts: int
    last_ts: int  # the last bar before the start
    trades: int
    hit_rate: Interval  # Wilson
    mean_r: Interval  # bootstrap percentile


@dataclass(frozen=True)
class AccountStatus:
    account: Account
    bars: int  # closed bars traded since the start
    trades: int
    wins: int
    hit_rate: Interval  # Wilson, of the account's closed trades
    mean_r: Interval  # bootstrap percentile, of their R multiples
    backtest: BacktestBand | None  # None: no history before the start (or it could not be read)
    verdict: str
    why: str  # what the verdict rests on
    error: str | None = None  # the series could not be read: the state is as last written

    @property
    def total_return(self) -> float:
        return self.account.state.equity / float(self.account.params["trade"]["initial_equity"]) - 1

    def to_dict(self) -> dict[str, Any]:
        bt = self.backtest
        return {"account": _account_dict(self.account), "bars": self.bars,
                "total_return": finite_or_none(self.total_return), "trades": self.trades,
                "wins": self.wins, "hit_rate": _interval_dict(self.hit_rate),
                "mean_r": _interval_dict(self.mean_r), "verdict": self.verdict, "why": self.why,
                "error": self.error,
                "backtest": None if bt is None else {
                    "first_ts": bt.first_ts, "last_ts": bt.last_ts, "trades": bt.trades,
                    "hit_rate": _interval_dict(bt.hit_rate), "mean_r": _interval_dict(bt.mean_r)}}  # fmt: skip


@dataclass(frozen=True)
class PaperStatus:
    accounts: list[AccountStatus]
    min_trades: int
    conf: float

    def to_dict(self) -> dict[str, Any]:
        return {"min_trades": self.min_trades, "conf": self.conf,
                "accounts": [s.to_dict() for s in self.accounts]}  # fmt: skip


def status(
    session: Session, *, closed_by: int | None = None, min_trades: int = MIN_TRADES
) -> PaperStatus:
    """Every account (running ones advanced first): equity, open position, trades, hit rate and
    mean R beside the backtest's interval for the same configuration, and the verdict."""
    closed_by = now_ms() if closed_by is None else closed_by
    out = []
    with _store(session) as store:
        for a in store.accounts():
            error = None
            if a.running:
                try:
                    _advance_one(session, store, a, closed_by)
                except OiradarError as exc:
                    error = str(exc)
                a = _find(store, str(a.id))
            out.append(_account_status(session, a, store.trades(a.id), min_trades, error))
    return PaperStatus(out, min_trades, session.settings.evidence.conf)


def _account_status(
    session: Session, a: Account, done: list[ClosedTrade], k: int, error: str | None
) -> AccountStatus:
    ev = session.settings.evidence
    r = np.array([t.r_multiple for t in done], dtype=np.float64)
    wins = int(sum(t.pnl > 0 for t in done))
    hit = wilson_interval(wins, len(done), ev.conf)
    mean_r = mean_interval(r, ev.reps, ev.conf, ev.seed)
    band = None
    if error is None:
        try:
            band = backtest_band(session, a)
        except OiradarError as exc:
            error = str(exc)
    verdict, why = judge(len(done), hit, mean_r, band, k)
    last = a.state.last_bar_ts
    bars = 0 if last is None else (last - a.start_ts) // _key(a).timeframe.ms + 1
    return AccountStatus(a, bars, len(done), wins, hit, mean_r, band, verdict, why, error)


def backtest_band(session: Session, a: Account) -> BacktestBand | None:
    """The backtest of ``a``'s configuration on the bars before its start bar (the same inputs,
    the same engine as ``oiradar backtest``); None when there are none."""
    x = account_inputs(session, a, a.start_ts)
    if x is None or x.ts is None:
        return None
    ev = session.settings.evidence
    t = run_backtest(x, _params(a)).trades
    pnl = t["pnl"].to_numpy()
    wins = int((pnl > 0).sum())
    return BacktestBand(int(x.ts[0]), int(x.ts[-1]), t.height, wilson_interval(wins, t.height, ev.conf),
                        mean_interval(t["r_multiple"].to_numpy(), ev.reps, ev.conf, ev.seed))  # fmt: skip


def mean_interval(r: np.ndarray, reps: int, conf: float, seed: int) -> Interval:
    """The mean of ``r`` with a percentile bootstrap interval (trades resampled with replacement)."""
    r = r[np.isfinite(r)]
    if r.size == 0:
        return Interval(math.nan, math.nan, math.nan, conf)
    idx = np.random.default_rng(seed).integers(0, r.size, size=(reps, r.size))
    return percentile_interval(float(r.mean()), r[idx].mean(axis=1), conf)


def judge(
    n: int, hit: Interval, mean_r: Interval, band: BacktestBand | None, k: int = MIN_TRADES
) -> tuple[str, str]:
    """The verdict and what it rests on (issue 14): the account's running hit rate and mean
    R-multiple each inside the interval the backtest measured are "on track"; either one above
    or below it is "outside the backtest's interval". The account's own intervals are shown
    beside it (with few trades they are wide: a verdict on 10 trades is a weak one)."""
    if band is None:
        return "no backtest to compare with", "no stored history before the start bar"
    if band.trades < k:
        return ("no backtest to compare with",
                f"the backtest before the start has {band.trades} trades, fewer than {k}")  # fmt: skip
    if n < k:
        return f"too few trades to judge (n < {k})", f"{n} closed so far"
    off = [f"{name} {_side_of(mine, theirs)}" for name, mine, theirs in
           (("hit rate", hit, band.hit_rate), ("mean R", mean_r, band.mean_r))
           if _side_of(mine, theirs)]  # fmt: skip
    if off:
        return OUTSIDE, "; ".join(off)
    return ON_TRACK, "the hit rate and mean R are inside the backtest's intervals"


def _side_of(mine: Interval, theirs: Interval) -> str:
    if mine.estimate < theirs.low:
        return "below"
    if mine.estimate > theirs.high:
        return "above"
    return ""  # inside, or NaN: nothing to say


# ------------------------------------------------------------------------- JSON
def _interval_dict(i: Interval) -> dict[str, float | None]:
    return {"estimate": finite_or_none(i.estimate), "low": finite_or_none(i.low),
            "high": finite_or_none(i.high)}  # fmt: skip


def _account_dict(a: Account) -> dict[str, Any]:
    s = a.state
    return {"id": a.id, "name": a.name, "exchange": a.exchange, "symbol": a.symbol,
            "timeframe": a.timeframe, "side": a.side, "signal": a.signal, "status": a.status,
            "start_ts": a.start_ts, "created_ms": a.created_ms, "stopped_ms": a.stopped_ms,
            "last_bar_ts": s.last_bar_ts, "equity": s.equity, "cash": s.cash,
            "position": s.position, "pending": s.pending, "params": a.params["trade"]}  # fmt: skip


def _entry_dict(e: JournalEntry) -> dict[str, Any]:
    return {"bar_ts": e.bar_ts, "seq": e.seq, "kind": str(e.kind), "reason": e.reason,
            "price": finite_or_none(e.price), "qty": finite_or_none(e.qty),
            "pnl": finite_or_none(e.pnl), "equity": finite_or_none(e.equity)}  # fmt: skip


__all__ = [
    "MIN_TRADES",
    "ON_TRACK",
    "OUTSIDE",
    "STOPPED_REASON",
    "Account",
    "AccountStatus",
    "BacktestBand",
    "ClosedTrade",
    "JournalEntry",
    "JournalKind",
    "PaperJournal",
    "PaperStart",
    "PaperStatus",
    "Replay",
    "Started",
    "Stopped",
    "account_inputs",
    "advance",
    "backtest_band",
    "journal",
    "judge",
    "mean_interval",
    "replay",
    "start",
    "status",
    "stop",
    "trades",
]
