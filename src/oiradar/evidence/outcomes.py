"""Per-bar outcomes of a hypothetical trade opened at a bar's close (SPEC section 5).

Kernels take plain arrays and return arrays of the same length; a value at bar ``t`` looks only at bars
``t+1 .. t+H`` (the future it measures) and is NaN/invalid when that future is not fully in the data,
so an outcome is never half-observed. ``side`` is the event's :attr:`oiradar.model.Side.sign`: -1 for a
short-side event, +1 for a long one.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numpy.typing import NDArray

WIN, LOSS, TIMEOUT, INVALID = 1, -1, 0, -128


@nb.njit(cache=True)
def dedupe_events(flags: NDArray[np.bool_], cooldown: int) -> NDArray[np.bool_]:
    """Keep an event only if at least ``cooldown`` bars passed since the last **kept** one.

    Equals the loop ``keep i if flags[i] and i - last_kept >= cooldown``; with ``cooldown <= 1`` it
    is ``flags`` itself. Overlapping outcome windows would otherwise count one move many times.
    """
    out = np.zeros(flags.shape[0], dtype=np.bool_)
    last = -(1 << 62)
    for i in range(flags.shape[0]):
        if flags[i] and i - last >= cooldown:
            out[i] = True
            last = i
    return out


@nb.njit(cache=True)
def replicate_sums(sums: NDArray[np.float64], starts: NDArray[np.int64]) -> NDArray[np.float64]:
    """``out[r] = sum(sums[starts[r, j]] for j)``: each bootstrap replicate's column totals from
    its block starts (:func:`oiradar.stats.block_sums`, :func:`~oiradar.stats.block_bootstrap_starts`).

    Bit for bit ``sums[starts].sum(axis=1)`` (the same order of additions), without gathering
    the ``(reps, starts, columns)`` array first: 30x faster on a series-year of 5m bars.
    """
    reps, k = starts.shape
    c = sums.shape[1]
    out = np.zeros((reps, c))
    for r in range(reps):
        for j in range(k):
            s = starts[r, j]
            for q in range(c):
                out[r, q] += sums[s, q]
    return out


@nb.njit(cache=True)
def triple_barrier(
    close: NDArray[np.float64],
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    atr: NDArray[np.float64],
    side: int,
    width: float,
    horizon: int,
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """Triple-barrier outcome of every bar: ``(outcome, bars_to_touch)``.

    Barriers ``close[t] +- width * atr[t]``; the first bar ``t+h`` (``1 <= h <= horizon``) whose high
    reaches the upper or whose low reaches the lower barrier decides. A favourable touch (lower for a
    short) is ``WIN``, an adverse one ``LOSS``, both in one bar ``LOSS`` (conservative), none ``TIMEOUT``
    (``bars_to_touch = horizon``). ``INVALID`` where ``atr`` is not a positive number or
    ``t + horizon`` is past the data. The numpy oracle in the tests: ``argmax`` of the hit masks over
    ``sliding_window_view(high/low, horizon)`` shifted by one bar.
    """
    n = close.shape[0]
    out = np.full(n, INVALID, dtype=np.int8)
    when = np.full(n, -1, dtype=np.int64)
    for t in range(n - horizon):
        a = atr[t]
        if not (a > 0.0) or not np.isfinite(close[t]):
            continue
        up, dn = close[t] + width * a, close[t] - width * a
        res, at = TIMEOUT, horizon
        for h in range(1, horizon + 1):
            hit_up, hit_dn = high[t + h] >= up, low[t + h] <= dn
            if hit_up or hit_dn:
                fav = hit_dn if side < 0 else hit_up
                adv = hit_up if side < 0 else hit_dn
                res = LOSS if adv else (WIN if fav else TIMEOUT)
                at = h
                break
        out[t], when[t] = res, at
    return out, when


def forward_returns(close: NDArray[np.float64], horizons: tuple[int, ...]) -> NDArray[np.float64]:
    """``(n, len(horizons))`` simple returns ``close[t+h] / close[t] - 1`` (pandas:
    ``close.shift(-h) / close - 1``); NaN where ``t + h`` is past the data."""
    n = close.shape[0]
    out = np.full((n, len(horizons)), np.nan)
    for j, h in enumerate(horizons):
        if 0 < h < n:
            out[: n - h, j] = close[h:] / close[: n - h] - 1.0
    return out


@nb.njit(cache=True)
def excursions(
    close: NDArray[np.float64],
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    side: int,
    horizon: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Maximum favourable and adverse excursions over bars ``t+1 .. t+H`` as fractions of ``close[t]``.

    For a short: MFE ``= 1 - min(low[t+1:t+H+1]) / close[t]``, MAE ``= max(high[t+1:t+H+1]) /
    close[t] - 1`` (mirrored for a long); pandas: ``low[::-1].rolling(H).min()[::-1].shift(-1)``.
    NaN where the window runs past the data.
    """
    n = close.shape[0]
    mfe = np.full(n, np.nan)
    mae = np.full(n, np.nan)
    for t in range(n - horizon):
        hi, lo = -np.inf, np.inf
        for h in range(1, horizon + 1):
            hi = max(hi, high[t + h])
            lo = min(lo, low[t + h])
        up, down = hi / close[t] - 1.0, 1.0 - lo / close[t]
        mfe[t], mae[t] = (down, up) if side < 0 else (up, down)
    return mfe, mae
