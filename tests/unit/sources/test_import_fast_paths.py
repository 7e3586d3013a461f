"""Oracle tests for the import's fast paths: each equals the plain polars expression it replaces."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from oiradar.errors import InputError
from oiradar.model import MINUTE_MS, SeriesKey, Timeframe
from oiradar.sources.decode.files.merge import combine_frames
from oiradar.store import Catalog
from oiradar.store.catalog import _month_labels, _month_parts

STEP = 5 * MINUTE_MS


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def _join_oracle(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    return a.join(b, on="ts", how="full", coalesce=True).sort("ts")


@pytest.mark.parametrize("same_ts", [True, False])
def test_combine_disjoint_columns_equals_full_join(same_ts: bool) -> None:
    ts = np.arange(_ms(2025, 1, 1), _ms(2025, 1, 2), STEP)
    k = pl.DataFrame({"ts": ts, "close": np.linspace(1.0, 2.0, ts.size)})
    m_ts = ts if same_ts else ts[3:] + STEP  # shifted: the stacks overlap only partly
    m = pl.DataFrame({"ts": m_ts, "oi": np.linspace(5.0, 6.0, m_ts.size)})
    assert_frame_equal(combine_frames([k, m]), _join_oracle(k, m))


def test_combine_unsorted_single_stack_is_sorted() -> None:
    a = pl.DataFrame({"ts": [3, 1, 2], "close": [3.0, 1.0, 2.0]})
    b = pl.DataFrame({"ts": [1, 2, 3], "oi": [1.0, 2.0, 3.0]})
    got = combine_frames([a, b])
    assert got["ts"].to_list() == [1, 2, 3]
    assert got["close"].to_list() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ((2024, 12, 30), (2025, 3, 2)),  # across a year end
        ((2025, 1, 31, 23, 55), (2025, 2, 1, 0, 5)),  # a row each side of a month start
        ((2025, 5, 1), (2025, 5, 1, 0, 5)),  # one month, one row
    ],
)
def test_month_parts_equal_partition_by_label(start: tuple[int, ...], end: tuple[int, ...]) -> None:
    ts = np.arange(_ms(*start), _ms(*end), STEP)
    ts = np.delete(ts, slice(10, 200))  # a gap, as in real data
    frame = pl.DataFrame({"ts": ts, "v": np.arange(ts.size, dtype=np.float64)})
    oracle = frame.with_columns(_month_labels(pl.col("ts")).alias("_m")).partition_by(
        "_m", maintain_order=True, as_dict=True, include_key=False
    )
    got = _month_parts(frame)
    assert [m for m, _ in got] == [str(k[0]) for k in oracle]
    for (_m, part), want in zip(got, oracle.values(), strict=True):
        assert_frame_equal(part, want)


def test_month_parts_skips_empty_months() -> None:
    frame = pl.DataFrame({"ts": [_ms(2025, 1, 5), _ms(2025, 4, 5)]})
    assert [m for m, _ in _month_parts(frame)] == ["2025-01", "2025-04"]
    assert _month_parts(frame.clear()) == []


def test_write_bars_unsorted_input_and_duplicate_named(catalog: Catalog) -> None:
    key = SeriesKey(exchange="x", symbol="BTC/USDT:USDT", timeframe=Timeframe.M5)
    t0 = _ms(2025, 1, 31, 23, 55)
    frame = pl.DataFrame({"ts": [t0 + STEP, t0], "close": [2.0, 1.0]})
    result = catalog.write_bars(key, frame)
    assert result.rows_added == 2 and len(result.partitions) == 2
    assert catalog.read_stored(key)["close"].to_list() == [1.0, 2.0]
    dup = pl.DataFrame({"ts": [t0 + STEP, t0, t0 + STEP], "close": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match="duplicate ts") as err:
        catalog.write_bars(key, dup)
    assert err.value.value == t0 + STEP
