"""The terminal sparkline: order-preserving, scaled to its own range, gaps as spaces."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from oiradar.render.spark import BLOCKS, sparkline


def test_low_to_high_and_gaps() -> None:
    assert sparkline([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]) == BLOCKS
    assert sparkline([1.0, None, float("nan"), 3.0]) == "▁  █"
    assert sparkline([5.0, 5.0]) == "▄▄"  # flat: the middle
    assert sparkline([]) == "" and sparkline([None, None]) == "  "
    assert sparkline([1.0, 2.0, 3.0], width=2) == "▁█"  # the last values


@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=2, max_size=60))
def test_the_order_of_values_is_the_order_of_blocks(values: list[float]) -> None:
    line = sparkline(values)
    assert len(line) == len(values)
    levels = [BLOCKS.index(c) for c in line]
    for i in range(len(values) - 1):
        if values[i] < values[i + 1]:
            assert levels[i] <= levels[i + 1]
        elif values[i] > values[i + 1]:
            assert levels[i] >= levels[i + 1]
    if not math.isclose(min(values), max(values)):
        assert levels[values.index(min(values))] == 0
        assert levels[values.index(max(values))] == len(BLOCKS) - 1
