"""All-or-nothing multi-file commits for the catalog.

A write stages every new partition as a hidden temporary file beside its final path, then records
the planned renames in a journal (itself written atomically), performs the renames and removes the
journal. A writer killed before the journal exists leaves only temporary files, which the next
writer deletes; one killed after it is rolled forward by the next writer. Readers never see a torn
file: ``os.replace`` is atomic on POSIX, and temporary names never match ``*.parquet``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"


def tmp_path_for(final: Path) -> Path:
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
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
    _fsync_dir(path.parent)


class Journal:
    """Commits a set of ``(temporary, final)`` renames atomically as a group."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / ".journal"

    def commit(self, renames: list[tuple[Path, Path]]) -> None:
        if not renames:
            return
        for tmp, _ in renames:
            fsync_file(tmp)
        self.dir.mkdir(parents=True, exist_ok=True)
        entry = self.dir / f"{uuid.uuid4().hex}.json"
        payload = [[str(t.relative_to(self.root)), str(f.relative_to(self.root))] for t, f in renames]
        write_bytes_atomic(entry, json.dumps(payload).encode())
        self._apply(payload)
        entry.unlink()
        _fsync_dir(self.dir)

    def _apply(self, payload: list[list[str]]) -> None:
        dirs = set()
        for tmp, final in payload:
            src, dst = self.root / tmp, self.root / final
            if src.exists():
                os.replace(src, dst)
                dirs.add(dst.parent)
        for d in dirs:
            _fsync_dir(d)

    def recover(self) -> int:
        """Roll forward committed journals, delete orphan temporary files. Returns files cleaned."""
        cleaned = 0
        if self.dir.is_dir():
            for entry in sorted(self.dir.glob("*.json")):
                try:
                    payload = json.loads(entry.read_text())
                except (OSError, ValueError):
                    entry.unlink(missing_ok=True)  # the journal itself was torn: never committed
                    continue
                self._apply(payload)
                entry.unlink()
                cleaned += 1
        for tmp in self.root.rglob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            cleaned += 1
        return cleaned


@contextlib.contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time per catalog (an advisory ``flock`` on ``<root>/.lock``)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
