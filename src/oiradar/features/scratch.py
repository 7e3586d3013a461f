"""Reusable matrices for the batch path (``signals.analyse_many``).

Why: on the development VM fresh memory is dear: faulting in the 1.7 GB feature matrix of 100
series x 1 year of 5-minute bars costs 0.2 s of system time at best and 1-4 s while the OS
compacts memory for huge pages, about as much as the numba kernels take to fill it.

Two pools:

* :func:`scratch`: buffers that never leave a call (the input matrix of ``analyse_many``: events
  copy the values they need). Checked out for the ``with`` block, then back in the pool.
* :func:`recycled`: buffers whose views are handed out (the feature matrix: polars frames built
  from it keep views of it without a copy). A pooled buffer is handed out again only once nothing
  refers to it any more, i.e. every frame built from it is gone: ``sys.getrefcount`` shows the
  pool's own reference only. A view keeps its base alive, and polars keeps a view of a numpy
  array it shares, so a held buffer is never reused.

Between calls the scratch pool keeps at most :data:`KEEP_SCRATCH` buffers (the input matrix and
the state bits of ``analyse_many``) and the recycling pool at most :data:`KEEP` (the largest
ones; memory the process already peaked at); :func:`release` hands them back to the OS. Thread
safe: a checked-out or held buffer is never given to a second caller.
"""

from __future__ import annotations

import mmap
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from math import prod

import numpy as np
import numpy.typing as npt

KEEP = 2
KEEP_SCRATCH = 4
_POOL: list[np.ndarray] = []
_SHARED: list[np.ndarray] = []
_LOCK = threading.Lock()
_MAP_MIN = 32 << 20  # buffers from 32 MiB up are mapped by fresh


def _free_refs() -> int:
    """``sys.getrefcount(pool[i])`` of a buffer that only the pool holds (2 on CPython 3.11: the
    list's reference and the call's argument), measured on this interpreter rather than assumed,
    with the same expression as :func:`recycled` uses."""
    probe = [np.empty(1)]
    return sys.getrefcount(probe[0])


_FREE_REFS = _free_refs()
# A free-threaded interpreter defers and splits reference counts: no recycling there.
_RECYCLE = getattr(sys, "_is_gil_enabled", lambda: True)()


@contextmanager
def scratch(shape: tuple[int, ...], dtype: npt.DTypeLike = np.float64) -> Iterator[np.ndarray]:
    """An uninitialised array of ``shape`` and ``dtype``, reused from the pool when one fits.

    The caller must not let a view of it outlive the ``with`` block."""
    nbytes = prod(shape) * np.dtype(dtype).itemsize
    size = -(-nbytes // 8)  # float64 words
    with _LOCK:
        fits = [i for i, b in enumerate(_POOL) if b.size >= size]
        best = min(fits, key=lambda i: _POOL[i].size) if fits else None
        buf = _POOL.pop(best) if best is not None else None
    if buf is None:
        buf = fresh(size)
    try:
        yield buf[:size].view(np.uint8)[:nbytes].view(dtype).reshape(shape)
    finally:
        with _LOCK:
            _POOL.append(buf)
            _keep_largest(_POOL, KEEP_SCRATCH)


def scratch_in(stack: ExitStack) -> Callable[..., np.ndarray]:
    """``alloc(shape, dtype=float64)``: :func:`scratch` arrays that go back to the pool when
    ``stack`` closes (the ``alloc`` argument of ``feature_inputs`` and ``many_analyse``)."""

    def alloc(shape: tuple[int, ...], dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        return stack.enter_context(scratch(shape, dtype))

    return alloc


def recycled(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array of ``shape`` that the caller may hand out (views of it may
    live on in frames): the memory of an earlier call's array once nothing refers to it, else new.

    The pool keeps the new buffer too, so the next call after its frames are dropped reuses it."""
    size = prod(shape)
    if not _RECYCLE:
        return fresh(size).reshape(shape)
    with _LOCK:
        free = [
            i  # index access: no loop variable holding a reference to the buffer
            for i in range(len(_SHARED))
            if _SHARED[i].size >= size and sys.getrefcount(_SHARED[i]) == _FREE_REFS
        ]
        best = min(free, key=lambda i: _SHARED[i].size) if free else None
        if best is None:
            _SHARED.append(fresh(size))
            best = len(_SHARED) - 1
        view = _SHARED[best][:size].reshape(shape)
        _keep_largest(_SHARED, KEEP)
    return view


def fresh(size: int) -> np.ndarray:
    """``size`` uninitialised float64 words (a new buffer, not pooled). Large buffers are mapped without numpy's huge-page
    hint: on the development VM, faulting in 1.7 GB with the hint made the kernel compact memory
    synchronously (2.1-3.1 s for the first ``many_analyse`` call) against 0.63-0.90 s with plain
    4 KiB pages; later calls, which reuse the buffer, are about 5 % slower (decision 0305)."""
    nbytes = size * 8
    if nbytes < _MAP_MIN or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.empty(size)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    return np.frombuffer(mmap.mmap(-1, nbytes, flags=flags), dtype=np.float64)


def _keep_largest(pool: list[np.ndarray], keep: int) -> None:
    pool.sort(key=lambda b: b.size, reverse=True)
    del pool[keep:]


def release() -> None:
    """Drop the pooled buffers (their memory goes back to the OS once no frame holds it)."""
    with _LOCK:
        _POOL.clear()
        _SHARED.clear()
