"""Paper trading's accounts, journal and trades: SQLite in WAL mode under ``<home>/live/paper.sqlite``.

An account runs the SPEC section 4 trade model on one series and side from its start bar
(:mod:`oiradar.app.paper`). The model is re-run deterministically from that bar over the stored
closed bars, so every write here is idempotent: a journal entry is keyed by (account, bar time,
kind, seq) and a closed trade by (account, entry time); writing the same decisions again changes
nothing. Each write is one transaction, with the account's state (equity, cash, open position,
last bar replayed), so a crash leaves the journal and the account in step.

Tables:

- ``accounts``: id, name, series and side, the entry signal, ``params`` (JSON: the trade parameters
  and the feature/signal settings at the start), the start bar, ``running``/``stopped``, the
  created/stopped wall-clock times, and the state after the last bar replayed. At most one running
  account per (exchange, symbol, timeframe, side): a partial unique index holds it.
- ``journal``: each decision with its reason, price, quantity, P&L and the equity at its bar's close.
- ``trades``: the closed trades.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from oiradar.errors import InputError
from oiradar.store.sqlite import WalDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    side TEXT NOT NULL,
    signal TEXT NOT NULL,
    params TEXT NOT NULL,
    start_ts INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
    created_ms INTEGER NOT NULL,
    stopped_ms INTEGER,
    last_bar_ts INTEGER,
    equity REAL NOT NULL,
    cash REAL NOT NULL,
    position TEXT,
    pending TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS accounts_one_running
    ON accounts(exchange, symbol, timeframe, side) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account INTEGER NOT NULL REFERENCES accounts(id),
    bar_ts INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    price REAL,
    qty REAL,
    pnl REAL,
    equity REAL NOT NULL,
    written_ms INTEGER NOT NULL,
    UNIQUE (account, bar_ts, kind, seq)
);
CREATE TABLE IF NOT EXISTS trades (
    account INTEGER NOT NULL REFERENCES accounts(id),
    entry_ts INTEGER NOT NULL,
    exit_ts INTEGER NOT NULL,
    entry_price REAL NOT NULL,
    exit_price REAL NOT NULL,
    qty REAL NOT NULL,
    stop REAL,
    target REAL,
    liq_price REAL,
    margin REAL NOT NULL,
    risk REAL NOT NULL,
    fees REAL NOT NULL,
    funding REAL NOT NULL,
    pnl REAL NOT NULL,
    reason TEXT NOT NULL,
    equity_after REAL NOT NULL,
    PRIMARY KEY (account, entry_ts)
);
"""

RUNNING, STOPPED = "running", "stopped"


class JournalKind(StrEnum):
    """What a journal entry records, in the order they can happen inside one bar."""

    FUNDING = "funding"  # at the open: a payment received or paid by the open position
    ENTRY = "entry"  # at the open: the queued entry filled (qty, leverage, risk)
    SKIPPED = "skipped"  # at the open: the queued entry not taken (stop not beyond the open, ...)
    EXIT = "exit"  # at the open (queued), intrabar (stop, target, liquidation) or a close
    EXIT_QUEUED = "exit_queued"  # at the close: thesis broken or time stop, filled at the next open
    ENTRY_QUEUED = "entry_queued"  # at the close: the signal fired; its stop and why
    IGNORED = "ignored"  # at the close: the signal fired while a position was open
    STOPPED = "stopped"  # the user stopped the account


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalEntry:
    """One decision of an account at one bar, with its reason. ``equity``: at the bar's close."""

    account: int
    bar_ts: int
    seq: int  # the order inside the bar
    kind: JournalKind
    reason: str
    equity: float
    price: float | None = None
    qty: float | None = None
    pnl: float | None = None

    @property
    def key(self) -> tuple[int, int, str, int]:
        return self.account, self.bar_ts, str(self.kind), self.seq


@dataclass(frozen=True, kw_only=True, slots=True)
class ClosedTrade:
    """A closed trade of an account (the backtest's trade row, with times instead of bar indices)."""

    account: int
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    qty: float
    stop: float
    target: float
    liq_price: float
    margin: float
    risk: float
    fees: float
    funding: float
    pnl: float
    reason: str
    equity_after: float

    @property
    def r_multiple(self) -> float:
        return self.pnl / self.risk if self.risk else float("nan")


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountState:
    """An account after the last bar replayed: its cash, marked equity, the open position and the
    order queued for the next open (JSON-able dicts, None when there is none)."""

    last_bar_ts: int | None
    equity: float
    cash: float
    position: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _AccountTerms:
    """What an account trades and how: the series, side, entry signal and frozen parameters."""

    exchange: str
    symbol: str
    timeframe: str
    side: str
    signal: str
    params: dict[str, Any]
    start_ts: int
    created_ms: int


