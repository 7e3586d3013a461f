"""No look-ahead: states, phases and events at bar t on data[:t+1] equal those on the full history."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from oiradar.config import Settings
from oiradar.features import compute_features
from oiradar.features.oracle import random_bars
from oiradar.liquidations.fade import liq_fade
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import (
    detect_signals,
    exchange_divergence,
    margin_divergence,
    signal_states,
)
from oiradar.signals.mtf import mtf_entry

FAST = Settings.model_validate(
    {
        "features": {"z_window": "12h", "chg_window": "5h", "turnover_window": "3h",
                     "peak_window": "6h", "vol_window": "8h", "new_high_bars": 4, "atr_bars": 3},
        "signals": {"oi_z_alert": 1.0, "watch_chg_7d": 0.01, "divergence_dd": 0.01,
                    "long_side": True, "phase_spike_window": "2h", "cascade_window": "4h",
                    "cascade_atr": 1.0, "cascade_oi_drop": 0.005, "exchange_div_drop": 0.01,
                    "exchange_div_band": 0.02, "cross_window": "2h"},
    }
)  # fmt: skip
KEY = SeriesKey(exchange="x", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)


@st.composite
def cases(draw):
    bars = random_bars(
        draw(st.integers(2, 200)), HOUR_MS, seed=draw(st.integers(0, 10_000)),
        gaps=draw(st.sampled_from([0.0, 0.1])), null_oi=draw(st.sampled_from([0.0, 0.05])),
    )  # fmt: skip
    assume(bars.height > 0)  # a short series with gaps can lose every row
    cuts = draw(st.lists(st.integers(0, bars.height - 1), min_size=1, max_size=6))
    return bars, cuts


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_states_phases_and_events_on_a_prefix_equal_the_full_history(case) -> None:
    bars, cuts = case
    feats = compute_features(bars, Timeframe.H1, FAST)
    full_st = signal_states(feats, Timeframe.H1, FAST)
    full_ev = detect_signals(feats, KEY, FAST)
    for t in cuts:
        part = compute_features(bars.head(t + 1), Timeframe.H1, FAST)
        cut = bars["ts"][t]
        assert_frame_equal(
            signal_states(part, Timeframe.H1, FAST), full_st.filter(pl.col("ts") <= cut)
        )
        assert_frame_equal(detect_signals(part, KEY, FAST), full_ev.filter(pl.col("ts") <= cut))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 10_000),
    st.integers(3, 120),
    st.lists(st.integers(0, 119), min_size=1, max_size=5),
)
def test_exchange_divergence_on_a_prefix_equals_the_full_history(seed, m, cuts) -> None:
    venues = {
        f"v{j}": random_bars(m, HOUR_MS, seed=seed + j, gaps=0.05, null_oi=0.05) for j in range(3)
    }
    assume(all(v.height for v in venues.values()))  # a short series with gaps can lose every row
    full = exchange_divergence(venues, KEY.symbol, Timeframe.H1, FAST)
    end = max(int(v["ts"].max()) for v in venues.values())
    for c in cuts:
        cut = int(venues["v0"]["ts"][0]) + (c % m) * HOUR_MS
        part = {k: v.filter(pl.col("ts") <= cut) for k, v in venues.items()}
        if any(p.is_empty() for p in part.values()):
            continue
        got = exchange_divergence(part, KEY.symbol, Timeframe.H1, FAST)
        assert_frame_equal(got, full.filter(pl.col("ts") <= min(cut, end)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 10_000),
    st.integers(3, 120),
    st.lists(st.integers(0, 119), min_size=1, max_size=5),
)
def test_margin_divergence_on_a_prefix_equals_the_full_history(seed, m, cuts) -> None:
    legs = {
        "BTC/USDT:USDT": random_bars(m, HOUR_MS, seed=seed, gaps=0.05, null_oi=0.05),
        "BTC/USD:BTC": random_bars(m, HOUR_MS, seed=seed + 1, gaps=0.05, null_oi=0.05),
    }
    assume(all(v.height for v in legs.values()))
    full = margin_divergence(legs, "binance", Timeframe.H1, FAST)
    start = min(int(v["ts"][0]) for v in legs.values())
    for c in cuts:
        cut = start + (c % m) * HOUR_MS
        part = {k: v.filter(pl.col("ts") <= cut) for k, v in legs.items()}
        if any(p.is_empty() for p in part.values()):
            continue
        assert_frame_equal(
            margin_divergence(part, "binance", Timeframe.H1, FAST), full.filter(pl.col("ts") <= cut)
        )


# mtf_entry: 4h setups on the hourly bars (windows in time, long enough for a 4h bar)
MTF = FAST.model_copy(update={
    "features": FAST.features.model_copy(update={"z_window": "2d", "chg_window": "1d",
                                                "peak_window": "1d", "vol_window": "2d"}),
    "signals": FAST.signals.model_copy(update={"entry_within_bars": 3}),
})  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.lists(st.integers(0, 399), min_size=1, max_size=4),
       st.sampled_from([0.0, 0.05]))  # fmt: skip
def test_mtf_entry_on_a_prefix_equals_the_full_history(seed, cuts, gaps) -> None:
    bars = random_bars(400, HOUR_MS, seed=seed, gaps=gaps)
    assume(bars.height > 0)
    full = mtf_entry(compute_features(bars, Timeframe.H1, MTF), KEY, MTF)
    for t in cuts:
        t = t % bars.height
        part = mtf_entry(compute_features(bars.head(t + 1), Timeframe.H1, MTF), KEY, MTF)
        assert_frame_equal(part, full.filter(pl.col("ts") <= bars["ts"][t]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_liq_fade_on_a_prefix_equals_the_full_history(case) -> None:
    bars, cuts = case
    full = liq_fade(compute_features(bars, Timeframe.H1, FAST), KEY, FAST)
    for t in cuts:
        part = liq_fade(compute_features(bars.head(t + 1), Timeframe.H1, FAST), KEY, FAST)
        assert_frame_equal(part, full.filter(pl.col("ts") <= bars["ts"][t]))
