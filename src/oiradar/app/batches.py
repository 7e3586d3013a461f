"""Every-series work in batches of series, run in this process or as Ray tasks.

``features``, ``scan`` and ``study --pooled`` over a universe would hold every series' bars and
features at once if they read everything first. Instead they cut the selected keys into batches
(:func:`plan_batches`): at most ``batch_series`` series and about ``batch_rows`` bars each, the
legs of one base asset together where the work pairs them (``scan``'s cross-venue signals). A
batch is read, computed and reduced (events, per-block sums, rows written) before the next one is
read, so peak memory follows ``[performance]``, not the number of series. A series longer than
``batch_rows`` is a batch alone: series are not cut in time (decision 0710).

Executors (:func:`run_batches`): ``local`` runs the batches one after the other in this process;
``ray`` runs one Ray task per batch, ``workers`` in flight, on a Ray started on this machine that
listens on loopback only, or on the cluster at ``address`` (which must see the same home folder).
Both call the same batch function, and :func:`settle` puts the outcomes back in the order of the
keys, so every executor and every batch size gives the same result.
"""

from __future__ import annotations

import difflib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from oiradar.app.series import ALL_VENUES, NothingDone, Skipped, skipped_for
from oiradar.app.session import Session
from oiradar.config import Settings
from oiradar.errors import InputError, OiradarError
from oiradar.model import SeriesKey, parse_symbol
from oiradar.store import Catalog

EXECUTORS = ("local", "ray")
T = TypeVar("T")
R = TypeVar("R")
Indexed = list[tuple[int, SeriesKey]]  # a batch: each key with its place in the selection


@dataclass(frozen=True)
class BatchOptions:
    """How an every-series command batches its series (None: the ``[performance]`` setting)."""

    series: int | None = None  # --batch-size: series per batch
    rows: int | None = None  # bars per batch
    executor: str | None = None  # --executor local|ray
    address: str | None = None  # --address: a Ray cluster (ray executor)
    workers: int | None = None  # Ray tasks in flight (default: the CPU count)

    def __post_init__(self) -> None:
        for option, value in (("--batch-size", self.series), ("batch rows", self.rows),
                              ("--workers", self.workers)):  # fmt: skip
            if value is not None and value < 1:
                raise InputError(f"{option} must be 1 or more, got {value}")
        if self.executor is not None and self.executor not in EXECUTORS:
            close = difflib.get_close_matches(self.executor, EXECUTORS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"--executor {self.executor!r}: unknown executor{hint} "
                             f"(valid: {', '.join(EXECUTORS)})")  # fmt: skip

    def resolved(self, settings: Settings) -> BatchOptions:
        """Every field filled: these options, else ``[performance]``, else the defaults."""
        perf = settings.performance
        return replace(self, series=self.series or perf.batch_series,
                       rows=self.rows or perf.batch_rows,
                       executor=self.executor or perf.executor,
                       workers=self.workers or os.cpu_count() or 1)  # fmt: skip


LOCAL = BatchOptions()  # the [performance] settings as they are


def base_asset(key: SeriesKey) -> str:
    """The group of ``key`` for cross-venue work: its base asset (``KSM`` of ``KSM/USDT:USDT``)."""
    return parse_symbol(key.symbol)[0]


def estimate_rows(catalog: Catalog, key: SeriesKey) -> int:
    """About how many bars of ``key`` a read gives: the stored source's bars, rescaled to the
    key's timeframe (0 when unknown: an ``all`` sum, or nothing stored to build it from)."""
    if key.exchange == ALL_VENUES:
        return 0
    try:
        source = catalog.source_for(key)
    except OiradarError:
        return 0
    n = catalog.count_bars(source)
    return n * source.timeframe.ms // key.timeframe.ms


def plan_batches(
    keys: Sequence[SeriesKey], max_series: int, max_rows: int | None = None,
    rows_of: Callable[[SeriesKey], int] | None = None,
    group_of: Callable[[SeriesKey], str] | None = None,
) -> list[Indexed]:  # fmt: skip
    """``keys`` cut into batches of at most ``max_series`` keys and ``max_rows`` rows (per
    ``rows_of``), the keys of one group (``group_of``) in one batch. Groups are packed in the
    order of their first key, a group's keys in their order; without groups the batches are
    consecutive slices of ``keys``. A group over a limit on its own is a batch alone."""
    groups: dict[object, Indexed] = {}
    for i, key in enumerate(keys):
        groups.setdefault(group_of(key) if group_of else i, []).append((i, key))
    batches: list[Indexed] = []
    batch: Indexed = []
    rows = 0
    for members in groups.values():
        size = sum(rows_of(k) for _, k in members) if rows_of and max_rows else 0
        full = len(batch) + len(members) > max_series or (
            max_rows is not None and rows + size > max_rows
        )
        if batch and full:
            batches.append(batch)
            batch, rows = [], 0
        batch = batch + members
        rows += size
    if batch:
        batches.append(batch)
    return batches


