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
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from oiradar.model import now_ms

TMP_SUFFIX = ".tmp"
MANIFEST = "_manifest.json"
GRACE_MS = 5 * 60 * 1000  # how long a retired file stays readable for slow readers


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
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        return cls(dict(data["partitions"]), [(n, int(t)) for n, t in data.get("retired", [])])

    def files(self, folder: Path) -> list[Path]:
        return [folder / name for _, name in sorted(self.partitions.items())]

    def dump(self) -> bytes:
        return json.dumps(
            {"partitions": dict(sorted(self.partitions.items())), "retired": self.retired}
        ).encode()


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
