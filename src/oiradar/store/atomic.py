"""Snapshot commits for the catalog: immutable partition files plus a per-series manifest.

Each series folder holds immutable Parquet files named ``<YYYY-MM>.<id>.parquet`` and a small
``_manifest.json`` that names the current file of every month. A write stages new files under
hidden temporary names, fsyncs them, renames them to fresh immutable names (never over an existing
file) and then replaces the manifest atomically: that rename is the commit point, so a series
changes all at once or not at all.

Readers read the manifest once and open only the files it names. A file is never rewritten in
place, so a reader (DuckDB opens a file more than once per query: to bind, then to scan) can never
see a torn or swapped file. Replaced files are retired and deleted only after a grace period;
files that no manifest names (from a writer killed before its commit) are deleted by the next writer.

Writers serialise on ``flock`` files (:func:`file_lock`): one for the whole catalog
(``<catalog>/.lock``, :func:`write_lock`) and, for live recorders, one per series under
``<catalog>/.locks/``. A lock is re-entrant within a process (a demo that wipes and rewrites the
catalog holds it across both steps, and the writes inside take it again), names its holder's pid
inside the file, and is waited for only up to a timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oiradar.errors import StoreError
from oiradar.model import now_ms

TMP_SUFFIX = ".tmp"
MANIFEST = "_manifest.json"
GRACE_MS = 5 * 60 * 1000  # how long a retired file stays readable for slow readers
LOCK_FILE = ".lock"  # the catalog's write lock, in its root
LOCKS_DIR = ".locks"  # per-series locks (live recorders), in the catalog's root
DEFAULT_LOCK_TIMEOUT_S = 60.0
LOCK_POLL_S = 0.05

_log = logging.getLogger("oiradar.store")


def tmp_path_for(final: Path) -> Path:
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


@dataclass
class Manifest:
    """The committed state of one series folder: month -> current immutable file name."""

    partitions: dict[str, str] = field(default_factory=dict)
    retired: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise damaged(path, f"not valid JSON: {exc}") from None
        try:
            return cls._parse(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise damaged(path, f"unexpected content: {exc!r}") from None

    @classmethod
    def _parse(cls, data: Any) -> Manifest:
        partitions = {str(m): _file_name(n) for m, n in data["partitions"].items()}
        retired = [(_file_name(n), int(t)) for n, t in data.get("retired", [])]
        return cls(partitions, retired)

    def files(self, folder: Path) -> list[Path]:
        return [folder / name for _, name in sorted(self.partitions.items())]

    def dump(self) -> bytes:
        return json.dumps(
            {"partitions": dict(sorted(self.partitions.items())), "retired": self.retired}
        ).encode()


def _file_name(name: object) -> str:
    """A partition file name from a manifest: a plain ``*.parquet`` name inside the folder."""
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".parquet"):
        raise ValueError(f"{name!r} is not a partition file name")
    return name


def damaged(path: Path, why: str) -> StoreError:
    """The error for a damaged catalog file: which file, what is wrong, what to do."""
    folder = path.parent
    return StoreError(
        f"{path} is damaged ({why}). Restore that file from a backup, or delete the folder "
        f"{folder} and import, fetch or simulate that series again"
    )


def partition_files(folder: Path) -> list[Path]:
    """The committed partition files of a series folder, in month order."""
    return Manifest.load(folder).files(folder)


def commit_partitions(folder: Path, staged: dict[str, Path], *, synced: bool = False) -> None:
    """Publish staged temporary files as the new partitions of their months, atomically.

    Call with the catalog's write lock held. ``synced``: the caller has already fsynced every
    staged file (the catalog does it in its encoding threads); otherwise it is done here.
    """
    if not staged:
        return
    manifest = Manifest.load(folder)
    now = now_ms()
    for month, tmp in staged.items():
        if not synced:
            fsync_path(tmp)
        name = f"{month}.{uuid.uuid4().hex[:12]}.parquet"
        os.replace(tmp, folder / name)  # a fresh name: never over an existing file
        old = manifest.partitions.get(month)
        if old is not None:
            manifest.retired.append((old, now))
        manifest.partitions[month] = name
    fsync_path(folder)
    write_bytes_atomic(folder / MANIFEST, manifest.dump())  # the commit point


def collect_garbage(folder: Path, grace_ms: int = GRACE_MS) -> int:
    """Delete temporaries, uncommitted files, and retired files past their grace period.

    Call with the catalog's write lock held. Returns the number of files deleted.
    """
    if not folder.is_dir():
        return 0
    manifest = Manifest.load(folder)
    now = now_ms()
    keep = set(manifest.partitions.values())
    still_retired = [(n, t) for n, t in manifest.retired if now - t < grace_ms]
    keep |= {n for n, _ in still_retired}
    deleted = 0
    for path in folder.iterdir():
        if path.name == MANIFEST or path.name in keep:
            continue
        if path.name.endswith(TMP_SUFFIX) or path.suffix == ".parquet":
            path.unlink(missing_ok=True)
            deleted += 1
    if len(still_retired) != len(manifest.retired):
        manifest.retired = still_retired
        write_bytes_atomic(folder / MANIFEST, manifest.dump())
    return deleted


@dataclass
class _Held:
    """A lock this process holds: the open file (one per process) and how deep it is nested."""

    guard: threading.RLock = field(default_factory=threading.RLock)  # other threads wait here
    depth: int = 0
    fd: int = -1


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def _forget_held() -> None:
    """A forked child holds none of its parent's locks (flock is per open file, not per pid)."""
    global _HELD_GUARD
    _HELD.clear()
    _HELD_GUARD = threading.Lock()


