"""No look-ahead: every feature at bar t computed on data[:t+1] equals its value on the full history."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from oiradar.config import FeatureSettings
from oiradar.features import FEATURE_COLUMNS, compute_features
from oiradar.features.oracle import random_bars
from oiradar.model import HOUR_MS, Timeframe

TINY = dict(
    z_window="12h", chg_window="5h", turnover_window="3h", peak_window="6h", vol_window="8h",
    new_high_bars=4, atr_bars=3,
)  # fmt: skip


@st.composite
def cases(draw):
    m = draw(st.integers(2, 160))
    bars = random_bars(
        m,
        HOUR_MS,
        seed=draw(st.integers(0, 10_000)),
        gaps=draw(st.sampled_from([0.0, 0.1])),
        null_oi=draw(st.sampled_from([0.0, 0.05])),
    )
    cover = draw(st.sampled_from([1.0, 0.6]))
    assume(bars.height > 0)  # a short series with gaps can lose every row
    cuts = draw(st.lists(st.integers(0, bars.height - 1), min_size=1, max_size=6))
    return bars, FeatureSettings(**TINY, min_coverage=cover), cuts


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_feature_on_a_prefix_equals_the_full_history(case) -> None:
    bars, fs, cuts = case
    full = compute_features(bars, Timeframe.H1, fs)
    for t in cuts:
        part = compute_features(bars.head(t + 1), Timeframe.H1, fs)
        upto = full.filter(pl.col("ts") <= bars["ts"][t])
        assert_frame_equal(part.select("ts", *FEATURE_COLUMNS), upto.select("ts", *FEATURE_COLUMNS))
