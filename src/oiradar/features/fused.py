"""All features of one series in one call, and of many series in parallel.

Every kernel of :mod:`oiradar.features.kernels` runs back to back on one series while its columns
are hot in the CPU cache (a series of a year of 5-minute bars is ~0.8 MB a column); series are
spread over the cores with ``numba.prange``. Rows, inputs and parameters are addressed by name
(``F``, ``X``, ``P``: :data:`~oiradar.features.spec.FEATURE_ROW`, ``INPUT_ROW`` and ``PARAM``,
compile-time constants to numba); the pass fills the built-in rows, ``0 .. N_FUSED - 1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from oiradar.features import kernels as k
from oiradar.features.scratch import fresh
from oiradar.features.spec import FEATURE_ROW as F
from oiradar.features.spec import INPUT_ROW as X
from oiradar.features.spec import N_FUSED
from oiradar.features.spec import PARAM as P


@njit(cache=True, nogil=True)
def series_features(x: np.ndarray, a: int, b: int, p: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[:, a:b]`` with the features of the series in ``x[:, a:b]``.

    ``x`` holds the :data:`~oiradar.features.spec.INPUTS` rows; ``p`` the parameter vector. Every kernel writes straight
    into its output row: no temporary arrays.
    """
    o, h, lo, c = x[X.open, a:b], x[X.high, a:b], x[X.low, a:b], x[X.close, a:b]
    v, qv, oi, oiv = x[X.volume, a:b], x[X.quote_volume, a:b], x[X.oi, a:b], x[X.oi_value, a:b]
    f = [out[j, a:b] for j in range(N_FUSED)]
    sa = np.empty(b - a)  # scratch for the rolling sums and maxima
    sb = np.empty(b - a)
    cover = p[P.min_coverage]
    nz, npk, nt, nv, nh = (
        int(p[P.z]),
        int(p[P.peak]),
        int(p[P.turnover]),
        int(p[P.vol]),
        int(p[P.new_high]),
    )
    k.rolling_mean_std_into(oi, nz, need(nz, cover), f[F.oi_ma_30d], f[F.oi_sd_30d], sa, sb)
    k.safe_div_into(oi, f[F.oi_sd_30d], f[F.oi_ma_30d], f[F.oi_z_30d])  # (oi - ma) / sd
    k.pct_change_lag_into(oi, int(p[P.chg]), f[F.oi_chg_7d])
    k.rolling_sum_into(qv, nt, need(nt, cover), False, f[F.oi_vol_ratio], sa, sb)
    ratio_into(oiv, f[F.oi_vol_ratio])
    k.rolling_sum_into(
        f[F.oi_vol_ratio], nz, need(nz, cover), True, f[F.oi_vol_ratio_ma_30d], sa, sb
    )
    k.rolling_max_into(oi, npk, need(npk, cover), 1.0, sa, sb, f[F.oi_peak])
    drawdown_into(oi, f[F.oi_peak], f[F.oi_dd])
    k.streaks_into(oi, f[F.oi_down_streak], f[F.oi_up_streak])
    k.rolling_sum_into(v, nv, need(nv, cover), True, f[F.vol_ma_20d], sa, sb)
    k.rolling_max_into(h, npk, need(npk, cover), 1.0, sa, sb, f[F.price_high])
    k.breakout_into(h, nh, need(nh, cover), 1.0, sa, sb, f[F.new_high])
    k.near_level_into(c, f[F.price_high], p[P.near_pct], 1.0, f[F.near_high])
    k.wilder_atr_into(h, lo, c, int(p[P.atr]), f[F.atr_14])
    wick, engulf, through = p[P.wick] > 0, p[P.engulfing] > 0, p[P.close_below_low] > 0
    k.rejection_into(o, h, lo, c, wick, engulf, through, 1.0, f[F.rejection])
    k.rolling_max_into(lo, npk, need(npk, cover), -1.0, sa, sb, f[F.price_low])
    k.breakout_into(lo, nh, need(nh, cover), -1.0, sa, sb, f[F.new_low])
    k.near_level_into(c, f[F.price_low], p[P.near_pct], -1.0, f[F.near_low])
    k.rejection_into(o, h, lo, c, wick, engulf, through, -1.0, f[F.rejection_bull])


@njit(cache=True, nogil=True)
def ratio_into(oiv: np.ndarray, turnover: np.ndarray) -> None:
    """``turnover[:] = oiv / turnover`` where finite (``oi_vol_ratio``), else missing."""
    for i in range(oiv.size):
        t = turnover[i]
        turnover[i] = oiv[i] / t if (t != 0.0 and t == t and oiv[i] == oiv[i]) else np.nan


@njit(cache=True, nogil=True)
def drawdown_into(oi: np.ndarray, peak: np.ndarray, out: np.ndarray) -> None:
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
    """Fill missing ``quote_volume`` and ``oi_value`` of an input matrix in place (SPEC
    section 1), in one pass. numpy::

        np.copyto(qv, v * (h + lo + c) / 3, where=np.isnan(qv))
        np.copyto(oiv, oi * c, where=np.isnan(oiv))
    """
    qv, oiv = X.quote_volume, X.oi_value
    for i in range(x.shape[1]):
        if x[qv, i] != x[qv, i]:
            x[qv, i] = x[X.volume, i] * (x[X.high, i] + x[X.low, i] + x[X.close, i]) / 3
        if x[oiv, i] != x[oiv, i]:
            x[oiv, i] = x[X.oi, i] * x[X.close, i]


def many_features(
    x: np.ndarray, offsets: np.ndarray, params: np.ndarray, rows: int = N_FUSED
) -> np.ndarray:
    """Features of many series stacked along axis 1 (series ``s`` is ``offsets[s]:offsets[s+1]``).

    ``params[s]`` is series ``s``'s parameter vector, so per-symbol settings apply per series.
    Returns a (``rows`` x total) matrix whose first ``N_FUSED`` rows are filled (the others are
    for the registered features), allocated by :func:`oiradar.features.scratch.fresh` (large ones
    without the huge-page hint: decision 0305).
    """
    out = feature_output(x.shape[1], rows)
    _many_features(x, offsets, params, out)
    return out


def serial_features(
    x: np.ndarray, offsets: np.ndarray, params: np.ndarray, rows: int = N_FUSED
) -> np.ndarray:
    """:func:`many_features` on one thread: no thread-pool start-up for one small series."""
    out = feature_output(x.shape[1], rows)
    _serial_features(x, offsets, params, out)
    return out


def feature_output(n: int, rows: int = N_FUSED) -> np.ndarray:
    """A new (``rows`` x ``n``) float64 matrix, mapped like every large kernel output."""
    return fresh(rows * n).reshape(rows, n)


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