os.register_at_fork(after_in_child=_forget_held)


def _held(path: Path) -> _Held:
    with _HELD_GUARD:
        return _HELD.setdefault(os.path.realpath(path), _Held())


class LockBusy(StoreError):
    """Another process still held a lock when the wait for it ran out."""

    def __init__(self, message: str, *, path: Path, holder: str) -> None:
        super().__init__(message)
        self.path = path
        self.holder = holder


def lock_holder(path: Path) -> str:
    """Who holds the lock at ``path``: ``"pid N"`` as written by the holder, when readable."""
    try:
        pid = path.read_text().strip()
    except (OSError, ValueError):
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "another process"


@contextlib.contextmanager
def file_lock(
    path: Path,
    *,
    timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
    what: str = "the lock",
    hint: str = "",
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; re-entrant within this process.

    When another process holds it, ``on_wait`` is told once (default: a logging warning) and the
    lock is polled until ``timeout_s`` has passed; then :class:`LockBusy` (a StoreError) names the
    holder's pid, ``what`` was locked and the ``hint`` of what to do.
    """
    held = _held(path)
    if not held.guard.acquire(timeout_s > 0, timeout_s if timeout_s > 0 else -1):
        raise _busy(path, "another thread of this process", timeout_s, what, hint)
    try:
        if held.depth == 0:
            held.fd = _acquire(path, timeout_s, on_wait or _log.warning, what, hint)
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0:
                _release(held.fd)
    finally:
        held.guard.release()


def _acquire(
    path: Path, timeout_s: float, on_wait: Callable[[str], None], what: str, hint: str
) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(
            f"cannot open the lock file {path}: {exc.strerror or exc}; check that you may write "
            f"to {path.parent}"
        ) from None
    try:
        _wait_for(fd, path, timeout_s, on_wait, what, hint)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # tells a waiting writer who holds it
    except BaseException:
        os.close(fd)
        raise
    return fd


def _wait_for(
    fd: int, path: Path, timeout_s: float, on_wait: Callable[[str], None], what: str, hint: str
) -> None:
    deadline = time.monotonic() + timeout_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = lock_holder(path)
        if time.monotonic() >= deadline:
            raise _busy(path, holder, timeout_s, what, hint)
        if not told:
            on_wait(
                f"waiting for {what} held by {holder} ({path}); giving up after {timeout_s:g} s"
            )
            told = True
        time.sleep(LOCK_POLL_S)


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # no stale pid for the next waiter to read
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _busy(path: Path, holder: str, timeout_s: float, what: str, hint: str) -> LockBusy:
    waited = f" after {timeout_s:g} s" if timeout_s > 0 else ""
    message = f"{what} ({path}) is still held by {holder}{waited}" + (f"; {hint}" if hint else "")
    return LockBusy(message, path=path, holder=holder)


def write_lock(
    root: Path,
    timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
) -> contextlib.AbstractContextManager[None]:
    """One writer at a time per catalog (an advisory ``flock`` on ``<root>/.lock``)."""
    hint = (
        "wait for that process to finish (or stop it), then run the command again; how long a "
        "writer waits is [catalog] lock_timeout in oiradar.toml (or OIRADAR__CATALOG__LOCK_TIMEOUT)"
    )
    return file_lock(
        root / LOCK_FILE, timeout_s=timeout_s, on_wait=on_wait, what="the catalog lock", hint=hint
    )
