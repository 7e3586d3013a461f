"""All features of one series in one call, and of many series in parallel.

Every kernel of :mod:`oiradar.features.kernels` runs back to back on one series while its columns
are hot in the CPU cache (a series of a year of 5-minute bars is ~0.8 MB a column); series are
spread over the cores with ``numba.prange``. The column order is :data:`FEATURE_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from oiradar.features import kernels as k

FEATURE_COLUMNS: tuple[str, ...] = (
    "oi_ma_30d",
    "oi_sd_30d",
    "oi_z_30d",
    "oi_chg_7d",
    "oi_vol_ratio",
    "oi_vol_ratio_ma_30d",
    "oi_peak",
    "oi_dd",
    "oi_down_streak",
    "oi_up_streak",
    "vol_ma_20d",
    "price_high",
    "new_high",
    "near_high",
    "atr_14",
    "rejection",
    "price_low",
    "new_low",
    "near_low",
    "rejection_bull",
)
BOOL_FEATURES: tuple[str, ...] = (
    "new_high",
    "near_high",
    "rejection",
    "new_low",
    "near_low",
    "rejection_bull",
)
INT_FEATURES: tuple[str, ...] = ("oi_down_streak", "oi_up_streak")
COL = {name: i for i, name in enumerate(FEATURE_COLUMNS)}

# Layout of the per-series parameter vector (float64); built by ``features.frame.feature_params``.
(
    P_Z,
    P_CHG,
    P_TURN,
    P_PEAK,
    P_VOL,
    P_NEWHIGH,
    P_NEAR,
    P_ATR,
    P_WICK,
    P_ENGULF,
    P_THROUGH,
    P_COVER,
) = range(12)
N_PARAMS = 12
# Input columns, in order, of the stacked input matrix.
INPUTS: tuple[str, ...] = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "oi",
    "oi_value",
)


@njit(cache=True, nogil=True)
def series_features(x: np.ndarray, p: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[:, :]`` (len(FEATURE_COLUMNS) x m) with the features of one series.

    ``x`` holds the :data:`INPUTS` rows; ``p`` the parameter vector.
    """
    o, h, lo, c, v, qv, oi, oiv = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    cover = p[P_COVER]
    nz, npk = int(p[P_Z]), int(p[P_PEAK])
    ma, sd = k.rolling_mean_std(oi, nz, need(nz, cover))
    out[0] = ma
    out[1] = sd
    out[2] = k.safe_div(oi - ma, sd)
    out[3] = k.pct_change_lag(oi, int(p[P_CHG]))
    nt = int(p[P_TURN])
    ratio = k.safe_div(oiv, k.rolling_sum(qv, nt, need(nt, cover)))
    out[4] = ratio
    out[5] = k.rolling_mean(ratio, nz, need(nz, cover))
    peak = k.rolling_max(oi, npk, need(npk, cover))
    out[6] = peak
    out[7] = 1.0 - k.safe_div(oi, peak)
    dn, up = k.streaks(oi)
    out[8] = dn
    out[9] = up
    nv = int(p[P_VOL])
    out[10] = k.rolling_mean(v, nv, need(nv, cover))
    ph = k.rolling_max(h, npk, need(npk, cover))
    out[11] = ph
    nh = int(p[P_NEWHIGH])
    out[12] = k.breakout(h, nh, need(nh, cover), 1.0)
    out[13] = k.near_level(c, ph, p[P_NEAR], 1.0)
    out[14] = k.wilder_atr(h, lo, c, int(p[P_ATR]))
    wick, engulf, through = p[P_WICK] > 0, p[P_ENGULF] > 0, p[P_THROUGH] > 0
    out[15] = k.rejection(o, h, lo, c, wick, engulf, through, 1.0)
    pl_ = k.rolling_min(lo, npk, need(npk, cover))
    out[16] = pl_
    out[17] = k.breakout(lo, nh, need(nh, cover), -1.0)
    out[18] = k.near_level(c, pl_, p[P_NEAR], -1.0)
    out[19] = k.rejection(o, h, lo, c, wick, engulf, through, -1.0)


@njit(cache=True, nogil=True)
def need(n: int, coverage: float) -> int:
    """Values a window of ``n`` bars must hold: ``ceil(coverage * n)``, at least 1."""
    return max(1, int(np.ceil(coverage * n - 1e-9)))


@njit(cache=True, parallel=True)
def many_features(x: np.ndarray, offsets: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Features of many series stacked along axis 1 (series ``s`` is ``offsets[s]:offsets[s+1]``).

    ``params[s]`` is series ``s``'s parameter vector, so per-symbol settings apply per series.
    Returns a (len(FEATURE_COLUMNS) x total) matrix.
    """
    out = np.empty((len(FEATURE_COLUMNS), x.shape[1]))
    for s in prange(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        series_features(x[:, a:b], params[s], out[:, a:b])
    return out


@njit(cache=True)
def serial_features(x: np.ndarray, offsets: np.ndarray, params: np.ndarray) -> np.ndarray:
    """:func:`many_features` on one thread: no thread-pool start-up for one small series."""
    out = np.empty((len(FEATURE_COLUMNS), x.shape[1]))
    for s in range(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        series_features(x[:, a:b], params[s], out[:, a:b])
    return out


PARALLEL_MIN_ROWS = 200_000  # below this, threads cost more than they save
