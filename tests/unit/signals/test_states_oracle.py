"""Signal states, events and phases equal the plain pandas definitions (``features.oracle``)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.config import Settings
from oiradar.features import compute_features, oracle, regular_grid
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import STATES, detect_signals, signal_params, signal_states
from oiradar.signals import kernels as sk
from oiradar.signals.frame import STATE_SIGNALS

RELAXED = {
    "features": {"z_window": "2d", "chg_window": "12h", "turnover_window": "6h",
                 "peak_window": "1d", "vol_window": "2d", "new_high_bars": 5, "atr_bars": 5},
    "signals": {"oi_z_alert": 1.5, "watch_chg_7d": 0.02, "divergence_dd": 0.03,
                "phase_spike_window": "3h", "phase_oi_spike": 0.01, "phase_range_pct": 0.05,
                "cascade_window": "6h", "cascade_atr": 1.5, "cascade_oi_drop": 0.01},
}  # fmt: skip


def settings(long_side: bool) -> Settings:
    data = {k: dict(v) for k, v in RELAXED.items()}
    data["signals"]["long_side"] = long_side
    return Settings.model_validate(data)


def ref_params(s: Settings, timeframe: Timeframe = Timeframe.H1) -> dict:
    p = signal_params(timeframe, s)
    return {
        "z": p[sk.P_Z], "watch_chg": p[sk.P_WATCH_CHG], "watch_back": int(p[sk.P_WATCH_BACK]),
        "newhigh_back": int(p[sk.P_NEWHIGH_BACK]), "down_streak": p[sk.P_DOWN_STREAK],
        "div_dd": p[sk.P_DIV_DD], "within": int(p[sk.P_ENTRY_WITHIN]), "long": s.signals.long_side,
        "cascade_n": int(p[sk.P_CASCADE_N]), "range_n": int(p[sk.P_RANGE_N]),
        "spike_n": int(p[sk.P_SPIKE_N]), "spike": p[sk.P_SPIKE], "dist_dd": p[sk.P_DIST_DD],
        "range_pct": p[sk.P_RANGE_PCT], "cascade_atr": p[sk.P_CASCADE_ATR],
        "cascade_oi": p[sk.P_CASCADE_OI], "liq_mult": p[sk.P_LIQ_MULT], "liq_n": int(p[sk.P_LIQ_N]),
    }  # fmt: skip


@pytest.mark.parametrize("long_side", [False, True])
@pytest.mark.parametrize(("seed", "gaps"), [(1, 0.0), (2, 0.02), (3, 0.0)])
@pytest.mark.parametrize("with_liq", [False, True])
def test_states_events_and_phases_match_pandas(long_side, seed, gaps, with_liq) -> None:
    s = settings(long_side)
    bars = oracle.random_bars(4000, HOUR_MS, seed=seed, gaps=gaps, null_oi=0.002)
    rng = np.random.default_rng(seed)
    if with_liq:
        bars = bars.with_columns(liquidations=pl.Series(rng.pareto(1.5, bars.height) * 1e4))
    feats = compute_features(bars, Timeframe.H1, s)
    feats = feats.with_columns(  # some incomplete bars, as a resample would mark them
        pl.when(pl.int_range(pl.len()) % 97 == 5)
        .then(False)
        .otherwise("complete")
        .alias("complete")
    )
    grid = feats.to_pandas()
    expected = oracle.states(grid, grid, ref_params(s))
    got = signal_states(feats, Timeframe.H1, s)
    for name in STATES:
        assert got[name].to_list() == expected[name].tolist(), name
        if long_side or not name.endswith("_long"):
            assert got[name].sum() > 0, f"{name} never true: the test would prove nothing"
    assert got["phase"].to_list() == oracle.phases(grid, grid, ref_params(s)).tolist()
    assert got["phase"].n_unique() == 6  # the five labels and None
    key = SeriesKey(exchange="x", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)
    ev = detect_signals(feats, key, s)
    assert ev.equals(ev.sort("ts", "exchange", "symbol", "signal", "side"))
    exp_ev = oracle.events(expected)
    assert ev.height == len(exp_ev)
    ts = grid["ts"].to_numpy()
    names = dict(zip(STATES, STATE_SIGNALS, strict=True))
    got_rows = sorted(zip(ev["ts"], ev["signal"], ev["side"], strict=True))
    exp_rows = sorted(
        (int(ts[i]), *names[n]) for i, n in zip(exp_ev["i"], exp_ev["state"], strict=True)
    )
    assert got_rows == exp_rows


def test_regular_grid_keeps_the_complete_flag() -> None:
    bars = oracle.random_bars(10, HOUR_MS).with_columns(complete=pl.Series([True] * 9 + [False]))
    assert regular_grid(bars, Timeframe.H1)["complete"].to_list()[-1] is False


def test_states_match_pandas_on_real_binance_btc_4h() -> None:
    """Real recording: Binance BTCUSDT 4h candles with the 1h OI history (20 days of OI)."""
    from tests.unit.features.test_features import _binance_btc_4h

    s = Settings.model_validate(
        {
            "features": {"z_window": "5d", "chg_window": "2d", "peak_window": "3d",
                         "vol_window": "5d", "turnover_window": "1d"},
            "signals": {"long_side": True, "oi_z_alert": 1.5, "watch_chg_7d": 0.02,
                        "divergence_dd": 0.02},
        }
    )  # fmt: skip
    feats = compute_features(_binance_btc_4h(), Timeframe.H4, s)
    grid = feats.to_pandas()
    expected = oracle.states(grid, grid, ref_params(s, Timeframe.H4))
    got = signal_states(feats, Timeframe.H4, s)
    fired = 0
    for name in STATES:
        assert got[name].to_list() == expected[name].tolist(), name
        fired += got[name].sum()
    assert fired > 10
    assert got["phase"].to_list() == oracle.phases(grid, grid, ref_params(s, Timeframe.H4)).tolist()