@dataclass(frozen=True, kw_only=True, slots=True)
class NewAccount(_AccountTerms):
    name: str | None  # None: ``<base>-<side>-<timeframe>``, numbered when taken
    equity: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Account(_AccountTerms):
    id: int
    name: str
    status: str
    stopped_ms: int | None
    state: AccountState

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def series(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


_ACCOUNT_COLS = ("id, name, exchange, symbol, timeframe, side, signal, params, start_ts, status, "
                 "created_ms, stopped_ms, last_bar_ts, equity, cash, position, pending")  # fmt: skip
_JOURNAL_COLS = "account, bar_ts, seq, kind, reason, equity, price, qty, pnl"
_TRADE_FIELDS = ("account", "entry_ts", "exit_ts", "entry_price", "exit_price", "qty", "stop",
                 "target", "liq_price", "margin", "risk", "fees", "funding", "pnl", "reason",
                 "equity_after")  # fmt: skip


def paper_path(home: Path) -> Path:
    return home / "live" / "paper.sqlite"


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _num(v: float | None) -> float | None:
    """SQLite stores NaN as NULL: keep that explicit (a missing target, a missing liq price)."""
    return None if v is None or v != v else float(v)


def _account(row: Sequence[Any]) -> Account:
    (id_, name, ex, sym, tf, side, signal, params, start, status, created, stopped, last, equity,
     cash, position, pending) = row  # fmt: skip
    state = AccountState(last_bar_ts=last, equity=equity, cash=cash,
                         position=json.loads(position) if position else None,
                         pending=json.loads(pending) if pending else None)  # fmt: skip
    return Account(id=id_, name=name, exchange=ex, symbol=sym, timeframe=tf, side=side,
                   signal=signal, params=json.loads(params), start_ts=start, status=status,
                   created_ms=created, stopped_ms=stopped, state=state)  # fmt: skip


def _entry(row: Sequence[Any]) -> JournalEntry:
    account, bar_ts, seq, kind, reason, equity, price, qty, pnl = row
    return JournalEntry(account=account, bar_ts=bar_ts, seq=seq, kind=JournalKind(kind),
                        reason=reason, equity=equity, price=price, qty=qty, pnl=pnl)  # fmt: skip


def _trade(row: Sequence[Any]) -> ClosedTrade:
    values = dict(zip(_TRADE_FIELDS, row, strict=True))
    for k in ("stop", "target", "liq_price"):
        values[k] = float("nan") if values[k] is None else values[k]
    return ClosedTrade(**values)


class PaperStore(WalDatabase):
    """The paper accounts of one home; thread-safe (one connection, serialised by a lock)."""

    schema = SCHEMA

    @classmethod
    def open(cls, home: Path) -> PaperStore:
        return cls(paper_path(home))

    def __enter__(self) -> PaperStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ accounts
    def create(self, new: NewAccount) -> Account:
        """Open an account; refused when one is already running for the same series and side."""
        with self._tx() as con:
            running = self._running(con, new)
            if running is not None:
                raise InputError(_duplicate_message(running))
            name = new.name or _free_name(con, _default_name(new))
            if con.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise InputError(f"a paper account named {name!r} exists already; choose another "
                                 "--name")  # fmt: skip
            cur = con.execute(
                "INSERT INTO accounts (name, exchange, symbol, timeframe, side, signal, params, "
                "start_ts, created_ms, equity, cash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, new.exchange, new.symbol, new.timeframe, new.side, new.signal,
                 _json(new.params), new.start_ts, new.created_ms, new.equity, new.equity),
            )  # fmt: skip
            row = con.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id = ?",
                              (cur.lastrowid,)).fetchone()  # fmt: skip
        return _account(row)

    @staticmethod
    def _running(con: sqlite3.Connection, new: NewAccount) -> Account | None:
        row = con.execute(
            f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE exchange = ? AND symbol = ? AND "
            "timeframe = ? AND side = ? AND status = 'running'",
            (new.exchange, new.symbol, new.timeframe, new.side),
        ).fetchone()
        return None if row is None else _account(row)

    def accounts(
        self, *, running: bool | None = None, series: tuple[str, str, str] | None = None
    ) -> list[Account]:
        """Accounts by id (only running or stopped ones; only those of (exchange, symbol, tf))."""
        where, args = [], []
        if running is not None:
            where.append("status = ?")
            args.append(RUNNING if running else STOPPED)
        if series is not None:
            where.append("exchange = ? AND symbol = ? AND timeframe = ?")
            args.extend(series)
        sql = f"SELECT {_ACCOUNT_COLS} FROM accounts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_account(r) for r in self._query(sql + " ORDER BY id", args)]

    def find(self, ref: str | int) -> Account | None:
        """The account with this id or name."""
        text = str(ref).strip().lstrip("#")
        if text.isdigit():
            rows = self._query(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id = ?", (int(text),))
            if rows:
                return _account(rows[0])
        rows = self._query(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE name = ?", (text,))
        return _account(rows[0]) if rows else None

    # ------------------------------------------------------------------ writes
    def record(
        self, account: int, entries: Sequence[JournalEntry], trades: Sequence[ClosedTrade],
        state: AccountState, now_ms: int, *, stopped: bool = False,
    ) -> list[JournalEntry]:  # fmt: skip
        """Write the journal entries and closed trades not written yet and the account's state
        (kept when it is older than the stored one): one transaction. ``stopped``: also mark the
        account stopped. Returns the entries that were new."""
        new = []
        with self._tx() as con:
            for e in entries:
                cur = con.execute(
                    f"INSERT OR IGNORE INTO journal ({_JOURNAL_COLS}, written_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (account, e.bar_ts, e.seq, str(e.kind), e.reason, e.equity, _num(e.price),
                     _num(e.qty), _num(e.pnl), now_ms),
                )  # fmt: skip
                if cur.rowcount:
                    new.append(e)
            con.executemany(
                f"INSERT OR IGNORE INTO trades ({', '.join(_TRADE_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(_TRADE_FIELDS))})",
                [tuple(_num(v) if isinstance(v, float) else v
                       for v in (account, *(getattr(t, f) for f in _TRADE_FIELDS[1:])))
                 for t in trades],
            )  # fmt: skip
            self._update_state(con, account, state, stopped, now_ms)
        return new

    @staticmethod
    def _update_state(
        con: sqlite3.Connection, account: int, s: AccountState, stopped: bool, now_ms: int
    ) -> None:
        con.execute(
            "UPDATE accounts SET last_bar_ts = ?, equity = ?, cash = ?, position = ?, pending = ? "
            "WHERE id = ? AND (? OR last_bar_ts IS NULL OR last_bar_ts <= ?)",
            (s.last_bar_ts, s.equity, s.cash, _json(s.position), _json(s.pending), account,
             stopped, -1 if s.last_bar_ts is None else s.last_bar_ts),
        )  # fmt: skip
        if stopped:
            con.execute("UPDATE accounts SET status = 'stopped', stopped_ms = ? WHERE id = ?",
                        (now_ms, account))  # fmt: skip

    # ------------------------------------------------------------------ reads
    def journal(self, account: int, tail: int | None = None) -> list[JournalEntry]:
        """The account's journal in bar order (the last ``tail`` entries when given)."""
        sql = f"SELECT {_JOURNAL_COLS} FROM journal WHERE account = ?"
        if tail is None:
            return [_entry(r) for r in self._query(sql + " ORDER BY bar_ts, seq, id", (account,))]
        rows = self._query(sql + " ORDER BY bar_ts DESC, seq DESC, id DESC LIMIT ?",
                           (account, tail))  # fmt: skip
        return [_entry(r) for r in reversed(rows)]

    def journal_count(self, account: int) -> int:
        return int(self._query("SELECT COUNT(*) FROM journal WHERE account = ?", (account,))[0][0])

    def trades(self, account: int) -> list[ClosedTrade]:
        rows = self._query(f"SELECT {', '.join(_TRADE_FIELDS)} FROM trades WHERE account = ? "
                           "ORDER BY entry_ts", (account,))  # fmt: skip
        return [_trade(r) for r in rows]


def _default_name(new: NewAccount) -> str:
    base = new.symbol.partition("/")[0].lower()
    return f"{base}-{new.side}-{new.timeframe}"


def _free_name(con: sqlite3.Connection, name: str) -> str:
    taken = {r[0] for r in con.execute("SELECT name FROM accounts WHERE name = ? OR name LIKE ?",
                                       (name, f"{name}-%"))}  # fmt: skip
    if name not in taken:
        return name
    return next(f"{name}-{i}" for i in range(2, len(taken) + 3) if f"{name}-{i}" not in taken)


def _duplicate_message(a: Account) -> str:
    return (f"a paper account is already running for {a.series} {a.side}: #{a.id} {a.name!r}; "
            f"see it with `oiradar paper status`, or stop it first with `oiradar paper stop {a.id}`")  # fmt: skip


__all__ = [
    "RUNNING",
    "STOPPED",
    "Account",
    "AccountState",
    "ClosedTrade",
    "JournalEntry",
    "JournalKind",
    "NewAccount",
    "PaperStore",
    "paper_path",
]
