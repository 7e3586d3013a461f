"""The backtest's inputs from a feature frame and an entry mask, and the side read from text."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.backtest import TradeParams, inputs_from_features, load_grid
from oiradar.errors import ConfigError
from oiradar.model import DAY_MS, Side


def _features() -> pl.DataFrame:
    nan = None
    return pl.DataFrame({
        "ts": [0, 1, 2, 3, 4],
        "open": [nan, 10.0, nan, 12.0, 13.0], "high": [nan, 11.0, nan, 13.0, 14.0],
        "low": [nan, 9.0, nan, 11.0, 12.0], "close": [nan, 10.5, nan, 12.5, 13.5],
        "atr_14": [nan, 1.0, nan, 1.0, 1.0], "oi_up_streak": [0, 1, 2, 3, 4],
        "oi_down_streak": [4, 3, 2, 1, 0],
    })  # fmt: skip


def test_gaps_become_flat_bars_and_the_mask_follows_its_rows() -> None:
    entry = np.array([True, False, True, False, True])
    x = inputs_from_features(_features(), entry, side=Side.SHORT, bar_ms=DAY_MS)
    assert x.ts is not None and x.ts.tolist() == [1, 2, 3, 4]  # no close before row 1: dropped
    assert [x.open[1], x.high[1], x.low[1], x.close[1]] == [10.5] * 4  # the gap: previous close
    assert x.entry.tolist() == [False, True, False, True]
    assert x.streak.tolist() == [1.0, 2.0, 3.0, 4.0]  # a short's thesis breaks on OI climbing


def test_a_long_reads_the_down_streak() -> None:
    x = inputs_from_features(_features(), np.zeros(5, bool), side=Side.LONG)
    assert x.streak.tolist() == [3.0, 2.0, 1.0, 0.0]


def test_side_from_a_grid_is_read_as_a_side(tmp_path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('[params]\nside = ["long", "short"]\n')
    assert [p.side for p in load_grid(grid).configs()] == [Side.LONG, Side.SHORT]
    with pytest.raises(ConfigError, match="side must be 'long' or 'short', got -1"):
        TradeParams(side=-1)  # type: ignore[arg-type]
