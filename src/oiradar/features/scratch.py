"""Reusable scratch matrices for the batch path (``signals.analyse_many``).

Why: on the development VM fresh memory is dear: faulting in the 1.7 GB feature matrix of 100
series x 1 year of 5-minute bars costs 0.2 s of system time at best and 1-4 s while the OS
compacts memory for huge pages, about as much as the numba kernels take to fill it. The input
matrix of ``analyse_many`` (0.67 GB there) never leaves it (events copy the values they need),
so a later call reuses it. The feature matrix is NOT pooled: polars frames built from it may
keep its buffers without a copy.

The pool keeps at most :data:`KEEP` buffers alive between calls (the largest ones; memory the
process already peaked at); :func:`release` hands them back to the OS. Thread safe: a buffer in
use is out of the pool, so a concurrent call allocates its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from math import prod

import numpy as np

KEEP = 2
_POOL: list[np.ndarray] = []
_LOCK = threading.Lock()


@contextmanager
def scratch(shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """An uninitialised float64 array of ``shape``, reused from the pool when one fits.

    The caller must not let a view of it outlive the ``with`` block."""
    size = prod(shape)
    with _LOCK:
        fits = [i for i, b in enumerate(_POOL) if b.size >= size]
        best = min(fits, key=lambda i: _POOL[i].size) if fits else None
        buf = _POOL.pop(best) if best is not None else None
    if buf is None:
        buf = np.empty(size)
    try:
        yield buf[:size].reshape(shape)
    finally:
        with _LOCK:
            _POOL.append(buf)
            _POOL.sort(key=lambda b: b.size, reverse=True)
            del _POOL[KEEP:]


def release() -> None:
    """Drop the pooled buffers (their memory goes back to the OS)."""
    with _LOCK:
        _POOL.clear()
