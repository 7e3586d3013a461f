"""Numeric kernels: numba-compiled, float64 arrays in, float64 arrays out.

Conventions shared by every kernel (see ``docs/decisions/0300-features-nulls-and-gaps.md``):

* a missing value is ``NaN``; boolean features are ``1.0`` / ``0.0`` / ``NaN`` (missing);
* a rolling window over ``n`` bars has a value only when at least ``q`` of its bars hold one,
  exactly like pandas ``rolling(n, min_periods=q)``; ``q = n`` (the default, coverage 1.0) means a
  missing value anywhere in the window makes the result missing;
* standard deviations use ``ddof=1``;
* a value at index ``t`` reads indices ``<= t`` only (no look-ahead).

Each kernel's docstring names the plain pandas expression it equals; ``tests/unit/features``
asserts the equality on random data with gaps and on real data. ``cache=True`` stores the compiled
code on disk (``__pycache__``), so a CLI call does not pay the compilation again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NAN = np.nan


@njit(cache=True, nogil=True)
def rolling_mean_std(x: np.ndarray, n: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and standard deviation (ddof=1) over the last ``n`` bars, including ``t``,
    where at least ``q`` of them hold a value (``q = n``: the window must be full).

    pandas: ``s.rolling(n, min_periods=q).mean()`` and ``s.rolling(n, min_periods=q).std(ddof=1)``.

    Sums of ``x - K`` and ``(x - K)**2`` with add/remove updates, where the shift ``K`` is moved to
    the window's mean and the sums recomputed exactly every ``n`` bars (O(1) amortised): the
    cancellation error stays at rounding level relative to the window's spread, not its level.
    A window whose values are all identical has a standard deviation of exactly 0.
    """
    m = x.size
    mean = np.full(m, _NAN)
    sd = np.full(m, _NAN)
    k = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    since = 0
    same = 0
    last = _NAN
    for i in range(m):
        if i >= n and not np.isnan(x[i - n]):
            d = x[i - n] - shift
            s1 -= d
            s2 -= d * d
            k -= 1
        xi = x[i]
        if not np.isnan(xi):
            if k == 0:
                shift, s1, s2 = xi, 0.0, 0.0
            d = xi - shift
            s1 += d
            s2 += d * d
            k += 1
            same = same + 1 if xi == last else 1
            last = xi
        since += 1
        if since >= n and k > 0:
            shift, s1, s2 = _rebase(x, max(0, i - n + 1), i + 1, shift + s1 / k)
            since = 0
        if k >= q and k > 0:
            mean[i] = shift + s1 / k
            if k > 1:
                var = (s2 - s1 * s1 / k) / (k - 1)
                sd[i] = 0.0 if same >= k else np.sqrt(max(var, 0.0))
    return mean, sd


@njit(cache=True, nogil=True)
def _rebase(x: np.ndarray, a: int, b: int, shift: float) -> tuple[float, float, float]:
    """Exact sums of ``x[a:b] - shift`` and its squares, NaN skipped (rolling_mean_std's reset)."""
    s1 = 0.0
    s2 = 0.0
    for j in range(a, b):
        if not np.isnan(x[j]):
            d = x[j] - shift
            s1 += d
            s2 += d * d
    return shift, s1, s2


@njit(cache=True, nogil=True)
def rolling_sum(x: np.ndarray, n: int, q: int) -> np.ndarray:
    """Rolling sum over the last ``n`` bars with at least ``q`` values.

    pandas: ``s.rolling(n, min_periods=q).sum()``. Neumaier-compensated add/remove.
    """
    return _rolling_sum_count(x, n, q)[0]


