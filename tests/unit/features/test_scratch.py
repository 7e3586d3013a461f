"""The recycling pool hands a feature matrix out again only once nothing refers to it."""

from __future__ import annotations

import gc
import mmap

import numpy as np
import polars as pl
import pytest

from oiradar.features import scratch as sc


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _mapped(a: np.ndarray) -> bool:
    """Whether ``a`` is a view of an anonymous ``mmap`` (through numpy views and a memoryview)."""
    base = a
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)


@pytest.fixture(autouse=True)
def _empty_pool():
    sc.release()
    yield
    sc.release()


def test_a_dropped_array_is_reused() -> None:
    a = sc.recycled((3, 1000))
    first = _address(a)
    del a
    b = sc.recycled((3, 1000))
    assert _address(b) == first
    c = sc.recycled((2, 500))  # b is held: a smaller request gets memory of its own
    assert not np.shares_memory(b, c)


def test_an_array_held_by_a_polars_frame_is_not_reused() -> None:
    a = sc.recycled((3, 1000))
    a[:] = 7.0
    first = _address(a)
    frame = pl.DataFrame({"x": a[0]}).with_columns(pl.col("x").fill_nan(None))
    del a
    gc.collect()
    b = sc.recycled((3, 1000))  # the frame keeps a view of the old buffer
    assert _address(b) != first
    second = _address(b)
    b[:] = -1.0
    assert frame["x"].to_list() == [7.0] * 1000
    del b, frame
    gc.collect()
    assert _address(sc.recycled((3, 1000))) in {first, second}  # both are free again


def test_the_pool_keeps_at_most_keep_buffers_and_release_empties_it() -> None:
    held = [sc.recycled((3, 1000 + i)) for i in range(sc.KEEP + 2)]
    assert len(sc._SHARED) == sc.KEEP
    del held
    sc.release()
    assert sc._SHARED == []


def test_scratch_hands_out_any_dtype_from_the_same_memory() -> None:
    with sc.scratch((2, 1001), np.int32) as a:
        assert a.shape == (2, 1001) and a.dtype == np.int32
        a[:] = 5
        first = _address(a)
    with sc.scratch((3, 7), np.uint16) as b:  # fits the pooled buffer: the same memory
        assert b.shape == (3, 7) and b.dtype == np.uint16
        assert _address(b) == first


def test_large_buffers_are_mapped_and_still_recycled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "_MAP_MIN", 1024)  # map anything from 1 KiB: a small test
    a = sc.recycled((4, 1000))
    assert _mapped(a) and a.flags.writeable
    a[:] = 3.0
    first = _address(a)
    frame = pl.DataFrame({"x": a[1]})
    del a
    b = sc.recycled((4, 1000))  # the frame still holds the mapped buffer
    assert _address(b) != first
    second = _address(b)
    del b, frame
    gc.collect()
    assert _address(sc.recycled((4, 1000))) in {first, second}
    with sc.scratch((2, 1000), np.uint16) as c:  # the scratch pool maps large buffers too
        assert _mapped(c)
    sc.release()
    assert not _mapped(sc.recycled((2, 10)))  # small new buffers come from numpy


def test_without_recycling_every_call_gets_new_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "_RECYCLE", False)  # as on a free-threaded interpreter
    a = sc.recycled((3, 1000))
    b = sc.recycled((3, 1000))
    assert a.shape == b.shape == (3, 1000) and not np.shares_memory(a, b)
    assert not sc._SHARED  # nothing pooled, so nothing is ever handed out twice
