"""Signal and phase kernels (SPEC section 3): feature rows in, per-bar states and events out.

A **state** is the signal's condition on a bar (False on an incomplete bar and where an input is
missing); an **event** fires on the rising edge of its state (``state[t] and not state[t-1]``).
``entry`` is sequential: the first rejection candle within ``entry_within`` bars after a ``trigger``
or ``divergence`` event (bars ``s+1 .. s+entry_within``; a new setup re-arms the window).
Everything at bar ``t`` reads bars ``<= t`` only.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from oiradar.features import kernels as fk

# Input rows of the signal matrix, in order (built by ``signals.frame.signal_inputs``).
SIG_INPUTS: tuple[str, ...] = (
    "complete",
    "close",
    "high",
    "low",
    "volume",
    "oi",
    "oi_ma_30d",
    "oi_z_30d",
    "oi_chg_7d",
    "oi_vol_ratio",
    "oi_vol_ratio_ma_30d",
    "oi_dd",
    "oi_down_streak",
    "vol_ma_20d",
    "new_high",
    "near_high",
    "new_low",
    "near_low",
    "rejection",
    "rejection_bull",
    "atr_14",
    "price_high",
    "price_low",
    "liquidations",
)
# Row indices (numba reads module-level ints as constants).
X_COMPLETE = 0
X_CLOSE = 1
X_HIGH = 2
X_LOW = 3
X_VOLUME = 4
X_OI = 5
X_OI_MA_30D = 6
X_OI_Z_30D = 7
X_OI_CHG_7D = 8
X_OI_VOL_RATIO = 9
X_OI_VOL_RATIO_MA_30D = 10
X_OI_DD = 11
X_OI_DOWN_STREAK = 12
X_VOL_MA_20D = 13
X_NEW_HIGH = 14
X_NEAR_HIGH = 15
X_NEW_LOW = 16
X_NEAR_LOW = 17
X_REJECTION = 18
X_REJECTION_BULL = 19
X_ATR_14 = 20
X_PRICE_HIGH = 21
X_PRICE_LOW = 22
X_LIQUIDATIONS = 23

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


@njit(cache=True, nogil=True)
def truthy(x: np.ndarray) -> np.ndarray:
    """``x == 1`` with a missing value counting as False (pandas: ``s.fillna(0).astype(bool)``)."""
    out = np.zeros(x.size, np.bool_)
    for i in range(x.size):
        out[i] = x[i] > 0.5
    return out


@njit(cache=True, nogil=True)
def any_last(b: np.ndarray, n: int) -> np.ndarray:
    """True where ``b`` was True on any of the last ``n`` bars, including ``t``.

    pandas: ``b.astype(int).rolling(n, min_periods=1).max().astype(bool)``.
    """
    out = np.zeros(b.size, np.bool_)
    last = -(1 << 62)
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
def entries(setup: np.ndarray, rej: np.ndarray, within: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``rej`` bar in ``s+1 .. s+within`` after a ``setup`` event at ``s``.

    Returns the entry flags and, per entry bar, the index of the setup that armed it (-1 elsewhere).
    A setup firing while armed re-arms the window from the newer setup.
    """
    m = setup.size
    fire = np.zeros(m, np.bool_)
    src = np.full(m, -1, np.int64)
    armed = -1
    for i in range(m):
        if armed >= 0 and i - armed <= within and rej[i]:
            fire[i] = True
            src[i] = armed
            armed = -1
        elif armed >= 0 and i - armed > within:
            armed = -1
        if setup[i]:
            armed = i
    return fire, src


@njit(cache=True, nogil=True)
def _gt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(a.size, np.bool_)
    for i in range(a.size):
        out[i] = a[i] > b[i]  # False when either is NaN
    return out


