"""Paper trading for people: the account started or stopped, each account's status beside the
backtest's interval, and the journal of decisions with their reasons."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import polars as pl

from oiradar.app.values import finite_or_none
from oiradar.render.console import say
from oiradar.render.formats import OutFormat, iso, percent, settle_unit
from oiradar.render.tables import as_data, echo_json, show

if TYPE_CHECKING:  # the use cases load their lower layers: only their types here
    from oiradar.app.paper import (
        Account,
        AccountStatus,
        PaperJournal,
        PaperStatus,
        Started,
        Stopped,
    )
    from oiradar.stats import Interval

JOURNAL_KEY = ("bar_ts", "kind", "pnl", "equity", "reason")  # price, qty: in the reason; --wide
JOURNAL_HEADERS = {"bar_ts": "bar (UTC)", "qty": "qty"}
START_HINT = "start one with `oiradar paper start -e EXCHANGE -s SYMBOL -t 4h`"


def _amount(v: float | None, unit: str = "", sign: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    text = f"{v:+,.2f}" if sign else f"{v:,.2f}"
    return f"{text} {unit}" if unit else text


def _px(v: Any) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:,.6g}"


def _r(v: float) -> str:
    return f"{v:+.2f}" if math.isfinite(v) else "n/a"


def _rate(i: Interval) -> str:
    if not math.isfinite(i.estimate):
        return "n/a"
    return f"{percent(i.estimate)} [{percent(i.low)}, {percent(i.high)}]"


def _mean_r(i: Interval) -> str:
    if not math.isfinite(i.estimate):
        return "n/a"
    band = f" [{_r(i.low)}, {_r(i.high)}]" if math.isfinite(i.low) else ""
    return f"{_r(i.estimate)}{band}"


def title(a: Account) -> str:
    return f"#{a.id} {a.name}: {a.series}, {a.side} on {a.signal} ({a.status})"


# ------------------------------------------------------------------------- start / stop
def show_started(started: Started) -> None:
    a = started.account
    unit = settle_unit(a.symbol)
    say(f"Started paper account {title(a)} with {_amount(a.state.equity, unit)}.")
    last = started.last_closed_ts
    if last is None or a.start_ts <= last:
        when = f"the bar opening {iso(a.start_ts)} UTC (on the stored history)"
    elif a.start_ts == started.next_ts:
        when = (f"the bar opening {iso(a.start_ts)} UTC, the next to close (the last stored "
                f"closed bar opened {iso(last)} UTC)")  # fmt: skip
    else:
        when = f"the bar opening {iso(a.start_ts)} UTC (after the stored bars)"
    say(f"It trades from {when}.")
    if started.note:
        say(started.note)
    say("`oiradar watch` moves it as bars close; `oiradar paper status` brings it up to date too.")


def show_stopped(stopped: Stopped) -> None:
    a = stopped.account
    unit = settle_unit(a.symbol)
    t = stopped.trade
    if t is not None:
        say(f"Closed the open {a.side} position at {_px(t.exit_price)}: P&L "
            f"{_amount(t.pnl, unit, sign=True)} ({_r(t.r_multiple)}R).")  # fmt: skip
    else:
        say("No position was open.")
    say(f"Stopped paper account {title(a)}: equity {_amount(a.state.equity, unit)}. "
        f"Its journal stays: `oiradar paper journal {a.id}`.")  # fmt: skip


# ------------------------------------------------------------------------- status
def status_frame(status: PaperStatus) -> pl.DataFrame:
    """One row per account: the raw values (for CSV)."""
    rows = []
    for s in status.accounts:
        a, bt = s.account, s.backtest
        rows.append({
            "id": a.id, "name": a.name, "exchange": a.exchange, "symbol": a.symbol,
            "timeframe": a.timeframe, "side": a.side, "status": a.status, "start_ts": a.start_ts,
            "last_bar_ts": a.state.last_bar_ts, "bars": s.bars, "equity": a.state.equity,
            "total_return": s.total_return, "open": a.state.position is not None,
            "trades": s.trades, "hit_rate": finite_or_none(s.hit_rate.estimate),
            "mean_r": finite_or_none(s.mean_r.estimate),
            "bt_trades": None if bt is None else bt.trades,
            "bt_hit_low": None if bt is None else bt.hit_rate.low,
            "bt_hit_high": None if bt is None else bt.hit_rate.high,
            "bt_mean_r_low": None if bt is None else bt.mean_r.low,
            "bt_mean_r_high": None if bt is None else bt.mean_r.high,
            "verdict": s.verdict,
        })  # fmt: skip
    return pl.DataFrame(rows, infer_schema_length=None)


def show_status(status: PaperStatus, fmt: OutFormat) -> None:
    if as_data(fmt, status.to_dict, lambda: status_frame(status)):
        return
    if not status.accounts:
        say(f"No paper accounts yet: {START_HINT}.")
        return
    for i, s in enumerate(status.accounts):
        if i:
            say("")
        for line in account_lines(s):
            say(line)
    say("")
    say(f"Intervals at {status.conf:.0%}: Wilson for the hit rate, bootstrap for the mean R. On "
        "track: the account's hit rate and mean R lie inside the intervals of the backtest of the "
        "same configuration "
        f"on the history before its start; no verdict below {status.min_trades} closed trades "
        "on either side.")  # fmt: skip


def account_lines(s: AccountStatus) -> list[str]:
    """One account's status: what it holds, how it trades, and against the backtest."""
    a = s.account
    unit = settle_unit(a.symbol)
    st = a.state
    lines = [f"Paper account {title(a)}"]
    if st.last_bar_ts is None:
        lines.append(f"  trades from the bar opening {iso(a.start_ts)} UTC: no bar after it has "
                     "closed yet")  # fmt: skip
    else:
        lines.append(f"  from {iso(a.start_ts)} to {iso(st.last_bar_ts)} UTC: {s.bars:,} bars")
    lines.append(f"  equity {_amount(st.equity, unit)} ({percent(s.total_return, 2, sign=True)}), "
                 f"cash {_amount(st.cash, unit)}")  # fmt: skip
    lines.append("  " + _position(a, unit))
    if st.pending:
        order = st.pending.get("order")
        what = "entry" if order == "entry" else f"exit ({st.pending.get('reason')})"
        lines.append(f"  queued for the next open: {what}")
    lines.append(f"  {s.trades:,} closed trades: hit rate {_rate(s.hit_rate)}, mean R "
                 f"{_mean_r(s.mean_r)}")  # fmt: skip
    lines.append("  " + _backtest(s))
    lines.append(f"  verdict: {s.verdict} ({s.why})")
    if s.error:
        lines.append(f"  note: could not bring it up to date: {s.error}")
    return lines