@dataclass(frozen=True)
class Tried(Generic[T]):
    """What a batch did with one key: its value, or why it was skipped."""

    index: int  # the key's place in the selection
    value: T | None = None
    skipped: Skipped | None = None


def try_each(
    batch: Indexed, step: Callable[[SeriesKey], T], strict: bool = False
) -> list[Tried[T]]:
    """``step`` on each key of ``batch``; a key it fails on (an :class:`OiradarError`) is kept as
    skipped with the reason, unless ``strict`` (the user named that one series)."""
    out: list[Tried[T]] = []
    for i, key in batch:
        try:
            out.append(Tried(i, step(key)))
        except OiradarError as exc:
            if strict:
                raise
            out.append(Tried(i, skipped=skipped_for(key, exc)))
    return out


def settle(tried: Sequence[Tried[T]], what: str) -> tuple[list[T], list[Skipped]]:
    """The values and the skipped keys in the order of the selection; :class:`NothingDone` when
    every key was skipped (as :func:`oiradar.app.series.each_series`)."""
    ordered = sorted(tried, key=lambda t: t.index)
    done = [t.value for t in ordered if t.skipped is None]
    skipped = [t.skipped for t in ordered if t.skipped is not None]
    if not done and skipped:
        raise NothingDone(what, skipped)
    return done, skipped  # type: ignore[return-value]  # a value wherever nothing was skipped


@dataclass(frozen=True)
class Packed:
    """A float64 matrix held exactly in less memory: its columns of whole numbers (counts: most of
    a study's per-block sums) in the smallest unsigned integer type that holds them, the others
    as they are. What a batch keeps of each series, and what a Ray task sends back."""

    shape: tuple[int, ...]
    whole: NDArray[np.unsignedinteger]  # (rows, k): the whole-number columns
    whole_cols: NDArray[np.intp]
    rest: NDArray[np.float64]  # (rows, m): every other column
    rest_cols: NDArray[np.intp]

    @classmethod
    def of(cls, a: NDArray[np.float64]) -> Packed:
        """``a`` (2-D float64) packed; :meth:`unpack` gives it back bit for bit (a ``-0.0`` or a
        NaN keeps its column a float one)."""
        a = np.asarray(a, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok = ~np.signbit(a) & (a == np.floor(a)) & (a < 2.0**32)
        cols = np.flatnonzero(ok.all(axis=0)) if a.shape[0] else np.arange(0)
        top = float(a[:, cols].max()) if cols.size and a.shape[0] else 0.0
        kind = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32
        rest = np.setdiff1d(np.arange(a.shape[1]), cols)
        return cls(a.shape, a[:, cols].astype(kind), cols, np.ascontiguousarray(a[:, rest]), rest)

    def unpack(self) -> NDArray[np.float64]:
        out = np.empty(self.shape, dtype=np.float64)
        out[:, self.whole_cols] = self.whole
        out[:, self.rest_cols] = self.rest
        return out

    @property
    def nbytes(self) -> int:
        return int(self.whole.nbytes + self.rest.nbytes)


# fn(session, *args, batch) -> R: a module-level function, which Ray pickles by reference
BatchFn = Callable[..., R]


def run_batches(
    session: Session, fn: BatchFn[R], args: tuple[Any, ...], batches: Sequence[Indexed],
    opts: BatchOptions = LOCAL,
) -> Iterator[R]:  # fmt: skip
    """``fn(session, *args, batch)`` of each batch, yielded in the order of ``batches``.

    ``local`` (or a single batch): one after the other here, the next batch read only once the
    caller asks for it. ``ray``: one task per batch, at most ``workers`` in flight (and as many
    results waiting for the caller); each task opens the home folder itself."""
    opts = opts.resolved(session.settings)
    if opts.executor == "local" or len(batches) < 2:
        for batch in batches:
            yield fn(session, *args, batch)
        return
    from oiradar.backtest.sweep import init_ray

    ray = init_ray(opts.address, opts.workers or 1)
    remote = ray.remote(_in_worker)
    ref = ray.put((session.settings, session.home, fn, args))
    pending: deque[Any] = deque()
    for batch in batches:
        pending.append(remote.remote(ref, batch))
        if len(pending) >= (opts.workers or 1):
            yield ray.get(pending.popleft())
    while pending:
        yield ray.get(pending.popleft())


def _in_worker(task: tuple[Settings, Path, BatchFn[R], tuple[Any, ...]], batch: Indexed) -> R:
    """A Ray task: open the session and run the batch function."""
    settings, home, fn, args = task
    return fn(Session(settings, home), *args, batch)


__all__ = [
    "EXECUTORS",
    "LOCAL",
    "BatchOptions",
    "Indexed",
    "Packed",
    "Tried",
    "base_asset",
    "estimate_rows",
    "plan_batches",
    "run_batches",
    "settle",
    "try_each",
]
