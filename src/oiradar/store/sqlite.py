"""SQLite in WAL mode for the live state: the alert ledger and the paper accounts.

One connection per database object, shared by threads and serialised by a lock (the dispatcher's
channel threads and the watch loop write the same ledger); every write is one ``BEGIN IMMEDIATE``
transaction, so a kill leaves each database as it was before or after a write, never between.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oiradar.errors import StoreError


def connect(path: Path) -> sqlite3.Connection:
    """A WAL connection usable from several threads (callers serialise with a lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")  # a commit survives a power cut, not just a kill
        con.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the SQLite database ({exc})") from exc
    return con


class WalDatabase:
    """A WAL database with ``schema`` (idempotent DDL) applied; thread-safe."""

    schema = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = connect(path)
        self._lock = threading.RLock()
        with self._lock:
            self._con.executescript(self.schema)  # executescript commits by itself

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._con.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc


__all__ = ["WalDatabase", "connect"]
