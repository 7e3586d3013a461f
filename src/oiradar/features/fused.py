"""All features of one series in one call, and of many series in parallel.

Every kernel of :mod:`oiradar.features.kernels` runs back to back on one series while its columns
are hot in the CPU cache (a series of a year of 5-minute bars is ~0.8 MB a column); series are
spread over the cores with ``numba.prange``. The column order is :data:`FEATURE_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from oiradar.features import kernels as k
from oiradar.features.scratch import fresh

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
def series_features(x: np.ndarray, a: int, b: int, p: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[:, a:b]`` with the features of the series in ``x[:, a:b]``.

    ``x`` holds the :data:`INPUTS` rows; ``p`` the parameter vector. Every kernel writes straight
    into its output row: no temporary arrays.
    """
    o, h, lo, c = x[0, a:b], x[1, a:b], x[2, a:b], x[3, a:b]
    v, qv, oi, oiv = x[4, a:b], x[5, a:b], x[6, a:b], x[7, a:b]
    f = [out[j, a:b] for j in range(20)]
    sa = np.empty(b - a)  # scratch for the rolling sums and maxima
    sb = np.empty(b - a)
    cover = p[P_COVER]
    nz, npk, nt, nv, nh = (
        int(p[P_Z]),
        int(p[P_PEAK]),
        int(p[P_TURN]),
        int(p[P_VOL]),
        int(p[P_NEWHIGH]),
    )
    k.rolling_mean_std_into(oi, nz, need(nz, cover), f[0], f[1], sa, sb)
    k.safe_div_into(oi, f[1], f[0], f[2])  # (oi - ma) / sd
    k.pct_change_lag_into(oi, int(p[P_CHG]), f[3])
    k.rolling_sum_into(qv, nt, need(nt, cover), False, f[4], sa, sb)
    _ratio(oiv, f[4])
    k.rolling_sum_into(f[4], nz, need(nz, cover), True, f[5], sa, sb)
    k.rolling_max_into(oi, npk, need(npk, cover), 1.0, sa, sb, f[6])
    _drawdown(oi, f[6], f[7])
    k.streaks_into(oi, f[8], f[9])
    k.rolling_sum_into(v, nv, need(nv, cover), True, f[10], sa, sb)
    k.rolling_max_into(h, npk, need(npk, cover), 1.0, sa, sb, f[11])
    k.breakout_into(h, nh, need(nh, cover), 1.0, sa, sb, f[12])
    k.near_level_into(c, f[11], p[P_NEAR], 1.0, f[13])
    k.wilder_atr_into(h, lo, c, int(p[P_ATR]), f[14])
    wick, engulf, through = p[P_WICK] > 0, p[P_ENGULF] > 0, p[P_THROUGH] > 0
    k.rejection_into(o, h, lo, c, wick, engulf, through, 1.0, f[15])
    k.rolling_max_into(lo, npk, need(npk, cover), -1.0, sa, sb, f[16])
    k.breakout_into(lo, nh, need(nh, cover), -1.0, sa, sb, f[17])
    k.near_level_into(c, f[16], p[P_NEAR], -1.0, f[18])
    k.rejection_into(o, h, lo, c, wick, engulf, through, -1.0, f[19])


@njit(cache=True, nogil=True)
def _ratio(oiv: np.ndarray, turnover: np.ndarray) -> None:
    """``turnover[:] = oiv / turnover`` where finite (``oi_vol_ratio``), else missing."""
    for i in range(oiv.size):
        t = turnover[i]
        turnover[i] = oiv[i] / t if (t != 0.0 and t == t and oiv[i] == oiv[i]) else np.nan


@njit(cache=True, nogil=True)
def _drawdown(oi: np.ndarray, peak: np.ndarray, out: np.ndarray) -> None:
    """``1 - oi / oi_peak`` (missing where the peak is 0 or either is missing)."""
    for i in range(oi.size):
        pk = peak[i]
        out[i] = 1.0 - oi[i] / pk if (pk != 0.0 and pk == pk and oi[i] == oi[i]) else np.nan


@njit(cache=True, nogil=True)
def need(n: int, coverage: float) -> int:
    """Values a window of ``n`` bars must hold: ``ceil(coverage * n)``, at least 1."""
    return max(1, int(np.ceil(coverage * n - 1e-9)))


@njit(cache=True, nogil=True)
def fill_fallbacks(x: np.ndarray) -> None:
    """Fill missing ``quote_volume`` and ``oi_value`` of an :data:`INPUTS` matrix in place (SPEC
    section 1), in one pass. numpy::

        np.copyto(qv, v * (h + lo + c) / 3, where=np.isnan(qv))
        np.copyto(oiv, oi * c, where=np.isnan(oiv))
    """
    for i in range(x.shape[1]):
        if x[5, i] != x[5, i]:
            x[5, i] = x[4, i] * (x[1, i] + x[2, i] + x[3, i]) / 3
        if x[7, i] != x[7, i]:
            x[7, i] = x[6, i] * x[3, i]


def many_features(x: np.ndarray, offsets: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Features of many series stacked along axis 1 (series ``s`` is ``offsets[s]:offsets[s+1]``).

    ``params[s]`` is series ``s``'s parameter vector, so per-symbol settings apply per series.
    Returns a (len(FEATURE_COLUMNS) x total) matrix, allocated by :func:`oiradar.features.scratch.fresh` (large
    ones without the huge-page hint: decision 0305).
    """
    out = feature_output(x.shape[1])
    _many_features(x, offsets, params, out)
    return out


def serial_features(x: np.ndarray, offsets: np.ndarray, params: np.ndarray) -> np.ndarray:
    """:func:`many_features` on one thread: no thread-pool start-up for one small series."""
    out = feature_output(x.shape[1])
    _serial_features(x, offsets, params, out)
    return out


def feature_output(n: int) -> np.ndarray:
    """A new (features x ``n``) float64 matrix, mapped like every large kernel output."""
    return fresh(len(FEATURE_COLUMNS) * n).reshape(len(FEATURE_COLUMNS), n)


@njit(cache=True, parallel=True)
def _many_features(x: np.ndarray, offsets: np.ndarray, params: np.ndarray, out: np.ndarray) -> None:
    for s in prange(offsets.size - 1):
        series_features(x, offsets[s], offsets[s + 1], params[s], out)


@njit(cache=True)
def _serial_features(
    x: np.ndarray, offsets: np.ndarray, params: np.ndarray, out: np.ndarray
) -> None:
    for s in range(offsets.size - 1):
        series_features(x, offsets[s], offsets[s + 1], params[s], out)


PARALLEL_MIN_ROWS = 200_000  # below this, threads cost more than they save
