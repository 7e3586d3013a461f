"""``mtf_entry``: the setup on a coarser timeframe, the rejection candle on the series' own.

The article waits for "the first rejection candle on high timeframes: 1-hour or 4-hour" after its
4-hour setup. ``mtf_entry`` on a series of timeframe ``T`` (1h) reads the setups (``trigger`` or
``divergence`` events) of the same bars resampled to ``S`` = ``signals.mtf_setup_timeframe``
(4h), and fires on the first ``T`` bar with a rejection candle (``rejection``; ``rejection_bull``
for the long side) that opens at or after the setup bar's close and closes within
``entry_within_bars`` bars of ``S`` after it. A new setup re-arms the window; one setup gives at
most one entry (the rules of ``entry``, decision 0301).

No look-ahead: an ``S`` bar is built only from complete ``T`` bars and counts only when all of
them are there (``complete``), so a setup is known at its ``S`` bar's close, before the ``T``
bars that may take it. ``T`` must divide ``S`` and be finer; otherwise the signal cannot fire
(:func:`mtf_unavailable` says why).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

from oiradar.config import Settings
from oiradar.features import compute_features
from oiradar.model import SeriesKey, Timeframe
from oiradar.signals.frame import VALUE_COLUMNS, conform_events, detect_signals, empty_events
from oiradar.store.resample import resample_bars
from oiradar.timeutil import iso_utc

SETUPS = ("trigger", "divergence")


def setup_timeframe(settings: Settings | None = None) -> Timeframe:
    return Timeframe((settings or Settings()).signals.mtf_setup_timeframe)


def mtf_unavailable(timeframe: Timeframe, settings: Settings | None = None) -> str | None:
    """Why ``mtf_entry`` cannot fire on a series of ``timeframe`` (None: it can)."""
    setup = setup_timeframe(settings)
    if timeframe.ms < setup.ms and setup.ms % timeframe.ms == 0:
        return None
    return (
        f"cannot fire at {timeframe}: its setup is on {setup}, its rejection candle on a finer "
        "timeframe (-t 1h; signals.mtf_setup_timeframe)"
    )


@njit(cache=True, nogil=True)
def take_entries(
    ts: np.ndarray, rej: np.ndarray, bar_ms: int, known: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """For each bar, the index of the setup its entry takes (-1: none).

    ``ts``: bar open times (ascending); ``rej``: a rejection candle on a complete bar; ``known``:
    the times the setups become known (their bar's close, ascending); ``ends``: the close of their
    window. A bar opening at or after ``known[k]`` re-arms setup ``k``; the armed setup is taken by
    the first rejection bar that closes by ``ends[k]``, or dropped by the first bar closing after.
    Plain Python: the same loop (the tests' oracle walks the bars with lists).
    """
    out = np.full(ts.size, -1, np.int64)
    k, armed = 0, -1
    for j in range(ts.size):
        while k < known.size and known[k] <= ts[j]:
            armed = k
            k += 1
        if armed < 0:
            continue
        if ts[j] + bar_ms > ends[armed]:
            armed = -1
        elif rej[j]:
            out[j] = armed
            armed = -1
    return out


def mtf_entry(
    features: pl.DataFrame, key: SeriesKey, settings: Settings | None = None
) -> pl.DataFrame:
    """The ``mtf_entry`` events of one series (features from ``compute_features``), short side and,
    with ``signals.long_side``, long side."""
    s = settings or Settings()
    if mtf_unavailable(key.timeframe, s) is not None or features.is_empty():
        return empty_events()
    setup_tf = setup_timeframe(s)
    setups = _setups(features, key, setup_tf, s)
    if setups.is_empty():
        return empty_events()
    sides = ("short", "long") if s.signals.long_side else ("short",)
    parts = [_side_events(features, key, setups, setup_tf, side, s) for side in sides]
    return pl.concat([p for p in parts if p.height] or [empty_events()]).sort("ts", "side")


def _setups(
    features: pl.DataFrame, key: SeriesKey, setup_tf: Timeframe, s: Settings
) -> pl.DataFrame:
    """The setup events on ``setup_tf`` bars built from the complete bars of ``features``."""
    done = features.filter(pl.col("complete").fill_null(False)) if "complete" in features.columns \
        else features  # fmt: skip
    coarse = resample_bars(done, key.timeframe, setup_tf)
    skey = SeriesKey(exchange=key.exchange, symbol=key.symbol, timeframe=setup_tf)
    events = detect_signals(compute_features(coarse, setup_tf, s), skey, s)
    return events.filter(pl.col("signal").is_in(SETUPS)).select("ts", "signal", "side")


def _side_events(
    features: pl.DataFrame, key: SeriesKey, setups: pl.DataFrame, setup_tf: Timeframe, side: str,
    s: Settings,
) -> pl.DataFrame:  # fmt: skip
    mine = (
        setups.filter(pl.col("side") == side)
        .group_by("ts", maintain_order=True)
        .agg(pl.col("signal").unique().sort(descending=True).str.join("+").alias("setup"))
        .sort("ts")
    )
    if mine.is_empty():
        return empty_events()
    rej_col = "rejection" if side == "short" else "rejection_bull"
    ok = features["complete"].fill_null(False) if "complete" in features.columns else True
    rej = (features[rej_col].fill_null(False) & ok).to_numpy().astype(np.bool_)
    ts = features["ts"].to_numpy().astype(np.int64)
    known = mine["ts"].to_numpy().astype(np.int64) + setup_tf.ms
    ends = known + s.signals.entry_within_bars * setup_tf.ms
    taken = take_entries(ts, rej, key.timeframe.ms, known, ends)
    rows = np.flatnonzero(taken >= 0)
    if rows.size == 0:
        return empty_events()
    src = taken[rows]
    values = features[rows].select([c for c in VALUE_COLUMNS if c in features.columns])
    candle = "bearish" if side == "short" else "bullish"
    why = [
        f"{candle} rejection ({key.timeframe}) after the {setup_tf} {name} at {iso_utc(int(t))}"
        for name, t in zip(mine["setup"].gather(src), mine["ts"].gather(src), strict=True)
    ]
    out = values.with_columns(
        pl.Series("ts", ts[rows]),
        pl.lit(key.exchange).alias("exchange"),
        pl.lit(key.symbol).alias("symbol"),
        pl.lit(key.timeframe.value).alias("timeframe"),
        pl.lit("mtf_entry").alias("signal"),
        pl.lit(side).alias("side"),
        mine["setup"].gather(src).alias("setup"),
        mine["ts"].gather(src).alias("setup_ts"),
        pl.Series("why", why, dtype=pl.String),
    )
    return conform_events(out)


__all__ = ["mtf_entry", "mtf_unavailable", "setup_timeframe", "take_entries"]
