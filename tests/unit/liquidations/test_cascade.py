"""Cascade estimate, amplification, clusters and the seed's what-if."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.errors import InputError
from oiradar.liquidations.cascade import (
    Levels,
    amplify,
    band,
    cascade_table,
    clusters,
    liquidated_between,
    what_if_levels,
)
from oiradar.liquidations.levels import parse_mix
from oiradar.liquidations.prices import liq_price_linear
from oiradar.liquidations.tiers import load_tiers
from oiradar.model import LONG, SHORT, Side

from .helpers import flat_tiers


def _book() -> Levels:
    # longs at 95.5 (10 base) and 90.5 (20 base); shorts at 105.5 (5) and 120 (1)
    return Levels(
        side=np.array([LONG, LONG, SHORT, SHORT], np.int8), price=np.array([95.5, 90.5, 105.5, 120.0]),
        qty=np.array([10.0, 20.0, 5.0, 1.0]), leverage=np.array([10.0, 5.0, 10.0, 5.0]),
    )  # fmt: skip


def test_liquidated_between_counts_levels_passed_by_the_move():
    lv = _book()
    assert liquidated_between(lv, 100.0, 94.0) == (955.0, 0.0)
    assert liquidated_between(lv, 100.0, 90.0) == (955.0 + 1810.0, 0.0)
    assert liquidated_between(lv, 100.0, 110.0) == (0.0, 527.5)
    assert liquidated_between(lv, 100.0, 100.5) == (0.0, 0.0)


def test_cascade_table_by_move():
    t = cascade_table(_book(), 100.0, [-0.05, -0.10, 0.05, 0.25])
    assert t["est_long_liq_usd"].to_list() == [955.0, 2765.0, 0.0, 0.0]
    assert t["est_short_liq_usd"].to_list() == [0.0, 0.0, 0.0, 647.5]


def test_amplification_reaches_the_next_level_and_stops():
    """A move to 94 liquidates $955; at 0.5 % per $1M that moves price by a hair. At 10,000 % per
    $1M it pushes price 9.55 % further: past the 90.5 level, which adds $1,810, then it stops."""
    lv = _book()
    price, liq, _ = amplify(lv, 100.0, 94.0, 0.5)
    assert liq == 955.0
    assert price == pytest.approx(94.0 * (1 - 0.5 * 955 / 1e8))
    price, liq, steps = amplify(lv, 100.0, 94.0, 10_000.0)
    assert liq == 2765.0
    assert price == pytest.approx(94.0 * (1 - 10_000 * 2765 / 1e8))
    assert steps < 10


def test_band_is_min_and_max_across_mixes():
    a = cascade_table(_book(), 100.0, [-0.1, 0.1])
    b = a.with_columns(pl.col("est_long_liq_usd") * 2, pl.col("est_short_liq_usd") / 2)
    out = band({"a": a, "b": b})
    assert out["long_low_usd"].to_list() == [2765.0, 0.0]
    assert out["long_high_usd"].to_list() == [5530.0, 0.0]
    assert out["short_high_usd"].to_list() == [0.0, 527.5]


def test_clusters_nearest_significant_and_largest():
    lv = _book()
    c = clusters(lv, 100.0, bin_pct=0.01, min_share=0.1)
    below = c.filter(pl.col("where") == "below")
    assert below.filter(pl.col("cluster") == "nearest")["price_lo"][0] == pytest.approx(95.0)
    assert below.filter(pl.col("cluster") == "largest")["est_long_usd"][0] == pytest.approx(1810.0)
    above = c.filter(pl.col("where") == "above")
    assert above.filter(pl.col("cluster") == "nearest")["price_lo"][0] == pytest.approx(105.0)


def test_seed_what_if_620m_entries_5pct_above():
    """The seed: "total OI of $620 million and the average entry price 5 % away". With every
    position at 10x and entries 5 % above price, longs liquidate at 105 x 0.9 / (1 - MMR): a fall
    to there liquidates the long half ($310M at entry, worth 310M x LP / 105 at that price); 25x
    longs would already be gone."""
    tiers = flat_tiers(0.005)
    w = what_if_levels(
        oi_usd=620e6, price=100.0, entry_distance=0.05, mix=parse_mix("10:1"), tiers=tiers
    )
    lp = float(liq_price_linear(1, 105.0, 10, 0.005))
    assert w.table.filter(pl.col("side") == "long")["avg_liq_price"][0] == pytest.approx(lp)
    assert liquidated_between(w.levels, 100.0, lp - 1e-9)[0] == pytest.approx(310e6 * lp / 105.0)
    assert liquidated_between(w.levels, 100.0, lp + 0.01)[0] == 0.0
    w25 = what_if_levels(
        oi_usd=620e6, price=100.0, entry_distance=0.05, mix=parse_mix("25:1"), tiers=tiers
    )
    assert w25.already_liquidated_usd == pytest.approx(310e6)
    assert w25.levels.total(Side.LONG) == 0.0


def test_what_if_spread_smooths_the_curve_and_keeps_the_total():
    tiers = load_tiers("binanceusdm", "KSM/USDT:USDT")
    w = what_if_levels(oi_usd=1e6, price=30.0, entry_distance=0.0, mix=parse_mix("default"), tiers=tiers,
                       spread=0.05, points=11)  # fmt: skip
    assert sum(w.table["est_notional_usd"]) == pytest.approx(1e6)
    longs = np.sort(w.levels.price[(w.levels.side > 0) & (w.levels.leverage == 5.0)])
    assert len(longs) == 11 and np.all(np.diff(longs) > 0)
    with pytest.raises(InputError):
        what_if_levels(
            oi_usd=-1, price=30.0, entry_distance=0.0, mix=parse_mix("default"), tiers=tiers
        )
