"""``mtf_entry``: a setup on the coarser timeframe, the rejection candle on the series' own,
against a plain-Python oracle on hand-made and random bars."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from oiradar.config import Settings
from oiradar.features import compute_features
from oiradar.features.oracle import random_bars
from oiradar.model import HOUR_MS, SeriesKey, Timeframe
from oiradar.signals import detect_signals
from oiradar.signals.mtf import mtf_entry, mtf_unavailable, take_entries
from oiradar.store.resample import resample_bars

# windows short enough for 4h setups on a few hundred hourly bars
MTF = Settings.model_validate(
    {
        "features": {"z_window": "2d", "chg_window": "1d", "turnover_window": "8h",
                     "peak_window": "1d", "vol_window": "2d", "new_high_bars": 3, "atr_bars": 3},
        "signals": {"divergence_dd": 0.01, "watch_chg_7d": 0.01, "long_side": True,
                    "entry_within_bars": 3, "mtf_setup_timeframe": "4h"},
    }
)  # fmt: skip
KEY = SeriesKey(exchange="x", symbol="BTC/USDT:USDT", timeframe=Timeframe.H1)


def test_take_entries_by_hand():
    ts = np.arange(10, dtype=np.int64) * HOUR_MS
    rej = np.zeros(10, bool)
    rej[[1, 4, 5]] = True
    # one setup known at 2h, its window closing at 6h: bar 1 is before it, bar 4 takes it, bar 5
    # finds it taken
    got = take_entries(ts, rej, HOUR_MS, np.array([2 * HOUR_MS]), np.array([6 * HOUR_MS]))
    assert list(np.flatnonzero(got >= 0)) == [4] and got[4] == 0
    # a second setup known at 3h re-arms: bar 4 takes the second one
    got = take_entries(ts, rej, HOUR_MS, np.array([2, 3]) * HOUR_MS, np.array([6, 7]) * HOUR_MS)
    assert list(np.flatnonzero(got >= 0)) == [4] and got[4] == 1
    # the window closes at 2h: bar 1 (closing at 2h) is in it, bar 2 would not be
    rej2 = np.zeros(10, bool)
    rej2[2] = True
    got = take_entries(ts, rej2, HOUR_MS, np.array([0]), np.array([2 * HOUR_MS]))
    assert (got < 0).all()
    got = take_entries(ts, rej, HOUR_MS, np.array([0]), np.array([2 * HOUR_MS]))
    assert list(np.flatnonzero(got >= 0)) == [1]


def _oracle(feats: pl.DataFrame, s: Settings) -> list[tuple[int, str, int, str]]:
    """Plain Python: the 4h setups of the complete hourly bars, then for each setup (in order of
    the time it is known) the first complete rejection bar inside its window and before the next
    setup is known. Rows (ts, side, setup ts, setup)."""
    setup_tf = Timeframe.H4
    done = feats.filter(pl.col("complete"))
    coarse = compute_features(resample_bars(done, Timeframe.H1, setup_tf), setup_tf, s)
    ev = detect_signals(coarse, SeriesKey(exchange="x", symbol=KEY.symbol, timeframe=setup_tf), s)
    rows = feats.select("ts", "complete", "rejection", "rejection_bull").rows()
    out = []
    for side, col in (("short", 2), ("long", 3)):
        setups: dict[int, list[str]] = {}
        for t, sig, sd in ev.select("ts", "signal", "side").rows():
            if sd == side and sig in ("trigger", "divergence"):
                setups.setdefault(t, []).append(sig)
        times = sorted(setups)
        for k, t in enumerate(times):
            known = t + setup_tf.ms
            end = known + s.signals.entry_within_bars * setup_tf.ms
            nxt = times[k + 1] + setup_tf.ms if k + 1 < len(times) else None
            for r in rows:
                inside = known <= r[0] and r[0] + HOUR_MS <= end and (nxt is None or r[0] < nxt)
                if inside and r[1] and r[col]:
                    name = "+".join(n for n in ("trigger", "divergence") if n in setups[t])
                    out.append((r[0], side, t, name))
                    break
    return sorted(out)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_mtf_entry_equals_the_plain_oracle(seed):
    bars = random_bars(600, HOUR_MS, seed=seed, gaps=0.02 if seed % 2 else 0.0)
    feats = compute_features(bars, Timeframe.H1, MTF)
    got = mtf_entry(feats, KEY, MTF)
    want = _oracle(feats, MTF)
    rows = sorted(got.select("ts", "side", "setup_ts", "setup").rows())
    assert rows == want
    assert (got["signal"] == "mtf_entry").all()
    assert got["why"].str.contains("rejection \\(1h\\) after the 4h").all()


def test_the_oracle_is_not_empty():
    """The random bars above give setups and entries on both sides (the test compares something)."""
    found = []
    for seed in range(6):
        feats = compute_features(random_bars(600, HOUR_MS, seed=seed), Timeframe.H1, MTF)
        found += _oracle(feats, MTF)
    assert {r[1] for r in found} == {"short", "long"} and len(found) >= 10


def test_not_finer_than_the_setup_cannot_fire():
    key4 = SeriesKey(exchange="x", symbol=KEY.symbol, timeframe=Timeframe.H4)
    bars = random_bars(400, 4 * HOUR_MS, seed=1)
    assert mtf_entry(compute_features(bars, Timeframe.H4, MTF), key4, MTF).is_empty()
    why = mtf_unavailable(Timeframe.H4, MTF)
    assert why is not None and "4h" in why and mtf_unavailable(Timeframe.H1, MTF) is None
    daily = MTF.model_copy(update={"signals": MTF.signals.model_copy(
        update={"mtf_setup_timeframe": "1d"})})  # fmt: skip
    assert mtf_unavailable(Timeframe.H4, daily) is None
