"""The one time module: user dates and durations in, ISO UTC out, grids and calendar months."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oiradar.errors import ConfigError, InputError
from oiradar.model import DAY_MS, HOUR_MS, MINUTE_MS
from oiradar.timeutil import (
    ceil_to,
    day_start_ms,
    duration_ms,
    floor_to,
    iso_utc,
    iso_utc_expr,
    months_between,
    parse_instant,
    parse_when,
    utc_date,
)

JAN1 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MS_2000_2100 = st.integers(946_684_800_000, 4_102_444_800_000)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2024-01-01", JAN1),
        ("2024-01-01T12:30", JAN1 + 12 * HOUR_MS + 30 * MINUTE_MS),
        ("2024-01-01 12:30", JAN1 + 12 * HOUR_MS + 30 * MINUTE_MS),
        ("2024-01-01T02:00+02:00", JAN1),  # an offset is honoured; none means UTC
    ],
)
def test_parse_instant(text: str, ms: int) -> None:
    assert parse_instant(text) == ms


def test_parse_instant_names_the_option() -> None:
    with pytest.raises(InputError, match="--start: invalid date 'yesterday'"):
        parse_instant("yesterday", "--start")


def test_parse_when_takes_a_date_or_a_duration_back() -> None:
    now = JAN1 + 5 * DAY_MS
    assert parse_when("2024-01-01", now) == JAN1
    assert parse_when("5d", now) == JAN1
    with pytest.raises(InputError, match="cannot read the date"):
        parse_when("soon", now)


def test_duration_ms() -> None:
    assert [duration_ms(t) for t in ("90m", "24h", "1.5d", "2w")] == [
        90 * MINUTE_MS, DAY_MS, 36 * HOUR_MS, 14 * DAY_MS,
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="invalid duration"):
        duration_ms("3 months")


@given(MS_2000_2100)
def test_iso_utc_scalar_equals_the_polars_expression(ms: int) -> None:
    expr = pl.DataFrame({"ts": [ms]}).select(iso_utc_expr("ts"))["ts"][0]
    assert iso_utc(ms) == expr
    assert utc_date(ms).isoformat() == iso_utc(ms, "%Y-%m-%d")


@given(MS_2000_2100, st.sampled_from([5 * MINUTE_MS, HOUR_MS, 4 * HOUR_MS, DAY_MS]))
def test_floor_and_ceil_on_ints_arrays_and_expressions(ms: int, step: int) -> None:
    lo, hi = floor_to(ms, step), ceil_to(ms, step)
    assert lo <= ms <= hi and lo % step == 0 == hi % step and hi - lo in (0, step)
    assert floor_to(np.array([ms]), step)[0] == lo
    assert pl.DataFrame({"ts": [ms]}).select(ceil_to(pl.col("ts"), step)).item() == hi


@given(MS_2000_2100, st.integers(0, 800 * DAY_MS))
def test_months_between_equals_polars_month_labels(first: int, span: int) -> None:
    ts = pl.Series([first, first + span // 2, first + span], dtype=pl.Int64)
    labels = pl.from_epoch(ts, time_unit="ms").dt.strftime("%Y-%m")
    months = months_between(first, first + span)
    names = [f"{y:04d}-{m:02d}" for y, m, _ in months]
    assert (names[0], names[-1]) == (labels[0], labels[-1])
    assert all(day_start_ms(date(y, m, 1)) == s for y, m, s in months)
    assert all(a[2] < b[2] for a, b in itertools.pairwise(months))
