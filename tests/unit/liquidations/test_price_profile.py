"""The liqmap's terminal strip: the estimated notional by liquidation price, binned."""

from __future__ import annotations

import numpy as np
import pytest

from oiradar.liquidations.cascade import Levels
from oiradar.liquidations.mapview import price_profile
from oiradar.model import Side
from oiradar.render.liq import strip


def _levels(rng: np.random.Generator, n: int) -> Levels:
    side = rng.choice(np.array([Side.LONG.sign, Side.SHORT.sign], dtype=np.int8), n)
    price = np.where(side == Side.LONG.sign, rng.uniform(60, 101, n), rng.uniform(99, 140, n))
    return Levels(side, price, rng.uniform(0.1, 5, n), rng.choice([5.0, 10.0, 25.0], n))


def test_each_bin_holds_the_notional_of_the_levels_inside_it() -> None:
    lv = _levels(np.random.default_rng(3), 500)
    prof = price_profile(lv, 100.0, bins=40, span=0.2)
    assert prof.height == 40 and prof["price_lo"][0] == 80.0 and prof["price_hi"][-1] == 120.0
    for row in prof.iter_rows(named=True):  # a plain loop over the levels: the oracle
        last = row["price_hi"] == 120.0
        for side, col in ((Side.LONG, "est_long"), (Side.SHORT, "est_short")):
            want = sum(float(q * p) for s, p, q in zip(lv.side, lv.price, lv.qty, strict=True)
                       if s == side.sign and row["price_lo"] <= p
                       and (p < row["price_hi"] or (last and p <= row["price_hi"])))  # fmt: skip
            assert row[col] == pytest.approx(want, rel=1e-12, abs=1e-9), (row, col)


def test_the_strip_marks_the_price_and_shades_by_size() -> None:
    lv = Levels(np.array([1, -1], dtype=np.int8), np.array([90.0, 115.0]), np.array([1.0, 3.0]),
                np.array([10.0, 10.0]))  # fmt: skip
    line = strip(price_profile(lv, 100.0, bins=8, span=0.2), 100.0)
    # bins of 5 from 80: the long level (notional 90) in bin 2, the short (345, the largest) in
    # bin 7, the price at the boundary of bins 3 and 4
    assert line == "  ▒ │   █"
