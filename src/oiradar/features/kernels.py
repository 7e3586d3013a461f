"""Numeric kernels: numba-compiled, float64 arrays in, float64 arrays out.

Conventions shared by every kernel (see ``docs/decisions/0300-features-nulls-and-gaps.md``):

* a missing value is ``NaN``; boolean features are ``1.0`` / ``0.0`` / ``NaN`` (missing);
* a rolling window over ``n`` bars has a value only when at least ``q`` of its bars hold one,
  exactly like pandas ``rolling(n, min_periods=q)``; ``q = n`` (the default, coverage 1.0) means a
  missing value anywhere in the window makes the result missing;
* standard deviations use ``ddof=1``;
* a value at index ``t`` reads indices ``<= t`` only (no look-ahead).

Each kernel comes twice: ``name_into(..., out)`` writes into a caller's array (the fused pass
uses these: no temporary arrays, no page faults), and ``name(...)`` allocates and returns. Each
docstring names the plain pandas expression it equals; ``tests/unit/features``
asserts the equality on random data with gaps and on real data. ``cache=True`` stores the compiled
code on disk (``__pycache__``), so a CLI call does not pay the compilation again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NAN = np.nan


@njit(cache=True, nogil=True)
def rolling_mean_std_into(x, n, q, mean, sd, g, h):
    """Rolling mean and standard deviation (ddof=1) over the last ``n`` bars, including ``t``,
    where at least ``q`` of them hold a value (``q = n``: the window must be full); ``g`` and
    ``h`` are float64 scratch arrays (the block path takes ``2 * (min(n, x.size) + 1)`` values of
    each when they are that long, else allocates its own).

    pandas: ``s.rolling(n, min_periods=q).mean()`` and ``s.rolling(n, min_periods=q).std(ddof=1)``.

    From the first value to the first missing value after it, :func:`_block_mean_std` (block
    sums, no add/remove chain); from that missing value on (or throughout when ``q > n``),
    :func:`_chain_mean_std`, started from the exact sums of the window before it. So a bar's
    value never depends on whether a later bar is missing. Both shift the values by one that
    lies in the window, so the cancellation error stays at rounding level relative to the
    window's spread, not its level, and a window whose values are all identical has a standard
    deviation of exactly 0.
    """
    m = x.size
    f0 = _first_value(x)
    i0 = 0
    if q <= n and f0 < m:
        mean[:f0] = _NAN
        sd[:f0] = _NAN
        size = min(n, m - f0) + 1
        p1, n1 = _scratch_pair(g, size)
        p2, n2 = _scratch_pair(h, size)
        stop = _block_mean_std(x[f0:], n, q, p1, p2, n1, n2, mean[f0:], sd[f0:])
        if stop == m - f0:
            return
        i0 = f0 + stop  # the first missing value: the block path's values before it stand
    _chain_mean_std(x, n, q, mean, sd, i0)


@njit(cache=True, nogil=True)
def _first_value(x):
    """Index of the first value that is not missing (``x.size`` when there is none)."""
    for i in range(x.size):
        if x[i] == x[i]:
            return i
    return x.size


@njit(cache=True, nogil=True)
def _first_missing(x, a):
    """Index of the first missing value at or after ``a`` (``x.size`` when there is none)."""
    for i in range(a, x.size):
        if x[i] != x[i]:
            return i
    return x.size


@njit(cache=True, nogil=True)
def _scratch(g, s):
    """A scratch array of ``s`` values: the start of ``g`` when it is long enough."""
    return g[:s] if s <= g.size else np.empty(s)


@njit(cache=True, nogil=True)
def _scratch_pair(g, s):
    """Two scratch arrays of ``s`` values: the two halves of ``g`` when it is long enough."""
    if 2 * s <= g.size:
        return g[:s], g[s : 2 * s]
    return np.empty(s), np.empty(s)


@njit(cache=True, nogil=True)
def _block_mean_std(x, n, q, p1, p2, n1, n2, mean, sd):
    """:func:`rolling_mean_std_into` of a series whose first value is present. Returns the index
    of the first missing value (``x.size``: none); it stops after the block holding it, and its
    outputs from there on are void (every output reads bars up to its own only, so those before
    it stand).

    Blocks of ``n`` bars: the window ending at ``t`` is a prefix of ``t``'s block plus a suffix
    of the block before (the whole block when ``t`` ends it). One loop per block runs both
    the prefix sums of this block and the suffix sums of it for the next block (four
    independent add chains, not one long one); ``p*`` hold the previous block's suffix sums,
    ``n*`` receive this block's (``min(n, x.size) + 1`` values each, the last one 0). Every
    sum is of ``x - x[b0]``, ``b0`` the first bar of the output's block: a value in the window.
    """
    m = x.size
    bad = 0
    p1[:] = 0.0
    p2[:] = 0.0
    for b0 in range(0, m, n):
        b1 = min(b0 + n, m)
        w = b1 - b0
        xb, mb, sb = x[b0:b1], mean[b0:b1], sd[b0:b1]
        here = xb[0]  # the shift of this block's outputs
        nxt = x[b1] if b1 < m else 0.0  # the next block's: its suffix sums are kept in that one
        f1 = 0.0
        f2 = 0.0
        r1 = 0.0
        r2 = 0.0
        n1[w] = 0.0
        n2[w] = 0.0
        for i in range(w):
            v = xb[i]
            bad += v != v
            d = v - here
            f1 += d
            f2 += d * d
            mb[i] = f1 + p1[i + 1]  # sums for now; the finishing loop makes them mean and sd
            sb[i] = f2 + p2[i + 1]
            j = w - 1 - i
            e = xb[j] - nxt
            r1 += e
            r2 += e * e
            n1[j] = r1
            n2[j] = r2
        p1, n1 = n1, p1
        p2, n2 = n2, p2
        if b0 == 0:  # windows still filling: i + 1 values
            for i in range(w):
                k = i + 1
                s1 = mb[i]
                sigma = _NAN
                if k >= q and k > 1:
                    sigma = np.sqrt(max((sb[i] - s1 * s1 / k) / (k - 1), 0.0))
                mb[i] = here + s1 / k if k >= q else _NAN
                sb[i] = sigma
        else:
            inv1 = 1.0 / n
            inv2 = 1.0 / (n - 1) if n > 1 else 0.0
            for i in range(w):
                s1 = mb[i]
                mb[i] = here + s1 * inv1
                sb[i] = np.sqrt(max((sb[i] - s1 * s1 * inv1) * inv2, 0.0)) if n > 1 else _NAN
        if bad:  # a gap: the caller's chain takes over from it
            return _first_missing(x, b0)
    return m


@njit(cache=True, nogil=True)
def _chain_mean_std(x, n, q, mean, sd, i0):
    """:func:`rolling_mean_std_into` of any series (missing values anywhere), bars ``i0`` on.

    Sums of ``x - K`` and ``(x - K)**2`` with add/remove updates, where the shift ``K`` is moved to
    the window's mean and the sums recomputed exactly every ``n`` bars (O(1) amortised). Bar
    ``i0 > 0`` starts from the exact sums of the ``n`` bars before it.
    """
    m = x.size
    k = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    since = 0
    same = 0  # valid values equal to ``last`` in a row (missing ones skipped)
    last = _NAN
    if i0 > 0:
        a = max(0, i0 - n)
        for j in range(a, i0):
            xj = x[j]
            if xj == xj:
                k += 1
                same = same + 1 if xj == last else 1
                last = xj
        if k > 0:  # shifted by the last value: in the window, as everywhere
            shift, s1, s2 = _rebase(x, a, i0, last)
    kinv = 0  # the k that inv1 / inv2 were computed for: divisions only when k changes
    inv1 = 0.0
    inv2 = 0.0
    for i in range(i0, m):
        do = 0.0  # the leaving value's shifted contribution (0: none)
        if i >= n:
            xo = x[i - n]
            if xo == xo:
                do = xo - shift
                k -= 1
        xi = x[i]
        di = 0.0
        if xi == xi:
            if k == 0:
                shift = xi
                s1 = 0.0
                s2 = 0.0
                do = 0.0
            di = xi - shift
            k += 1
            same = same + 1 if xi == last else 1
            last = xi
        s1 += di - do  # one add on each loop-carried chain, not two
        s2 += di * di - do * do
        since += 1
        if since >= n and k > 0:
            shift, s1, s2 = _rebase(x, max(0, i - n + 1), i + 1, shift + s1 / k)
            since = 0
        if k != kinv and k > 0:
            kinv = k
            inv1 = 1.0 / k
            inv2 = 1.0 / (k - 1) if k > 1 else 0.0
        mu = _NAN  # one store per output and bar
        sigma = _NAN
        if k >= q and k > 0:
            mu = shift + s1 * inv1
            if k > 1:
                var = (s2 - s1 * s1 * inv1) * inv2
                sigma = 0.0 if same >= k else np.sqrt(max(var, 0.0))
        mean[i] = mu
        sd[i] = sigma


@njit(cache=True, nogil=True)
def rolling_mean_std(x, n, q):
    """Allocating form of :func:`rolling_mean_std_into`."""
    mean = np.empty(x.size)
    sd = np.empty(x.size)
    s = 2 * (min(n, x.size) + 1)  # the block path's scratch
    rolling_mean_std_into(x, n, q, mean, sd, np.empty(s), np.empty(s))
    return mean, sd


@njit(cache=True, nogil=True)
def _rebase(x, a, b, shift):
    """Exact sums of ``x[a:b] - shift`` and its squares, NaN skipped (rolling_mean_std's reset)."""
    s1 = 0.0
    s2 = 0.0
    for j in range(a, b):
        if x[j] == x[j]:
            d = x[j] - shift
            s1 += d
            s2 += d * d
    return shift, s1, s2


@njit(cache=True, nogil=True)
def rolling_sum_into(x, n, q, mean_not_sum, out, g, h):
    """Rolling sum (or mean, ``mean_not_sum``) over the last ``n`` bars with at least ``q`` values;
    ``g`` and ``h`` are float64 scratch arrays (the block path takes ``min(n, x.size) + 1`` values
    of each when they are that long, else allocates its own).

    pandas: ``s.rolling(n, min_periods=q).sum()`` / ``.mean()``. From the first value to the
    first missing value after it, :func:`_block_sums`; from there on (or throughout when
    ``q > n``) a Neumaier-compensated add/remove, started from the exact sum of the window before
    it: a bar's value never depends on whether a later bar is missing.
    """
    m = x.size
    f0 = _first_value(x)
    i0 = 0
    if q <= n and f0 < m:
        out[:f0] = _NAN
        size = min(n, m - f0) + 1
        hp, hn = _scratch(g, size), _scratch(h, size)
        stop = _block_sums(x[f0:], n, q, mean_not_sum, hp, hn, out[f0:])
        if stop == m - f0:
            return
        i0 = f0 + stop  # the first missing value: the block path's values before it stand
    k = 0
    s = 0.0
    comp = 0.0
    for j in range(max(0, i0 - n), i0):  # the window before i0
        if x[j] == x[j]:
            s, comp = _neumaier(s, comp, x[j])
            k += 1
    for i in range(i0, m):
        if i >= n:
            xo = x[i - n]
            if xo == xo:
                s, comp = _neumaier(s, comp, -xo)
                k -= 1
        xi = x[i]
        if xi == xi:
            if k == 0:
                s = 0.0
                comp = 0.0
            s, comp = _neumaier(s, comp, xi)
            k += 1
        if k >= q and k > 0:
            out[i] = (s + comp) / k if mean_not_sum else s + comp
        else:
            out[i] = _NAN


@njit(cache=True, nogil=True)
def _block_sums(x, n, q, mean_not_sum, hp, hn, out):
    """:func:`rolling_sum_into` of a series whose first value is present. Returns the index of
    the first missing value (``x.size``: none); it stops after the block holding it, and its
    outputs from there on are void.

    The blocks of :func:`_block_mean_std`: the window ending at ``t`` is a prefix of ``t``'s
    block of ``n`` bars plus a suffix of the block before; one loop per block runs this block's
    prefix sums and its suffix sums for the next (two independent add chains). Each sum adds at
    most ``n`` values in order, with no subtraction: no drift along the series.
    """
    m = x.size
    bad = 0
    hp[:] = 0.0
    for b0 in range(0, m, n):
        b1 = min(b0 + n, m)
        w = b1 - b0
        xb, ob = x[b0:b1], out[b0:b1]
        rf = 0.0
        rb = 0.0
        hn[w] = 0.0
        for i in range(w):
            v = xb[i]
            bad += v != v
            rf += v
            ob[i] = rf + hp[i + 1]
            j = w - 1 - i
            rb += xb[j]
            hn[j] = rb
        hp, hn = hn, hp
        if b0 == 0:  # windows still filling: i + 1 values
            for i in range(w):
                k = i + 1
                ob[i] = (ob[i] / k if mean_not_sum else ob[i]) if k >= q else _NAN
        elif mean_not_sum:
            inv = 1.0 / n
            for i in range(w):
                ob[i] *= inv
        if bad:  # a gap: the caller's chain takes over from it
            return _first_missing(x, b0)
    return m


@njit(cache=True, nogil=True, inline="always")
def _neumaier(s, comp, v):
    t = s + v
    if abs(s) >= abs(v):
        comp += (s - t) + v
    else:
        comp += (v - t) + s
    return t, comp


@njit(cache=True, nogil=True)
def rolling_sum(x, n, q):
    """pandas: ``s.rolling(n, min_periods=q).sum()``."""
    out = np.empty(x.size)
    s = min(n, x.size) + 1  # the block path's scratch
    rolling_sum_into(x, n, q, False, out, np.empty(s), np.empty(s))
    return out


@njit(cache=True, nogil=True)
def rolling_mean(x, n, q):
    """pandas: ``s.rolling(n, min_periods=q).mean()`` (compensated sum over the values present)."""
    out = np.empty(x.size)
    s = min(n, x.size) + 1
    rolling_sum_into(x, n, q, True, out, np.empty(s), np.empty(s))
    return out


@njit(cache=True, nogil=True)
def _block_extremes(x, n, sign, g, h):
    """Prefix (``g``) and suffix (``h``) maxima of ``sign * x`` inside blocks of ``n`` values
    (missing values skipped, ``-inf`` where a block has none yet)."""
    m = x.size
    for b0 in range(0, m, n):
        b1 = min(b0 + n, m)
        # block slices indexed from 0: numba then skips its negative-index checks (~15 % faster)
        xb, gb, hb = x[b0:b1], g[b0:b1], h[b0:b1]
        run = -np.inf
        for i in range(b1 - b0):
            y = sign * xb[i]
            run = y if y > run else run  # a NaN compares False: skipped, branch-free (maxsd)
            gb[i] = run
        run = -np.inf
        for i in range(b1 - b0 - 1, -1, -1):
            y = sign * xb[i]
            run = y if y > run else run
            hb[i] = run


@njit(cache=True, nogil=True)
def rolling_max_into(x, n, q, sign, g, h, out):
    """Rolling maximum (``sign=1``) or minimum (``sign=-1``) over the last ``n`` bars with at
    least ``q`` values; ``g`` and ``h`` are float64 scratch arrays of ``x.size``.

    pandas: ``s.rolling(n, min_periods=q).max()`` / ``.min()``.

    van Herk / Gil-Werman: prefix maxima ``g`` and suffix maxima ``h`` inside blocks of ``n``
    bars, then ``max(h[t-n+1], g[t])``: O(1) per value whatever ``n``. Blocks end at or before
    ``t``, so nothing after ``t`` is read for bar ``t``. Without a missing value it is
    :func:`_block_max`, one loop per block; otherwise three passes.
    """
    m = x.size
    if q <= n and _block_max(x, n, q, sign, False, g, h, out) == m:
        return
    _block_extremes(x, n, sign, g, h)
    k = 0
    for i in range(min(n - 1, m)):
        k += x[i] == x[i]
        out[i] = sign * g[i] if (k >= q and k > 0) else _NAN
    for i in range(n - 1, m):
        k += x[i] == x[i]
        if i >= n:
            k -= x[i - n] == x[i - n]
        out[i] = sign * max(h[i - n + 1], g[i]) if (k >= q and k > 0) else _NAN


@njit(cache=True, nogil=True)
def _block_max(x, n, q, sign, breakout, g, h, out):
    """The gap-free path of :func:`rolling_max_into` (``breakout`` False) and
    :func:`breakout_into` (True). Returns the index of the first missing value (``x.size``:
    none); it stops after the block holding it, and the caller falls back to the general path.

    The van Herk blocks, one loop per block: the running maximum of this block's prefix and the
    previous block's suffix maxima (``p``) give the window's maximum; the same loop stores this
    block's suffix maxima for the next (``nx``). The suffix arrays take ``min(n, x.size) + 1``
    values of ``g`` and ``h`` (the last one ``-inf``): no full-length scratch is written.
    """
    m = x.size
    p, nx = _scratch(g, min(n, m) + 1), _scratch(h, min(n, m) + 1)
    bad = 0
    p[:] = -np.inf
    prev = -np.inf  # the window maximum of the bar before (breakouts compare with it)
    for b0 in range(0, m, n):
        b1 = min(b0 + n, m)
        w = b1 - b0
        xb, ob = x[b0:b1], out[b0:b1]
        run = -np.inf
        back = -np.inf
        nx[w] = -np.inf
        for i in range(w):
            y = sign * xb[i]
            bad += y != y
            run = y if y > run else run
            a = p[i + 1]
            cur = a if a > run else run
            if breakout:
                ob[i] = np.float64(y > prev)
                prev = cur
            else:
                ob[i] = sign * cur
            j = w - 1 - i
            z = sign * xb[j]
            back = z if z > back else back
            nx[j] = back
        p, nx = nx, p
        if bad:  # a gap: the caller falls back to the general path
            return _first_missing(x, b0)
    first = q if breakout else q - 1  # bars before it have too few values in their window
    out[: min(first, m)] = _NAN
    return m


@njit(cache=True, nogil=True)
def rolling_max(x, n, q):
    """pandas: ``s.rolling(n, min_periods=q).max()``."""
    out = np.empty(x.size)
    rolling_max_into(x, n, q, 1.0, np.empty(x.size), np.empty(x.size), out)
    return out


@njit(cache=True, nogil=True)
def rolling_min(x, n, q):
    """pandas: ``s.rolling(n, min_periods=q).min()``."""
    out = np.empty(x.size)
    rolling_max_into(x, n, q, -1.0, np.empty(x.size), np.empty(x.size), out)
    return out


@njit(cache=True, nogil=True)
def pct_change_lag_into(x, k, out):
    """Relative change over ``k`` bars: ``x[t] / x[t-k] - 1``.

    pandas: ``(s / s.shift(k) - 1).replace([inf, -inf], nan)``: missing where either value is
    missing or ``x[t-k] == 0``.
    """
    for i in range(x.size):
        v = _NAN
        if i >= k:
            base = x[i - k]
            if base != 0.0 and base == base and x[i] == x[i]:
                v = x[i] / base - 1.0
        out[i] = v


@njit(cache=True, nogil=True)
def pct_change_lag(x, k):
    """Allocating form of :func:`pct_change_lag_into`."""
    out = np.empty(x.size)
    pct_change_lag_into(x, k, out)
    return out


@njit(cache=True, nogil=True)
def safe_div_into(a, b, offset, out):
    """``(a - offset) / b`` where that is finite, else missing (``out`` may alias ``a`` or ``b``).

    pandas: ``((a - offset) / b).replace([inf, -inf], nan)``.
    """
    for i in range(a.size):
        bi = b[i]
        ai = a[i]
        out[i] = (ai - offset[i]) / bi if (bi != 0.0 and bi == bi and ai == ai) else _NAN


@njit(cache=True, nogil=True)
def safe_div(a, b):
    """pandas: ``(a / b).replace([inf, -inf], nan)``: missing where ``b`` is 0 or either is missing."""
    out = np.empty(a.size)
    safe_div_into(a, b, np.zeros(a.size), out)
    return out


@njit(cache=True, nogil=True)
def streaks_into(x, dn, up):
    """Consecutive falling and rising bars ending at ``t`` (``oi_down_streak``, ``oi_up_streak``).

    pandas, for the falling streak (the rising one swaps ``<`` for ``>``)::

        down = s < s.shift(1)
        streak = down.groupby((~down).cumsum()).cumsum().astype(float)
        streak[s.isna()] = nan

    A missing value breaks a streak: the bar after a gap compares against a missing value and
    counts 0.
    """
    d = 0
    u = 0
    for i in range(x.size):
        xi = x[i]
        if xi != xi:
            d = 0
            u = 0
            dn[i] = _NAN
            up[i] = _NAN
            continue
        prev = x[i - 1] if i > 0 else _NAN
        d = d + 1 if xi < prev else 0
        u = u + 1 if xi > prev else 0
        dn[i] = d
        up[i] = u


@njit(cache=True, nogil=True)
def streaks(x):
    """Allocating form of :func:`streaks_into`."""
    dn = np.empty(x.size)
    up = np.empty(x.size)
    streaks_into(x, dn, up)
    return dn, up


@njit(cache=True, nogil=True)
def wilder_atr_into(high, low, close, n, out):
    """Wilder's average true range over ``n`` bars.

    ``TR = max(high - low, |high - close[t-1]|, |low - close[t-1]|)`` (``high - low`` where the
    previous close is missing); the first ATR is the mean of the first ``n`` TRs, then
    ``ATR = (ATR[t-1] * (n - 1) + TR) / n``. A missing TR (a missing bar) restarts the average.
    pandas, per run of valid TRs (``tr.isna().cumsum()`` groups)::

        seed = tr.iloc[:n].mean(); x = tr.copy(); x.iloc[:n-1] = nan; x.iloc[n-1] = seed
        atr = x.ewm(alpha=1/n, adjust=False).mean()
    """
    k = 0
    acc = 0.0
    keep = (n - 1) / n  # Wilder's recursion as acc * keep + tr * inv: no division on the chain
    inv = 1.0 / n
    for i in range(high.size):
        out[i] = _NAN
        rng = high[i] - low[i]
        if rng != rng:
            k = 0
            acc = 0.0
            continue
        tr = rng
        if i > 0 and close[i - 1] == close[i - 1]:
            tr = max(rng, abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        k += 1
        if k < n:
            acc += tr
        elif k == n:
            acc = (acc + tr) / n
            out[i] = acc
        else:
            acc = acc * keep + tr * inv
            out[i] = acc


@njit(cache=True, nogil=True)
def wilder_atr(high, low, close, n):
    """Allocating form of :func:`wilder_atr_into`."""
    out = np.empty(high.size)
    wilder_atr_into(high, low, close, n, out)
    return out


@njit(cache=True, nogil=True)
def breakout_into(x, lookback, q, sign, g, h, out):
    """New high (``sign=1``) or new low (``sign=-1``) against the previous ``lookback`` bars.

    pandas (high): ``(h > h.shift(1).rolling(L, min_periods=q).max()).where(prior.notna() &
    h.notna())``; (low): ``l < l.shift(1).rolling(L, min_periods=q).min()``, missing likewise.
    The van Herk blocks of :func:`rolling_max_into`, read one bar back.
    """
    m = x.size
    n = lookback
    if q <= n and _block_max(x, n, q, sign, True, g, h, out) == m:
        return
    _block_extremes(x, n, sign, g, h)
    k = 0  # values in the window of the previous n bars, [i - n, i - 1]
    for i in range(m):
        out[i] = _NAN
        if i >= 1:
            e = i - 1
            k += x[e] == x[e]
            if e >= n:
                k -= x[e - n] == x[e - n]
            xi = x[i]
            if k >= q and k > 0 and xi == xi:
                prior = g[e] if e < n - 1 else max(h[e - n + 1], g[e])
                out[i] = 1.0 if sign * xi > prior else 0.0


@njit(cache=True, nogil=True)
def breakout(x, lookback, q, sign):
    """Allocating form of :func:`breakout_into`."""
    out = np.empty(x.size)
    breakout_into(x, lookback, q, sign, np.empty(x.size), np.empty(x.size), out)
    return out


@njit(cache=True, nogil=True)
def near_level_into(close, level, pct, sign, out):
    """``near_high`` (``sign=1``): ``close >= (1 - pct) * price_high``; ``near_low`` (``sign=-1``):
    ``close <= (1 + pct) * price_low``. Missing where either input is missing.

    pandas: ``(c >= (1 - pct) * ph).where(c.notna() & ph.notna())``.
    """
    for i in range(close.size):
        c = close[i]
        lv = level[i]
        if c != c or lv != lv:
            out[i] = _NAN
        elif sign > 0:
            out[i] = 1.0 if c >= (1.0 - pct) * lv else 0.0
        else:
            out[i] = 1.0 if c <= (1.0 + pct) * lv else 0.0


@njit(cache=True, nogil=True)
def near_level(close, level, pct, sign):
    """Allocating form of :func:`near_level_into`."""
    out = np.empty(close.size)
    near_level_into(close, level, pct, sign, out)
    return out


@njit(cache=True, nogil=True)
def rejection_into(o, h, lo, c, wick, engulf, through, sign, out):
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
    Branch-free and previous-bar values read through shifted slices: the loop vectorises.
    """
    m = o.size
    bull = sign < 0
    if m == 0:
        return
    nan = _NAN  # no previous bar: rules (b) and (c) compare with NaN, which is False
    out[0] = _rejection_bar(
        o[0], h[0], lo[0], c[0], nan, nan, nan, nan, wick, engulf, through, bull
    )
    o1, h1, l1, c1, oo = o[1:], h[1:], lo[1:], c[1:], out[1:]
    o0, h0, l0, c0 = o[: m - 1], h[: m - 1], lo[: m - 1], c[: m - 1]
    for j in range(m - 1):
        oo[j] = _rejection_bar(
            o1[j], h1[j], l1[j], c1[j], o0[j], c0[j], l0[j], h0[j], wick, engulf, through, bull
        )


@njit(cache=True, nogil=True, inline="always")
def _rejection_bar(o_, h_, l_, c_, po, pc, pl, ph, wick, engulf, through, bull):
    """One bar of :func:`rejection_into` (``po pc pl ph``: the previous bar's open, close, low,
    high). Every comparison with a missing value is False, so a missing previous bar fires
    neither (b) nor (c); a missing value on the bar itself makes the result missing."""
    body = abs(c_ - o_)
    rng = h_ - l_
    top = max(o_, c_)
    bot = min(o_, c_)
    if bull:
        near_w, far_w = bot - l_, h_ - top
        b = (c_ > o_) & (pc < po) & (o_ <= pc) & (c_ >= po)
        t = c_ > ph
    else:
        near_w, far_w = h_ - top, bot - l_
        b = (c_ < o_) & (pc > po) & (o_ >= pc) & (c_ <= po)
        t = c_ < pl
    a = (rng > 0) & (near_w >= 2 * body) & (near_w >= 0.5 * rng) & (far_w <= 0.25 * rng)
    b = b & (body > abs(pc - po))
    hit = (wick & a) | (engulf & b) | (through & t)
    valid = (o_ == o_) & (h_ == h_) & (l_ == l_) & (c_ == c_)
    return np.float64(hit) if valid else _NAN


@njit(cache=True, nogil=True)
def rejection(o, h, lo, c, wick, engulf, through, sign):
    """Allocating form of :func:`rejection_into`."""
    out = np.empty(o.size)
    rejection_into(o, h, lo, c, wick, engulf, through, sign, out)
    return out