@njit(cache=True, nogil=True)
def series_states(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States (len(STATES) x m, bool), entry setup indices (2 x m) and phase codes of one series."""
    m = x.shape[1]
    ok = truthy(x[X_COMPLETE])
    st = np.zeros((len(STATES), m), np.bool_)
    z = x[X_OI_Z_30D]
    st[0] = ok & (z >= p[P_Z])
    st[1] = ok & (z <= -p[P_Z])
    watch = ok & _gt(x[X_OI], x[X_OI_MA_30D]) & (x[X_OI_CHG_7D] >= p[P_WATCH_CHG])
    watch &= _gt(x[X_OI_VOL_RATIO], x[X_OI_VOL_RATIO_MA_30D])
    st[2] = watch
    recent_watch = any_last(watch, int(p[P_WATCH_BACK]))
    falling = (x[X_OI_DOWN_STREAK] >= p[P_DOWN_STREAK]) & _gt(x[X_VOL_MA_20D], x[X_VOLUME])
    base = ok & recent_watch & falling
    nb = int(p[P_NEWHIGH_BACK])
    st[3] = base & any_last(ok & truthy(x[X_NEW_HIGH]), nb)
    st[4] = ok & (x[X_OI_DD] >= p[P_DIV_DD]) & truthy(x[X_NEAR_HIGH])
    long_side = p[P_LONG] > 0
    if long_side:
        st[5] = base & any_last(ok & truthy(x[X_NEW_LOW]), nb)
        st[6] = ok & (x[X_OI_DD] >= p[P_DIV_DD]) & truthy(x[X_NEAR_LOW])
    src = np.full((2, m), -1, np.int64)
    within = int(p[P_ENTRY_WITHIN])
    setup = rising_edge(st[3]) | rising_edge(st[4])
    st[7], src[0] = entries(setup, ok & truthy(x[X_REJECTION]), within)
    if long_side:
        setup_l = rising_edge(st[5]) | rising_edge(st[6])
        st[8], src[1] = entries(setup_l, ok & truthy(x[X_REJECTION_BULL]), within)
    return st, src, phases(x, p, ok)


@njit(cache=True, nogil=True)
def phases(x: np.ndarray, p: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Phase code per bar (:data:`PHASES`; -1 on an incomplete bar). First match wins:

    * ``cascade``: ``close - max(close, n_c) <= -k * atr_14`` and ``oi / max(oi, n_c) - 1 <= -y``
      and, where a ``liquidations`` column exists, its ``n_c``-bar sum >= ``liq_mult`` x its
      ``n_c``-bar sums' 30-day mean;
    * ``breakout``: ``high`` above the previous ``n_r`` bars' high or ``low`` below their low
      (a close beyond the range or a sweep) while ``oi / oi[t - n_s] - 1 >= spike``;
    * ``distribution``: ``near_high``, ``oi_dd >= dist_dd`` and a rejection within ``n_s`` bars;
    * ``accumulation``: ``(price_high - price_low) / close <= range_pct`` and
      ``0 < oi_chg_7d < watch_chg`` (OI rising, but slowly);
    * ``neutral`` otherwise.
    """
    m = x.shape[1]
    c, h, lo, oi = x[X_CLOSE], x[X_HIGH], x[X_LOW], x[X_OI]
    nc = int(p[P_CASCADE_N])
    drop = c - fk.rolling_max(c, nc, nc)
    oi_off = oi / fk.rolling_max(oi, nc, nc) - 1.0
    liq = x[X_LIQUIDATIONS]
    liq_sum = fk.rolling_sum(liq, nc, nc)
    liq_ref = fk.rolling_mean(liq_sum, int(p[P_LIQ_N]), int(p[P_LIQ_N]))
    nr = int(p[P_RANGE_N])
    up = fk.breakout(h, nr, nr, 1.0)
    dn = fk.breakout(lo, nr, nr, -1.0)
    spike = fk.pct_change_lag(oi, int(p[P_SPIKE_N]))
    rej = any_last(truthy(x[X_REJECTION]), int(p[P_SPIKE_N]))
    near = truthy(x[X_NEAR_HIGH])
    dd, chg = x[X_OI_DD], x[X_OI_CHG_7D]
    width = (x[X_PRICE_HIGH] - x[X_PRICE_LOW]) / c
    out = np.full(m, -1, np.int8)
    for i in range(m):
        if not ok[i]:
            continue
        has_liq = not np.isnan(liq[i])
        burst = (not has_liq) or (liq_sum[i] > 0 and liq_sum[i] >= p[P_LIQ_MULT] * liq_ref[i])
        if (
            drop[i] <= -p[P_CASCADE_ATR] * x[X_ATR_14, i]
            and oi_off[i] <= -p[P_CASCADE_OI]
            and burst
        ):
            out[i] = 4
        elif (up[i] > 0.5 or dn[i] > 0.5) and spike[i] >= p[P_SPIKE]:
            out[i] = 2
        elif near[i] and dd[i] >= p[P_DIST_DD] and rej[i]:
            out[i] = 3
        elif width[i] <= p[P_RANGE_PCT] and chg[i] > 0 and chg[i] < p[P_WATCH_CHG]:
            out[i] = 1
        else:
            out[i] = 0
    return out


@njit(cache=True, parallel=True)
def many_states(
    x: np.ndarray, offsets: np.ndarray, params: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`series_states` for many series stacked along axis 1, in parallel over series."""
    total = x.shape[1]
    st = np.zeros((len(STATES), total), np.bool_)
    src = np.full((2, total), -1, np.int64)
    ph = np.full(total, -1, np.int8)
    for s in prange(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        st_s, src_s, ph_s = series_states(x[:, a:b], params[s])
        st[:, a:b] = st_s
        src[:, a:b] = src_s  # indices local to the series
        ph[a:b] = ph_s
    return st, src, ph


@njit(cache=True)
def serial_states(
    x: np.ndarray, offsets: np.ndarray, params: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`many_states` on one thread (small inputs: no thread-pool start-up)."""
    total = x.shape[1]
    st = np.zeros((len(STATES), total), np.bool_)
    src = np.full((2, total), -1, np.int64)
    ph = np.full(total, -1, np.int8)
    for s in range(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        st_s, src_s, ph_s = series_states(x[:, a:b], params[s])
        st[:, a:b] = st_s
        src[:, a:b] = src_s
        ph[a:b] = ph_s
    return st, src, ph