@njit(cache=True, nogil=True)
def _rolling_sum_count(x: np.ndarray, n: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    m = x.size
    out = np.full(m, _NAN)
    cnt = np.zeros(m)
    k = 0
    s = 0.0
    comp = 0.0
    for i in range(m):
        if i >= n and not np.isnan(x[i - n]):
            s, comp = _neumaier(s, comp, -x[i - n])
            k -= 1
        if not np.isnan(x[i]):
            if k == 0:
                s, comp = 0.0, 0.0
            s, comp = _neumaier(s, comp, x[i])
            k += 1
        cnt[i] = k
        if k >= q and k > 0:
            out[i] = s + comp
    return out, cnt


@njit(cache=True, nogil=True, inline="always")
def _neumaier(s: float, comp: float, v: float) -> tuple[float, float]:
    t = s + v
    if abs(s) >= abs(v):
        comp += (s - t) + v
    else:
        comp += (v - t) + s
    return t, comp


@njit(cache=True, nogil=True)
def rolling_mean(x: np.ndarray, n: int, q: int) -> np.ndarray:
    """pandas: ``s.rolling(n, min_periods=q).mean()`` (compensated sum over the values present)."""
    total, cnt = _rolling_sum_count(x, n, q)
    return total / np.maximum(cnt, 1.0)


@njit(cache=True, nogil=True)
def rolling_max(x: np.ndarray, n: int, q: int) -> np.ndarray:
    """Rolling maximum over the last ``n`` bars with at least ``q`` values.

    pandas: ``s.rolling(n, min_periods=q).max()``. Monotone deque, O(1) amortised per value.
    """
    m = x.size
    out = np.full(m, _NAN)
    dq = np.empty(m, np.int64)
    head = 0
    tail = 0
    k = 0
    for i in range(m):
        if i >= n and not np.isnan(x[i - n]):
            k -= 1
        while tail > head and dq[head] <= i - n:
            head += 1
        xi = x[i]
        if not np.isnan(xi):
            k += 1
            while tail > head and x[dq[tail - 1]] <= xi:
                tail -= 1
            dq[tail] = i
            tail += 1
        if k >= q and k > 0:
            out[i] = x[dq[head]]
    return out


@njit(cache=True, nogil=True)
def rolling_min(x: np.ndarray, n: int, q: int) -> np.ndarray:
    """pandas: ``s.rolling(n, min_periods=q).min()``."""
    return -rolling_max(-x, n, q)


@njit(cache=True, nogil=True)
def pct_change_lag(x: np.ndarray, k: int) -> np.ndarray:
    """Relative change over ``k`` bars: ``x[t] / x[t-k] - 1``.

    pandas: ``(s / s.shift(k) - 1).replace([inf, -inf], nan)``: missing where either value is
    missing or ``x[t-k] == 0``.
    """
    m = x.size
    out = np.full(m, _NAN)
    for i in range(k, m):
        base = x[i - k]
        if base != 0.0 and not np.isnan(base) and not np.isnan(x[i]):
            out[i] = x[i] / base - 1.0
    return out


@njit(cache=True, nogil=True)
def safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """pandas: ``(a / b).replace([inf, -inf], nan)``: missing where ``b`` is 0 or either is missing."""
    out = np.full(a.size, _NAN)
    for i in range(a.size):
        if b[i] != 0.0 and not np.isnan(b[i]) and not np.isnan(a[i]):
            out[i] = a[i] / b[i]
    return out


@njit(cache=True, nogil=True)
def streaks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive falling and rising bars ending at ``t`` (``oi_down_streak``, ``oi_up_streak``).

    pandas, for the falling streak (the rising one swaps ``<`` for ``>``)::

        down = s < s.shift(1)
        streak = down.groupby((~down).cumsum()).cumsum().astype(float)
        streak[s.isna()] = nan

    A missing value breaks a streak: the bar after a gap compares against a missing value and
    counts 0.
    """
    m = x.size
    dn = np.full(m, _NAN)
    up = np.full(m, _NAN)
    d = 0
    u = 0
    for i in range(m):
        xi = x[i]
        if np.isnan(xi):
            d = 0
            u = 0
            continue
        prev = x[i - 1] if i > 0 else _NAN
        d = d + 1 if xi < prev else 0
        u = u + 1 if xi > prev else 0
        dn[i] = d
        up[i] = u
    return dn, up


@njit(cache=True, nogil=True)
def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Wilder's average true range over ``n`` bars.

    ``TR = max(high - low, |high - close[t-1]|, |low - close[t-1]|)`` (``high - low`` where the
    previous close is missing); the first ATR is the mean of the first ``n`` TRs, then
    ``ATR = (ATR[t-1] * (n - 1) + TR) / n``. A missing TR (a missing bar) restarts the average.
    pandas, per run of valid TRs (``tr.isna().cumsum()`` groups)::

        seed = tr.iloc[:n].mean(); x = tr.copy(); x.iloc[:n-1] = nan; x.iloc[n-1] = seed
        atr = x.ewm(alpha=1/n, adjust=False).mean()
    """
    m = high.size
    out = np.full(m, _NAN)
    k = 0
    acc = 0.0
    for i in range(m):
        rng = high[i] - low[i]
        if np.isnan(rng):
            k = 0
            acc = 0.0
            continue
        tr = rng
        if i > 0 and not np.isnan(close[i - 1]):
            tr = max(rng, abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        k += 1
        if k < n:
            acc += tr
        elif k == n:
            acc = (acc + tr) / n
            out[i] = acc
        else:
            acc = (acc * (n - 1) + tr) / n
            out[i] = acc
    return out


@njit(cache=True, nogil=True)
def breakout(x: np.ndarray, lookback: int, q: int, sign: float) -> np.ndarray:
    """New high (``sign=1``) or new low (``sign=-1``) against the previous ``lookback`` bars.

    pandas (high): ``(h > h.shift(1).rolling(L, min_periods=q).max()).where(prior.notna() &
    h.notna())``; (low): ``l < l.shift(1).rolling(L, min_periods=q).min()``, missing likewise.
    """
    m = x.size
    out = np.full(m, _NAN)
    prior = rolling_max(sign * x, lookback, q)
    for i in range(1, m):
        if not np.isnan(prior[i - 1]) and not np.isnan(x[i]):
            out[i] = 1.0 if sign * x[i] > prior[i - 1] else 0.0
    return out


@njit(cache=True, nogil=True)
def near_level(close: np.ndarray, level: np.ndarray, pct: float, sign: float) -> np.ndarray:
    """``near_high`` (``sign=1``): ``close >= (1 - pct) * price_high``; ``near_low`` (``sign=-1``):
    ``close <= (1 + pct) * price_low``. Missing where either input is missing.

    pandas: ``(c >= (1 - pct) * ph).where(c.notna() & ph.notna())``.
    """
    m = close.size
    out = np.full(m, _NAN)
    for i in range(m):
        if np.isnan(close[i]) or np.isnan(level[i]):
            continue
        if sign > 0:
            out[i] = 1.0 if close[i] >= (1.0 - pct) * level[i] else 0.0
        else:
            out[i] = 1.0 if close[i] <= (1.0 + pct) * level[i] else 0.0
    return out


@njit(cache=True, nogil=True)
def rejection(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    wick: bool,
    engulf: bool,
    through: bool,
    sign: float,
) -> np.ndarray:
    """Rejection candle: bearish (``sign=1``) or its bullish mirror (``sign=-1``).

    Bearish rules (any enabled one fires), pandas::

        body = (c - o).abs(); rng = h - l
        upper = h - np.maximum(o, c); lower = np.minimum(o, c) - l
        a = (rng > 0) & (upper >= 2 * body) & (upper >= 0.5 * rng) & (lower <= 0.25 * rng)
        b = (c < o) & (c.shift() > o.shift()) & (o >= c.shift()) & (c <= o.shift()) & (body > body.shift())
        c_ = c < l.shift()
        rej = (a | b | c_).where(o.notna() & h.notna() & l.notna() & c.notna())

    The bullish mirror swaps the wicks, inverts the engulfing and uses ``c > h.shift()``.
    Rules (b) and (c) need the previous bar; where it is missing they do not fire.
    """
    m = o.size
    out = np.full(m, _NAN)
    for i in range(m):
        if np.isnan(o[i]) or np.isnan(h[i]) or np.isnan(lo[i]) or np.isnan(c[i]):
            continue
        body = abs(c[i] - o[i])
        rng = h[i] - lo[i]
        top = max(o[i], c[i])
        bot = min(o[i], c[i])
        near_wick = h[i] - top if sign > 0 else bot - lo[i]
        far_wick = bot - lo[i] if sign > 0 else h[i] - top
        hit = wick and rng > 0 and near_wick >= 2 * body and near_wick >= 0.5 * rng
        hit = hit and far_wick <= 0.25 * rng
        if i > 0 and not hit:
            po = o[i - 1]
            pc = c[i - 1]
            if engulf and not np.isnan(po) and not np.isnan(pc):
                bigger = body > abs(pc - po)
                if sign > 0:
                    hit = c[i] < o[i] and pc > po and o[i] >= pc and c[i] <= po and bigger
                else:
                    hit = c[i] > o[i] and pc < po and o[i] <= pc and c[i] >= po and bigger
            if through and not hit:
                hit = c[i] < lo[i - 1] if sign > 0 else c[i] > h[i - 1]
        out[i] = 1.0 if hit else 0.0
    return out
