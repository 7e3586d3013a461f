"""``liq_fade``: a bar that consumes a burst of estimated liquidations, faded, against the level
model's plain-Python oracle and a plain rolling mean."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from oiradar.config import Settings
from oiradar.features import compute_features
from oiradar.liquidations.fade import liq_fade
from oiradar.liquidations.heatmap import MapSpec
from oiradar.liquidations.levels import PriceGrid, level_factors, level_inputs, levels_oracle
from oiradar.model import SeriesKey, Timeframe

from .helpers import bars, random_bars

FADE = Settings.model_validate({
    "features": {"z_window": "4h"},
    "signals": {"liq_fade_mult": 3.0},
    "liquidations": {"mix": "10:1"},
})  # fmt: skip
KEY = SeriesKey(exchange="x", symbol="X/USDT:USDT", timeframe=Timeframe.H1)


def _oracle(feats: pl.DataFrame, s: Settings) -> list[tuple[int, str]]:
    """The level model's oracle for what each bar consumed, then by hand: a side fires on the
    first bar of a run where it consumed > 0 and >= mult x its mean over the last n bars (all n
    known), on complete bars."""
    spec = MapSpec.from_settings(s.liquidations, KEY.exchange, KEY.symbol)
    inp = level_inputs(feats, spec.colour_long_share)
    fac = level_factors(spec.mix, spec.tiers(), position_notional=spec.position_notional)
    _, _, liq_long, liq_short = levels_oracle(inp, fac, PriceGrid(0.0, 1.0, 1))
    n = 4
    ok = feats["complete"].to_list()
    out = []
    for side, x in (("short", list(liq_short)), ("long", list(liq_long))):
        prev = False
        for t in range(len(x)):
            window = x[t - n + 1 : t + 1] if t >= n - 1 else []
            mean = sum(window) / n if window and all(math.isfinite(v) for v in window) else math.nan
            cond = ok[t] and x[t] > 0 and x[t] >= s.signals.liq_fade_mult * mean
            if cond and not prev:
                out.append((int(feats["ts"][t]), side))
            prev = cond
    return sorted(out)


def test_a_spike_into_the_short_levels_is_faded_short():
    # OI builds at 100 for six hours (10x shorts liquidate near 109.5, longs near 90.5); hour 6
    # spikes to 112 through the short levels, then price calms down
    close = [100.0] * 10
    high = [100.5] * 6 + [112.0] + [100.5] * 3
    low = [99.5] * 10
    oi = [1000, 1100, 1200, 1300, 1400, 1500, 1500, 1500, 1500, 1500]
    frame = bars(close, high, low, close, oi)
    feats = compute_features(frame, Timeframe.H1, FADE)
    got = liq_fade(feats, KEY, FADE)
    assert got.select("ts", "side").rows() == [(6 * 3_600_000, "short")]
    assert got["signal"].to_list() == ["liq_fade"]
    assert "rose through estimated short liquidations" in got["why"][0]
    assert sorted(got.select("ts", "side").rows()) == _oracle(feats, FADE)


@pytest.mark.parametrize("seed", range(8))
def test_liq_fade_equals_the_oracle_on_random_bars(seed):
    frame = random_bars(120, seed)
    feats = compute_features(frame, Timeframe.H1, FADE)
    got = liq_fade(feats, KEY, FADE)
    assert sorted(got.select("ts", "side").rows()) == _oracle(feats, FADE)


def test_random_bars_fire_both_sides():
    """The comparison above is not vacuous."""
    sides = set()
    for seed in range(8):
        feats = compute_features(random_bars(120, seed), Timeframe.H1, FADE)
        sides |= set(liq_fade(feats, KEY, FADE)["side"].to_list())
    assert sides == {"short", "long"}


def test_without_prices_or_oi_nothing_fires():
    frame = random_bars(40, 1).with_columns(pl.lit(None, dtype=pl.Float64).alias("oi"))
    feats = compute_features(frame, Timeframe.H1, FADE)
    assert liq_fade(feats, KEY, FADE).is_empty()
    assert np.isnan(feats["oi_z_30d"].fill_null(np.nan).to_numpy()).all()
