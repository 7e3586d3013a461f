"""Signal and phase kernels (SPEC section 3): bar and feature rows in, per-bar states out.

A **state** is the signal's condition on a bar (False on an incomplete bar and where an input is
missing); an **event** fires on the rising edge of its state (``state[t] and not state[t-1]``).
``entry`` is sequential: the first rejection candle within ``entry_within`` bars after a ``trigger``
or ``divergence`` event (bars ``s+1 .. s+entry_within``; a new setup re-arms the window), so its
state is already an event. Everything at bar ``t`` reads bars ``<= t`` only.

Inputs are the two matrices the feature pass already holds: the bar rows
(:data:`oiradar.features.INPUTS`) and the feature rows, read by name (``X.oi``, ``F.oi_z_30d``:
:data:`~oiradar.features.INPUT_ROW` and :data:`~oiradar.features.FEATURE_ROW`, compile-time
constants to numba), plus the ``complete`` flags and optional ``liquidations`` (quote notional
liquidated per bar): no copies.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numba import njit, prange, set_parallel_chunksize

from oiradar.features import FEATURE_ROW as F
from oiradar.features import INPUT_ROW as X
from oiradar.features import N_FUSED, feature_output, series_features
from oiradar.features import kernels as fk

# Per-bar states (rows of the state matrix).
STATES: tuple[str, ...] = (
    "oi_extreme_high",
    "oi_extreme_low",
    "watch",
    "trigger",
    "divergence",
    "trigger_long",
    "divergence_long",
    "entry",
    "entry_long",
)
# Phase codes.
PHASES: tuple[str, ...] = ("neutral", "accumulation", "breakout", "distribution", "cascade")

# Parameter vector layout (built by ``signals.frame.signal_params``).
(
    P_Z,
    P_WATCH_CHG,
    P_WATCH_BACK,
    P_NEWHIGH_BACK,
    P_DOWN_STREAK,
    P_DIV_DD,
    P_ENTRY_WITHIN,
    P_LONG,
    P_RANGE_N,
    P_SPIKE_N,
    P_SPIKE,
    P_RANGE_PCT,
    P_DIST_DD,
    P_CASCADE_N,
    P_CASCADE_ATR,
    P_CASCADE_OI,
    P_LIQ_MULT,
    P_LIQ_N,
) = range(18)
N_PARAMS = 18
_FAR = -(1 << 40)  # "never": an index far before any bar
# The bit of each state in the state bits (bit j: STATES[j]), by name: constants to numba.
S: Any = cast(Any, namedtuple("StateBit", STATES))(*[1 << j for j in range(len(STATES))])
_ENTRIES = S.entry | S.entry_long  # sequential states: no rising edge
# Per-bar condition bits of series_states' first pass (the z bits are the states' own bits).
_C_ZHI, _C_ZLO, _C_WATCH, _C_NH, _C_NL = S.oi_extreme_high, S.oi_extreme_low, 4, 8, 16
_C_FALL, _C_DIV, _C_DIV_L, _C_REJ, _C_REJ_L = 32, 64, 128, 256, 512


@njit(cache=True, nogil=True)
def any_last(b: np.ndarray, n: int) -> np.ndarray:
    """True where ``b`` was True on any of the last ``n`` bars, including ``t``.

    pandas: ``b.astype(int).rolling(n, min_periods=1).max().astype(bool)``.
    """
    out = np.zeros(b.size, np.bool_)
    last = _FAR
    for i in range(b.size):
        if b[i]:
            last = i
        out[i] = i - last < n
    return out


@njit(cache=True, nogil=True)
def rising_edge(b: np.ndarray) -> np.ndarray:
    """pandas: ``b & ~b.shift(1, fill_value=False)``."""
    out = np.zeros(b.size, np.bool_)
    for i in range(b.size):
        out[i] = b[i] and (i == 0 or not b[i - 1])
    return out


@njit(cache=True, nogil=True)
def series_states(
    bars: np.ndarray,
    feats: np.ndarray,
    ok: np.ndarray,
    a: int,
    b: int,
    p: np.ndarray,
    sbits: np.ndarray,
    fbits: np.ndarray,
    src: np.ndarray,
) -> None:
    """Bars ``a:b`` in two passes. Bit ``j`` of ``sbits[i]`` is state ``STATES[j]`` on bar ``i``;
    bit ``j`` of ``fbits[i]`` says that signal fired there (a rising edge; entries as they are).
    At an entry, ``src`` holds the series-local index of the setup that armed it (rows: short,
    long; other cells are left untouched).

    The first pass (no loop-carried state, vectorised) stores each bar's conditions as bits in
    ``sbits``; the second reads them back in bar order: the recent-``watch`` /
    recent-``new_high`` conditions keep the index of their last True bar; setups are rising
    edges of ``trigger`` / ``divergence``; an entry disarms its setup.
    """
    zt, wchg, wback, nback = p[P_Z], p[P_WATCH_CHG], int(p[P_WATCH_BACK]), int(p[P_NEWHIGH_BACK])
    dstreak, ddmin, within = p[P_DOWN_STREAK], p[P_DIV_DD], int(p[P_ENTRY_WITHIN])
    long_side = p[P_LONG] > 0
    # series-local row slices indexed from 0: no negative-index checks on every read
    okv, oi, vol = ok[a:b], bars[X.oi, a:b], bars[X.volume, a:b]
    fz, fma, fchg = feats[F.oi_z_30d, a:b], feats[F.oi_ma_30d, a:b], feats[F.oi_chg_7d, a:b]
    fratio, fratio_ma = feats[F.oi_vol_ratio, a:b], feats[F.oi_vol_ratio_ma_30d, a:b]
    fdd = feats[F.oi_dd, a:b]
    fdown, fvol_ma = feats[F.oi_down_streak, a:b], feats[F.vol_ma_20d, a:b]
    fnh, fnl = feats[F.new_high, a:b], feats[F.new_low, a:b]
    fnear_h, fnear_l = feats[F.near_high, a:b], feats[F.near_low, a:b]
    frej, frej_l = feats[F.rejection, a:b], feats[F.rejection_bull, a:b]
    sb, fb, src_s, src_l = sbits[a:b], fbits[a:b], src[0, a:b], src[1, a:b]
    n = b - a
    # pass 1, vectorised: every per-bar condition as a bit of sb[j] (overwritten by pass 2)
    for j in range(n):
        good = okv[j]
        dd_ok = good & (fdd[j] >= ddmin)
        sb[j] = (
            (good & (fz[j] >= zt)) * _C_ZHI
            | (good & (fz[j] <= -zt)) * _C_ZLO
            | (good & (oi[j] > fma[j]) & (fchg[j] >= wchg) & (fratio[j] > fratio_ma[j])) * _C_WATCH
            | (good & (fnh[j] > 0.5)) * _C_NH
            | (good & (fnl[j] > 0.5)) * _C_NL
            | (good & (fdown[j] >= dstreak) & (vol[j] < fvol_ma[j])) * _C_FALL
            | (dd_ok & (fnear_h[j] > 0.5)) * _C_DIV
            | (dd_ok & (fnear_l[j] > 0.5)) * _C_DIV_L
            | (good & (frej[j] > 0.5)) * _C_REJ
            | (good & (frej_l[j] > 0.5)) * _C_REJ_L
        )
    # pass 2, sequential: recency windows, rising edges and entries from those bits
    last_watch = last_nh = last_nl = _FAR
    armed = armed_l = -1
    prev = 0
    for j in range(n):
        c = sb[j]
        watch = (c & _C_WATCH) != 0
        last_watch = j if watch else last_watch
        last_nh = j if c & _C_NH else last_nh
        last_nl = j if c & _C_NL else last_nl
        base = ((c & _C_FALL) != 0) & (j - last_watch < wback)
        trig = base & (j - last_nh < nback)
        div = (c & _C_DIV) != 0
        state = (c & (_C_ZHI | _C_ZLO)) + watch * S.watch + trig * S.trigger + div * S.divergence
        if long_side:
            trig_l = base & (j - last_nl < nback)
            state += trig_l * S.trigger_long + ((c & _C_DIV_L) != 0) * S.divergence_long
        fire = state & ~prev
        setup = (fire & (S.trigger | S.divergence)) != 0
        taken, after = _entry(armed, j, within, (c & _C_REJ) != 0, setup)
        if taken:
            state |= S.entry
            src_s[j] = armed
        armed = after
        if long_side:
            setup = (fire & (S.trigger_long | S.divergence_long)) != 0
            taken, after = _entry(armed_l, j, within, (c & _C_REJ_L) != 0, setup)
            if taken:
                state |= S.entry_long
                src_l[j] = armed_l
            armed_l = after
        sb[j] = state
        fb[j] = fire | (state & _ENTRIES)
        prev = state & ~_ENTRIES


@njit(cache=True, nogil=True, inline="always")
def _entry(armed: int, j: int, within: int, rej: bool, setup_fired: bool) -> tuple[bool, int]:
    """One side's entry on bar ``j``: (taken, the armed setup's bar after ``j``). A rejection
    candle within ``within`` bars of the armed setup (``armed``; -1: none) takes it; taken or
    expired, the setup disarms; a setup firing on ``j`` (trigger or divergence edge) re-arms."""
    if armed >= 0 and j - armed <= within and rej:
        return True, j if setup_fired else -1
    if armed >= 0 and j - armed > within:
        armed = -1
    return False, j if setup_fired else armed


@njit(cache=True, nogil=True)
def phases(
    bars: np.ndarray, feats: np.ndarray, ok: np.ndarray, liq: np.ndarray, p: np.ndarray
) -> np.ndarray:
    """Phase code per bar of one series (:data:`PHASES`; -1 on an incomplete bar). First match wins:

    * ``cascade``: ``close - max(close, n_c) <= -k * atr_14`` and ``oi / max(oi, n_c) - 1 <= -y``
      and, where ``liquidations`` has a value, its ``n_c``-bar sum >= ``liq_mult`` x the 30-day
      mean of that sum;
    * ``breakout``: ``high`` above the previous ``n_r`` bars' high or ``low`` below their low
      (a close beyond the range or a sweep) while ``oi / oi[t - n_s] - 1 >= spike``;
    * ``distribution``: ``near_high``, ``oi_dd >= dist_dd`` and a rejection within ``n_s`` bars;
    * ``accumulation``: ``(price_high - price_low) / close <= range_pct`` and
      ``0 < oi_chg_7d < watch_chg`` (OI rising, but slowly);
    * ``neutral`` otherwise.
    """
    c, h, lo, oi = bars[X.close], bars[X.high], bars[X.low], bars[X.oi]
    nc, nr, ns = int(p[P_CASCADE_N]), int(p[P_RANGE_N]), int(p[P_SPIKE_N])
    drop = c - fk.rolling_max(c, nc, nc)
    oi_off = oi / fk.rolling_max(oi, nc, nc) - 1.0
    liq_sum = fk.rolling_sum(liq, nc, nc)
    liq_ref = fk.rolling_mean(liq_sum, int(p[P_LIQ_N]), int(p[P_LIQ_N]))
    up = fk.breakout(h, nr, nr, 1.0)
    dn = fk.breakout(lo, nr, nr, -1.0)
    spike = fk.pct_change_lag(oi, ns)
    rej = any_last(feats[F.rejection] > 0.5, ns)
    dd, chg, atr, near = feats[F.oi_dd], feats[F.oi_chg_7d], feats[F.atr_14], feats[F.near_high]
    width = (feats[F.price_high] - feats[F.price_low]) / c
    out = np.full(c.size, -1, np.int8)
    for i in range(c.size):
        if not ok[i]:
            continue
        burst = liq[i] != liq[i] or (liq_sum[i] > 0 and liq_sum[i] >= p[P_LIQ_MULT] * liq_ref[i])
        if drop[i] <= -p[P_CASCADE_ATR] * atr[i] and oi_off[i] <= -p[P_CASCADE_OI] and burst:
            out[i] = 4
        elif (up[i] > 0.5 or dn[i] > 0.5) and spike[i] >= p[P_SPIKE]:
            out[i] = 2
        elif near[i] > 0.5 and dd[i] >= p[P_DIST_DD] and rej[i]:
            out[i] = 3
        elif width[i] <= p[P_RANGE_PCT] and chg[i] > 0 and chg[i] < p[P_WATCH_CHG]:
            out[i] = 1
        else:
            out[i] = 0
    return out


def many_states(
    bars: np.ndarray, feats: np.ndarray, ok: np.ndarray, offsets: np.ndarray, params: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`series_states` for many series stacked along axis 1, in parallel over series.

    Returns (state bits, fired bits, entry sources); outputs are allocated by numpy."""
    sbits, fbits, src = _outputs(ok.size)
    _many_states(bars, feats, ok, offsets, params, sbits, fbits, src)
    return sbits, fbits, src