def _position(a: Account, unit: str) -> str:
    pos = a.state.position
    if pos is None:
        return "no open position"
    target = f", target {_px(pos.get('target'))}" if pos.get("target") is not None else ""
    return (f"open: {a.side} {pos['qty']:,.6g} at {_px(pos['entry_price'])} since "
            f"{iso(pos['entry_ts'])}, stop {_px(pos['stop'])}{target}; mark {_px(pos['mark'])}, "
            f"unrealised {_amount(pos['unrealised'], unit, sign=True)}")  # fmt: skip


def _backtest(s: AccountStatus) -> str:
    bt = s.backtest
    if bt is None:
        return "backtest: no stored history before the start bar"
    span = f"{iso(bt.first_ts)[:10]} to {iso(bt.last_ts)[:10]}"
    return (f"backtest before the start ({span}, {bt.trades:,} trades): hit rate "
            f"{_rate(bt.hit_rate)}, mean R {_mean_r(bt.mean_r)}")  # fmt: skip


# ------------------------------------------------------------------------- journal
def journal_frame(j: PaperJournal) -> pl.DataFrame:
    schema = {"bar_ts": pl.Int64, "seq": pl.Int64, "kind": pl.String, "price": pl.Float64,
              "qty": pl.Float64, "pnl": pl.Float64, "equity": pl.Float64, "reason": pl.String}  # fmt: skip
    rows = [{"bar_ts": e.bar_ts, "seq": e.seq, "kind": str(e.kind), "price": e.price, "qty": e.qty,
             "pnl": e.pnl, "equity": e.equity, "reason": e.reason} for e in j.entries]  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def show_journal(j: PaperJournal, fmt: OutFormat, wide: bool = False) -> None:
    if fmt is OutFormat.JSON:
        echo_json(j.to_dict())
        return
    frame = journal_frame(j)
    if fmt is OutFormat.CSV:
        show(frame, fmt)
        return
    a = j.account
    if not j.entries:
        say(f"Paper account {title(a)} has no journal entries yet: " + _why_empty(a))
        return
    unit = settle_unit(a.symbol)
    shown = (
        f"last {len(j.entries):,} of {j.total:,}" if len(j.entries) < j.total else f"{j.total:,}"
    )
    show(frame, title=f"Journal of {title(a)}: {shown} entries", key=JOURNAL_KEY, wide=wide,
         kinds={"price": _px, "qty": _px, "pnl": lambda v: _amount(v, sign=True),
                "equity": _amount},
         headers={**JOURNAL_HEADERS, "pnl": f"pnl {unit}", "equity": f"equity {unit}"})  # fmt: skip


def _why_empty(a: Account) -> str:
    if a.state.last_bar_ts is None:
        return (f"it trades from the bar opening {iso(a.start_ts)} UTC, and no bar after it has "
                "closed (`oiradar watch` keeps the series current)")  # fmt: skip
    return (f"{iso(a.start_ts)} to {iso(a.state.last_bar_ts)} UTC held no signal (the entry "
            f"signal is {a.signal!r})")  # fmt: skip


__all__ = [
    "account_lines",
    "journal_frame",
    "show_journal",
    "show_started",
    "show_status",
    "show_stopped",
    "status_frame",
    "title",
]