def serial_states(
    bars: np.ndarray, feats: np.ndarray, ok: np.ndarray, offsets: np.ndarray, params: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`many_states` on one thread (small inputs: no thread-pool start-up)."""
    sbits, fbits, src = _outputs(ok.size)
    _serial_states(bars, feats, ok, offsets, params, sbits, fbits, src)
    return sbits, fbits, src


def _outputs(
    n: int, alloc: Callable[[tuple[int, ...], type], np.ndarray] = np.empty
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state bits, fired bits, entry sources) of ``n`` bars from ``alloc(shape, dtype)``."""
    return alloc((n,), np.uint16), alloc((n,), np.uint16), alloc((2, n), np.int32)


@njit(cache=True, parallel=True)
def _many_states(bars, feats, ok, offsets, params, sbits, fbits, src) -> None:
    for s in prange(offsets.size - 1):
        series_states(bars, feats, ok, offsets[s], offsets[s + 1], params[s], sbits, fbits, src)


@njit(cache=True)
def _serial_states(bars, feats, ok, offsets, params, sbits, fbits, src) -> None:
    for s in range(offsets.size - 1):
        series_states(bars, feats, ok, offsets[s], offsets[s + 1], params[s], sbits, fbits, src)


def many_analyse(
    x: np.ndarray,
    ok: np.ndarray,
    offsets: np.ndarray,
    fparams: np.ndarray,
    sparams: np.ndarray,
    feats: np.ndarray | None = None,
    alloc: Callable[[tuple[int, ...], type], np.ndarray] = np.empty,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features and signal states of many series in ONE parallel pass: each series' features are
    computed and its states read back while its columns are still in the CPU cache.

    Equals ``feats = features.fused.many_features(x, offsets, fparams)`` followed by
    ``many_states(x, feats, ok, offsets, sparams)``. Series are handed to the threads one at a
    time (chunk size 1), so a thread slowed by another process does not hold up the rest.
    ``feats``, when given, is the float64 matrix (one row per feature, at least ``N_FUSED``) to
    write the features into (every cell of the built-in rows is written; the registered
    features' rows are left to :func:`oiradar.features.declared_features`); ``alloc(shape,
    dtype)`` gives the state outputs. Returns (features, state bits, fired bits, entry sources).
    """
    feats = _feature_out(feats, ok.size)
    sbits, fbits, src = _outputs(ok.size, alloc)
    old = set_parallel_chunksize(1)
    try:
        _many_analyse(x, ok, offsets, fparams, sparams, feats, sbits, fbits, src)
    finally:
        set_parallel_chunksize(old)
    return feats, sbits, fbits, src


def serial_analyse(
    x: np.ndarray,
    ok: np.ndarray,
    offsets: np.ndarray,
    fparams: np.ndarray,
    sparams: np.ndarray,
    feats: np.ndarray | None = None,
    alloc: Callable[[tuple[int, ...], type], np.ndarray] = np.empty,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`many_analyse` on one thread (small inputs: no thread-pool start-up)."""
    feats = _feature_out(feats, ok.size)
    sbits, fbits, src = _outputs(ok.size, alloc)
    _serial_analyse(x, ok, offsets, fparams, sparams, feats, sbits, fbits, src)
    return feats, sbits, fbits, src


def _feature_out(feats: np.ndarray | None, n: int) -> np.ndarray:
    if feats is None:
        return feature_output(n)
    # numba does not check bounds: refuse a wrong matrix here
    rows_ok = feats.ndim == 2 and feats.shape[0] >= N_FUSED and feats.shape[1] == n
    if not rows_ok or feats.dtype != np.float64:
        raise ValueError(f"feature matrix {feats.shape} {feats.dtype}, need (>= {N_FUSED}, {n})")
    return feats


@njit(cache=True, parallel=True)
def _many_analyse(x, ok, offsets, fparams, sparams, feats, sbits, fbits, src) -> None:
    for s in prange(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        series_features(x, a, b, fparams[s], feats)
        series_states(x, feats, ok, a, b, sparams[s], sbits, fbits, src)


@njit(cache=True)
def _serial_analyse(x, ok, offsets, fparams, sparams, feats, sbits, fbits, src) -> None:
    for s in range(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        series_features(x, a, b, fparams[s], feats)
        series_states(x, feats, ok, a, b, sparams[s], sbits, fbits, src)


@njit(cache=True, parallel=True)
def count_events(fbits: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Fired bits per series (one event per set bit of ``fbits``)."""
    counts = np.zeros(offsets.size - 1, np.int64)
    for s in prange(offsets.size - 1):
        c = 0
        for i in range(offsets[s], offsets[s + 1]):
            v = fbits[i]
            while v:
                v &= v - 1
                c += 1
        counts[s] = c
    return counts


_E_SHORT = STATES.index("entry")  # "entry_long" follows it: the last two codes
# the setup bits of an entry: trigger and the divergence right after it, of its side
_AT_TRIG, _AT_TRIG_L = STATES.index("trigger"), STATES.index("trigger_long")


@njit(cache=True, parallel=True)
def fill_events(fbits, src, offsets, starts, code_order, idx, code, sid, setup, origin) -> None:
    """One row per fired bit, series by series from ``starts[s]``: bar index ``idx``, state
    ``code`` (bars in order, a bar's codes in ``code_order``), series ``sid`` and, for entries,
    the setup bits that armed them (``setup``: 1 trigger, 2 divergence, 3 both) and the setup's
    bar (``origin``, a global index; -1 for other signals).

    numpy: ``fired = np.flatnonzero(fbits)`` then one ``fired[(fbits[fired] >> j) & 1 == 1]``
    per state, regrouped by series and bar.
    """
    e_short = _E_SHORT
    for s in prange(offsets.size - 1):
        a = offsets[s]
        p = starts[s]
        for i in range(a, offsets[s + 1]):
            v = fbits[i]
            if v == 0:
                continue
            for c in code_order:
                if (v >> c) & 1:
                    idx[p], code[p], sid[p] = i, c, s
                    setup[p], origin[p] = 0, -1
                    if c >= e_short:  # entry or entry_long, the last two codes
                        row, shift = (0, _AT_TRIG) if c == e_short else (1, _AT_TRIG_L)
                        o = src[row, i] + a
                        setup[p], origin[p] = (fbits[o] >> shift) & 3, o
                    p += 1


@njit(cache=True, parallel=True)
def gather_values(bars, feats, from_bars, rows, idx, pos, out) -> None:
    """``out[c, pos] = (bars if from_bars[c] else feats)[rows[c], idx]``, one column per thread.

    ``idx`` ascending reads the big matrices front to back; the scatter through ``pos`` (the
    rows' final order) lands in the small output row, which stays in the cache."""
    for c in prange(rows.size):
        r = rows[c]
        if from_bars[c]:
            for k in range(idx.size):
                out[c, pos[k]] = bars[r, idx[k]]
        else:
            for k in range(idx.size):
                out[c, pos[k]] = feats[r, idx[k]]
