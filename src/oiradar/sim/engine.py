"""The simulator's per-step loop (numba): order flow, price impact, positions, liquidations, funding.

One step is one minute. Each step:

1. at 00:00, 08:00 and 16:00 UTC funding settles (see :func:`_settle_funding`);
2. the regime segments in force give the value traders' target log price and the target log OI;
3. ``Poisson(rate)`` taker orders arrive. Each has a direction (buy with probability ``p_buy``,
   which rises when price is below target) and an intent: the taker opens a new position or closes a
   random open one; the maker on the other side opens or closes a position **of the same size**
   (probability ``p_open`` rises when OI is below target). So every trade is between two whole
   positions and OI (one side) changes by +q (both open), -q (both close) or 0 (a transfer);
4. each fill moves the log price by ``q / depth`` (signed); after every move the engine executes
   every touched trigger, nearest the previous price first (the price passes them in that order):
   a position whose liquidation price was touched closes **at its liquidation price** and is logged
   as a liquidation; one whose stop-loss was touched closes at the current price. The triggered
   order moves price further (square-root impact in the minute's triggered volume), which can touch
   the next level: cascades emerge mechanically (decision 0151);
5. churn volume (market makers intermediating opposite taker orders, flat at the end of the step)
   adds volume and taker buys in equal halves, without moving price or OI: ``churn_ratio`` times the
   position-trade volume plus a small floor (so a quiet minute still trades).

In a universe (``oiradar.sim.universe``) an **outside move** comes first in each step, before the
orders of step 3: the market factor, the symbol's own noise and any planted push move price
like a fill does (touched triggers execute), and the regimes' targets move with them. At the close
of each planting bar the engine follows ``divergence`` and plants its outcome (:func:`_plant`).

Ground truth: every position (entry, qty, leverage, liquidation price, exit) and a liquidation log.
All randomness comes from a splitmix64 generator held in the state, so a run is a pure function of
its seed, whatever else the process does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from oiradar.liquidations.prices import linear_lp
from oiradar.model import LONG, SHORT

# Column indices of the position arrays. ``pos_i[:, I_SIDE]`` holds the side's sign (LONG, SHORT);
# ``counts`` and ``buckets`` are indexed by its slot, 0 long and 1 short (:func:`_slot`).
F_ENTRY, F_QTY, F_LEV, F_LIQ, F_EXIT, F_MMR, F_TRIG, F_CUM = range(8)
I_SIDE, I_ENTRY_TS, I_EXIT_TS, I_REASON, I_LOT = range(5)
OPEN, CLOSED, LIQUIDATED = 0, 1, 2
# Bar columns (``B_X``: the sum of the outside moves at the close, ground truth only).
B_OPEN, B_HIGH, B_LOW, B_CLOSE, B_VOL, B_QVOL, B_TBV, B_OI, B_X = range(9)
N_BAR_COLS = 9
# Scalar state (float): log price, sentiment, OI long/short, lazy liquidation bounds, premium
# window taker buys/sells, the regime's log price (without the outside moves) and log OI at the
# start of the current segments, the minute's triggered flow, the sum of the outside moves so far
# (a universe's market factor, noise and planted pushes) and the planted push per step.
S_LP, S_SENT, S_OIL, S_OIS, S_BL, S_BS, S_PB, S_PS, S_LPS, S_LOS, S_QF, S_X, S_PUSH = range(13)
N_STATE = 13
# Scalar state (int): positions used, liquidations logged, price segment, OI segment, steps of
# the planted push still to come.
N_POS, N_LIQ, P_SEG, O_SEG, N_PUSH = range(5)
N_ISTATE = 5
# Float parameters.
(
    P_DEPTH, P_LIQ_IMPACT, P_RATE, P_CHURN, P_PREM_K, P_INTEREST, P_INT_CLAMP,
    P_FUND_CAP, P_SENT_PHI, P_SENT_SD, P_LP_LR, P_LO_LR, P_OI_FLOOR, P_LIQ_REF, P_STOP_SHARE,
    P_STOP_FRAC, P_CHURN_FLOOR,
) = range(17)  # fmt: skip
# Int parameters.
Q_TS0, Q_STEP_MS, Q_WARM, Q_SPB, Q_FUND_MS = range(5)
# Planting a known edge (:mod:`oiradar.sim.plant`): parameters, state and the log of kept events.
(
    PP_RATIO, PP_WINDOW, PP_NEED, PP_NEAR, PP_DD, PP_ATR_N, PP_COOLDOWN, PP_RATE, PP_PUSH_ATR,
    PP_PUSH_STEPS,
) = range(10)  # fmt: skip
N_PLANT_PARAMS = 10
PS_PREV, PS_LAST, PS_ATR_K, PS_ATR, PS_CLOSE, PS_N = range(6)
N_PLANT_STATE = 6
L_BAR, L_OUTCOME, L_CLOSE, L_ATR = range(4)
# Kernel exit codes.
DONE, NEED_POSITIONS, NEED_BUCKETS, NEED_LIQ_LOG = 0, 1, 2, 3
STEP_HEADROOM = 20_000  # free rows required before a step starts (one step never uses more)


@njit(cache=True)
def _next_u64(rng: np.ndarray) -> np.uint64:
    """splitmix64 (Steele, Lea, Flood 2014): a small, well-mixed 64-bit generator."""
    rng[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def uniform(rng: np.ndarray) -> float:
    """Uniform on [0, 1) with 53 random bits."""
    return float(_next_u64(rng) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def normal(rng: np.ndarray) -> float:
    """Standard normal by Box-Muller."""
    u1 = 1.0 - uniform(rng)
    u2 = uniform(rng)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True)
def poisson(rng: np.ndarray, lam: float) -> int:
    """Poisson by Knuth's product of uniforms (lam is small here: a few orders a minute)."""
    limit = np.exp(-lam)
    k = 0
    p = uniform(rng)
    while p > limit:
        k += 1
        p *= uniform(rng)
    return k


@njit(cache=True)
def categorical(rng: np.ndarray, cum: np.ndarray) -> int:
    """Index drawn from cumulative weights ``cum`` (last entry 1.0)."""
    u = uniform(rng)
    for i in range(cum.shape[0]):
        if u < cum[i]:
            return i
    return cum.shape[0] - 1


# The venue's formula from the one liquidation-price module, compiled: the same bits as
# ``liq_price_linear`` (which runs the same function on numpy arrays).
_linear_lp = njit(cache=True)(linear_lp)


@njit(cache=True)
def liq_price(side: int, entry: float, lev: float, mmr: float, cum: float, qty: float) -> float:
    """``oiradar.liquidations.prices.liq_price_linear`` for one position (``side`` LONG or SHORT)."""
    return max(_linear_lp(side, entry, lev, mmr, cum, qty), 0.0)


@njit(cache=True, inline="always")
def _slot(side: int) -> int:
    """The row of a side in the per-side arrays: 0 long, 1 short."""
    return 0 if side == LONG else 1


@njit(cache=True)
def _open(
    side, lot, qty, lev, price, ts, pos_f, pos_i, slot, buckets, counts, tiers, st, ist, rng, pf
):
    """Record a new position and put it in its (side, lot) bucket; returns its id.

    A share ``stop_share`` of traders place a stop-loss ``stop_frac`` of the way from entry to the
    liquidation price; the engine watches one trigger per position: the stop, else the liq price.
    """
    pid = ist[N_POS]
    ist[N_POS] += 1
    notional = qty * price
    t = 0
    while t < tiers.shape[0] - 1 and notional > tiers[t, 0]:
        t += 1
    mmr = tiers[t, 1]
    liq = liq_price(side, price, lev, mmr, tiers[t, 2], qty)
    pos_f[pid, F_ENTRY] = price
    pos_f[pid, F_QTY] = qty
    pos_f[pid, F_LEV] = lev
    pos_f[pid, F_LIQ] = liq
    pos_f[pid, F_EXIT] = np.nan
    pos_f[pid, F_MMR] = mmr
    pos_f[pid, F_CUM] = tiers[t, 2]
    trig = liq
    if uniform(rng) < pf[P_STOP_SHARE]:
        trig = price + pf[P_STOP_FRAC] * (liq - price)
    pos_f[pid, F_TRIG] = trig
    pos_i[pid, I_SIDE] = side
    pos_i[pid, I_ENTRY_TS] = ts
    pos_i[pid, I_EXIT_TS] = -1
    pos_i[pid, I_REASON] = OPEN
    pos_i[pid, I_LOT] = lot
    s = _slot(side)
    b = counts[s, lot]
    buckets[s, lot, b] = pid
    slot[pid] = b
    counts[s, lot] = b + 1
    if side == LONG:
        st[S_OIL] += qty
        st[S_BL] = max(st[S_BL], trig)
    else:
        st[S_OIS] += qty
        st[S_BS] = min(st[S_BS], trig)
    return pid


@njit(cache=True)
def _close(pid, price, ts, reason, pos_f, pos_i, slot, buckets, counts, st):
    """Close a whole position: swap-remove it from its bucket and record the exit."""
    side = pos_i[pid, I_SIDE]
    lot = pos_i[pid, I_LOT]
    s = _slot(side)
    b = slot[pid]
    last = counts[s, lot] - 1
    moved = buckets[s, lot, last]
    buckets[s, lot, b] = moved
    slot[moved] = b
    counts[s, lot] = last
    pos_f[pid, F_EXIT] = price
    pos_i[pid, I_EXIT_TS] = ts
    pos_i[pid, I_REASON] = reason
    if side == LONG:
        st[S_OIL] -= pos_f[pid, F_QTY]
    else:
        st[S_OIS] -= pos_f[pid, F_QTY]


@njit(cache=True)
def _random_open(rng, side, counts, buckets):
    """A uniformly chosen open position of ``side`` (-1 if there is none)."""
    s = _slot(side)
    total = 0
    for lot in range(counts.shape[1]):
        total += counts[s, lot]
    if total == 0:
        return -1
    r = int(uniform(rng) * total)
    for lot in range(counts.shape[1]):
        if r < counts[s, lot]:
            return buckets[s, lot, r]
        r -= counts[s, lot]
    return -1


@njit(cache=True)
def _random_of_lot(rng, side, lot, counts, buckets):
    s = _slot(side)
    n = counts[s, lot]
    if n == 0:
        return -1
    return buckets[s, lot, int(uniform(rng) * n)]


@njit(cache=True)
def _leverage(rng, side, tilt, notional, levs, lev_cum, lev_cum_hi, lev_cum_lo, brackets):
    """Draw a leverage from the mix, at most the venue's maximum for this notional.

    ``tilt`` > 0 pushes longs to the high tiers and shorts to the low ones. ``brackets`` rows are
    (max notional, max leverage), as in Binance's leverage and margin tiers: the larger the
    position, the lower the leverage allowed. A draw above the maximum is redrawn (rejection).
    """
    b = 0
    while b < brackets.shape[0] - 1 and notional > brackets[b, 0]:
        b += 1
    cap = brackets[b, 1]
    t = tilt if side == LONG else -tilt
    for _ in range(64):
        if t > 0.0 and uniform(rng) < t:
            lev = levs[categorical(rng, lev_cum_hi)]
        elif t < 0.0 and uniform(rng) < -t:
            lev = levs[categorical(rng, lev_cum_lo)]
        else:
            lev = levs[categorical(rng, lev_cum)]
        if lev <= cap:
            return lev
    return min(levs[0], cap)


@njit(cache=True)
def _find_triggered(side, price, pos_f, counts, buckets, st):
    """The open position of ``side`` whose trigger (stop or liq price) the price touched first, or -1.

    Longs: the highest trigger >= price; shorts: the lowest <= price. When none is touched the
    lazy bound is reset to the exact extreme, so the next scan happens only when price reaches it.
    """
    best = -1
    extreme = -np.inf if side == LONG else np.inf
    s = _slot(side)
    for lot in range(counts.shape[1]):
        for j in range(counts[s, lot]):
            pid = buckets[s, lot, j]
            liq = pos_f[pid, F_TRIG]
            if side == LONG:
                if liq > extreme:
                    extreme = liq
                    best = pid
            elif liq < extreme:
                extreme = liq
                best = pid
    if side == LONG:
        if best >= 0 and price <= extreme:
            return best
        st[S_BL] = extreme
    else:
        if best >= 0 and price >= extreme:
            return best
        st[S_BS] = extreme
    return -1


@njit(cache=True, nogil=True)
def simulate_steps(
    k0, k1, rng, st, ist, pf, pi,
    pseg, pseg_f, oseg, oseg_f,
    lots, lot_cum, levs, lev_cum, lev_cum_hi, lev_cum_lo, tiers, brackets,
    pos_f, pos_i, slot, buckets, counts, liq_log_i, liq_log_f, bars, funding,
    exo, pp, ps, plog, prng,
):  # fmt: skip
    """Run steps ``k0 .. k1-1``; returns (exit code, next step). Stops early when out of room.

    ``exo`` (one log-price move per step, or empty) moves price from outside the order flow (a
    universe's market factor and noise); the regime targets move with it, so traders neither fight
    nor chase it. ``pp`` (empty: off) plants a known outcome after each ``divergence`` event
    (:func:`_plant`, drawn from ``prng``, a generator of its own), logged in ``plog``.
    """
    depth = pf[P_DEPTH]
    warm = pi[Q_WARM]
    spb = pi[Q_SPB]
    bcap = buckets.shape[2]
    k = k0
    while k < k1:
        if pos_f.shape[0] - ist[N_POS] < STEP_HEADROOM:
            return NEED_POSITIONS, k
        if liq_log_i.shape[0] - ist[N_LIQ] < STEP_HEADROOM:
            return NEED_LIQ_LOG, k
        for s in range(2):
            for lot in range(counts.shape[1]):
                if bcap - counts[s, lot] < STEP_HEADROOM:
                    return NEED_BUCKETS, k
        ts = pi[Q_TS0] + k * pi[Q_STEP_MS]
        bar = (k - warm) // spb if k >= warm else -1
        if bar >= 0 and (k - warm) % spb == 0:
            p = np.exp(st[S_LP])
            bars[bar, B_OPEN] = p
            bars[bar, B_HIGH] = p
            bars[bar, B_LOW] = p
        if ts % pi[Q_FUND_MS] == 0:
            _settle_funding(st, pf, funding, bar)
        # Segments in force: capture the log price / log OI at a segment's first step.
        while k >= pseg[ist[P_SEG], 1]:
            ist[P_SEG] += 1
            st[S_LPS] = st[S_LP] - st[S_X]
        while k >= oseg[ist[O_SEG], 1]:
            ist[O_SEG] += 1
            st[S_LOS] = np.log(max(st[S_OIL], pf[P_OI_FLOOR]))
        p_buy, p_open, rate, tilt = _intents(k, st, pf, pseg, pseg_f, oseg, oseg_f, ist, rng)
        st[S_QF] = 0.0
        ev = 0
        dx = exo[k] if exo.shape[0] > 0 else 0.0
        if ist[N_PUSH] > 0:
            dx += st[S_PUSH]
            ist[N_PUSH] -= 1
        if dx != 0.0:  # an outside move: the book reacts like to any other (stops, liquidations)
            st[S_X] += dx
            _move(st, dx, bars, bar)
            ev = _liquidate(
                rng, ts, ev, p_open, depth, st, ist, pf, levs, lev_cum, lev_cum_hi, lev_cum_lo,
                tiers, brackets, pos_f, pos_i, slot, buckets, counts, liq_log_i, liq_log_f, bars, bar,
            )  # fmt: skip
        n = poisson(rng, rate)
        traded = 0.0
        for _ in range(n):
            q = _trade(
                rng, ts + ev, uniform(rng) < p_buy, p_open, tilt, depth, st, ist, pf,
                lots, lot_cum, levs, lev_cum, lev_cum_hi, lev_cum_lo, tiers, brackets,
                pos_f, pos_i, slot, buckets, counts, bars, bar,
            )  # fmt: skip
            traded += q
            ev += 1
            ev = _liquidate(
                rng, ts, ev, p_open, depth, st, ist, pf, levs, lev_cum, lev_cum_hi, lev_cum_lo,
                tiers, brackets, pos_f, pos_i, slot, buckets, counts, liq_log_i, liq_log_f, bars, bar,
            )  # fmt: skip
        if bar >= 0:
            p = np.exp(st[S_LP])
            churn = pf[P_CHURN] * traded + pf[P_CHURN_FLOOR] * 2.0 * uniform(rng)
            bars[bar, B_VOL] += churn
            bars[bar, B_QVOL] += churn * p
            bars[bar, B_TBV] += 0.5 * churn
            bars[bar, B_CLOSE] = p
            bars[bar, B_OI] = st[S_OIL]
            bars[bar, B_X] = st[S_X]
            if pp.shape[0] > 0 and (k - warm + 1) % spb == 0 and (bar + 1) % int(pp[PP_RATIO]) == 0:
                _plant(bar, bars, pp, ps, plog, st, ist, prng)  # a planting bar closed
        k += 1
    return DONE, k


@njit(cache=True)
def _plant(bar, bars, pp, ps, plog, st, ist, rng):
    """At the close of a planting bar: when ``divergence`` fires and the event study would count
    it (:func:`_divergence_kept`), draw its outcome (a reversal with probability ``PP_RATE``) and
    make it happen: a push of ``PP_PUSH_ATR`` ATRs down (reversal) or up (none) over the next
    ``PP_PUSH_STEPS`` steps, past the barrier at ``width`` ATRs before the other can be reached.
    """
    j = _divergence_kept(bar, bars, pp, ps)
    if j < 0:
        return
    n = int(ps[PS_N])
    ps[PS_N] = n + 1
    close = bars[bar, B_CLOSE]
    atr = ps[PS_ATR] if ps[PS_ATR_K] >= pp[PP_ATR_N] else np.nan
    plog[n, L_BAR] = j
    plog[n, L_CLOSE] = close
    plog[n, L_ATR] = atr
    plog[n, L_OUTCOME] = 0.0
    if not atr > 0.0:  # no ATR yet: the study has no outcome for it either
        return
    win = uniform(rng) < pp[PP_RATE]
    plog[n, L_OUTCOME] = 1.0 if win else -1.0
    move = pp[PP_PUSH_ATR] * atr / close
    d = np.log(1.0 - min(move, 0.9)) if win else np.log1p(move)
    steps = int(pp[PP_PUSH_STEPS])
    st[S_PUSH] = d / steps
    ist[N_PUSH] = steps


@njit(cache=True)
def _divergence_kept(bar, bars, pp, ps):
    """The planting bar that ends at stored bar ``bar`` (``PP_RATIO`` stored bars each): its index
    when ``divergence`` fires there and the event study keeps it, else -1.

    The same arithmetic as the features and signals on these bars: ``oi_dd = 1 - oi / oi_peak >=
    divergence_dd`` and ``close >= (1 - near_pct) x price_high`` (rolling maxima of OI and high over
    ``PP_WINDOW`` bars, with at least ``PP_NEED`` of them), fired on its rising edge, kept when
    ``PP_COOLDOWN`` bars passed since the last kept event. Also steps Wilder's ATR (``PP_ATR_N``).
    """
    r = int(pp[PP_RATIO])
    j = (bar + 1) // r - 1
    hi, lo = bars[j * r, B_HIGH], bars[j * r, B_LOW]
    for i in range(j * r + 1, bar + 1):
        hi = max(hi, bars[i, B_HIGH])
        lo = min(lo, bars[i, B_LOW])
    close = bars[bar, B_CLOSE]
    _step_atr(hi, lo, close, pp, ps)
    w = int(pp[PP_WINDOW])
    state = False
    if min(j + 1, w) >= pp[PP_NEED]:
        j0 = max(0, j - w + 1)
        peak, high = -np.inf, -np.inf
        for q in range(j0, j + 1):
            peak = max(peak, bars[(q + 1) * r - 1, B_OI])
        for i in range(j0 * r, bar + 1):
            high = max(high, bars[i, B_HIGH])
        if peak != 0.0:
            dd = 1.0 - bars[bar, B_OI] / peak
            state = dd >= pp[PP_DD] and close >= (1.0 - pp[PP_NEAR]) * high
    fire = state and ps[PS_PREV] == 0.0
    ps[PS_PREV] = 1.0 if state else 0.0
    if fire and j - ps[PS_LAST] >= pp[PP_COOLDOWN]:
        ps[PS_LAST] = j
        return j
    return -1


@njit(cache=True)
def _step_atr(hi, lo, close, pp, ps):
    """Wilder's ATR, one bar on (``oiradar.features.kernels.wilder_atr_into``, same arithmetic)."""
    n = int(pp[PP_ATR_N])
    tr = hi - lo
    prev = ps[PS_CLOSE]
    if prev == prev:
        tr = max(tr, abs(hi - prev), abs(lo - prev))
    ps[PS_CLOSE] = close
    ps[PS_ATR_K] += 1
    k = ps[PS_ATR_K]
    if k < n:
        ps[PS_ATR] += tr
    elif k == n:
        ps[PS_ATR] = (ps[PS_ATR] + tr) / n
    else:
        ps[PS_ATR] = ps[PS_ATR] * ((n - 1) / n) + tr * (1.0 / n)


@njit(cache=True)
def _settle_funding(st, pf, funding, bar):
    """Binance's rule F = P + clamp(I - P, -0.05 %, +0.05 %), capped at +-cap.

    https://www.binance.com/en/support/faq/introduction-to-binance-futures-funding-rates-360033525031
    The premium P is ``premium_k x`` the taker imbalance (buys - sells) / (buys + sells) of the
    position trades since the previous settlement: demand for longs lifts the perp above the index.
    """
    tot = st[S_PB] + st[S_PS]
    prem = pf[P_PREM_K] * (st[S_PB] - st[S_PS]) / tot if tot > 0.0 else 0.0
    clamp = pf[P_INT_CLAMP]
    rate = prem + min(max(pf[P_INTEREST] - prem, -clamp), clamp)
    rate = min(max(rate, -pf[P_FUND_CAP]), pf[P_FUND_CAP])
    st[S_PB] = 0.0
    st[S_PS] = 0.0
    if bar >= 0:
        funding[bar] = rate if np.isnan(funding[bar]) else funding[bar] + rate


@njit(cache=True)
def _intents(k, st, pf, pseg, pseg_f, oseg, oseg_f, ist, rng):
    """Value traders' buy probability and the open probability from the segments' targets."""
    ps = ist[P_SEG]
    os_ = ist[O_SEG]
    frac = (k - pseg[ps, 0] + 1) / (pseg[ps, 1] - pseg[ps, 0])
    lp_end = st[S_LPS] + pseg_f[ps, 0] * (pf[P_LP_LR] - st[S_LPS]) + pseg_f[ps, 1]
    lp_target = st[S_LPS] + (lp_end - st[S_LPS]) * frac
    st[S_SENT] = pf[P_SENT_PHI] * st[S_SENT] + pf[P_SENT_SD] * normal(rng)
    gap = pseg_f[ps, 2] * (lp_target + st[S_X] - st[S_LP]) + st[S_SENT]  # targets move with S_X
    p_buy = 0.5 + min(max(gap, -0.42), 0.42)
    ofrac = (k - oseg[os_, 0] + 1) / (oseg[os_, 1] - oseg[os_, 0])
    lo_end = st[S_LOS] + oseg_f[os_, 0] * (pf[P_LO_LR] - st[S_LOS]) + oseg_f[os_, 1]
    lo_target = st[S_LOS] + (lo_end - st[S_LOS]) * ofrac
    lo = np.log(max(st[S_OIL], pf[P_OI_FLOOR]))
    p_open = 0.5 + min(max(oseg_f[os_, 2] * (lo_target - lo), -0.45), 0.45)
    return p_buy, p_open, pf[P_RATE] * pseg_f[ps, 3], oseg_f[os_, 3]


@njit(cache=True)
def _trade(
    rng, ts, buy, p_open, tilt, depth, st, ist, pf,
    lots, lot_cum, levs, lev_cum, lev_cum_hi, lev_cum_lo, tiers, brackets,
    pos_f, pos_i, slot, buckets, counts, bars, bar,
):  # fmt: skip
    """One taker order and its maker, both whole positions of one size; returns the size."""
    price = np.exp(st[S_LP])
    taker_side = LONG if buy else SHORT  # a buyer opens a long or closes a short
    maker_side = SHORT if buy else LONG  # a seller opens a short or closes a long
    closing = -1
    if uniform(rng) >= p_open:
        closing = _random_open(rng, maker_side, counts, buckets)  # e.g. buyer closes a short
    if closing >= 0:
        lot = pos_i[closing, I_LOT]
        _close(closing, price, ts, CLOSED, pos_f, pos_i, slot, buckets, counts, st)
    else:
        lot = categorical(rng, lot_cum)
        lev = _leverage(
            rng,
            taker_side,
            tilt,
            lots[lot] * price,
            levs,
            lev_cum,
            lev_cum_hi,
            lev_cum_lo,
            brackets,
        )
        _open(
            taker_side,
            lot,
            lots[lot],
            lev,
            price,
            ts,
            pos_f,
            pos_i,
            slot,
            buckets,
            counts,
            tiers,
            st,
            ist,
            rng,
            pf,
        )
    q = lots[lot]
    other = -1
    if uniform(rng) >= p_open:
        other = _random_of_lot(rng, taker_side, lot, counts, buckets)  # seller closes a long
    if other >= 0:
        _close(other, price, ts, CLOSED, pos_f, pos_i, slot, buckets, counts, st)
    else:
        lev = _leverage(
            rng, maker_side, tilt, q * price, levs, lev_cum, lev_cum_hi, lev_cum_lo, brackets
        )
        _open(
            maker_side,
            lot,
            q,
            lev,
            price,
            ts,
            pos_f,
            pos_i,
            slot,
            buckets,
            counts,
            tiers,
            st,
            ist,
            rng,
            pf,
        )
    if buy:
        st[S_PB] += q
    else:
        st[S_PS] += q
    if bar >= 0:
        bars[bar, B_VOL] += q
        bars[bar, B_QVOL] += q * price
        if buy:
            bars[bar, B_TBV] += q
    _move(st, (q if buy else -q) / depth, bars, bar)
    return q


@njit(cache=True)
def _move(st, dlp, bars, bar):
    st[S_LP] += dlp
    if bar >= 0:
        p = np.exp(st[S_LP])
        bars[bar, B_HIGH] = max(bars[bar, B_HIGH], p)
        bars[bar, B_LOW] = min(bars[bar, B_LOW], p)


@njit(cache=True)
def _liquidate(
    rng, ts, ev, p_open, depth, st, ist, pf, levs, lev_cum, lev_cum_hi, lev_cum_lo,
    tiers, brackets, pos_f, pos_i, slot, buckets, counts, liq_log_i, liq_log_f, bars, bar,
):  # fmt: skip
    """Execute every touched stop and liquidation; returns the next event index.

    A touched liquidation price closes the position **at that price** (the price path passed it)
    and logs a liquidation; a touched stop (liq price not reached) closes it at the current price.
    Either way the position's quantity is a taker order against it: the counterparty closes an
    opposite position of the same size (probability ``1 - p_open``, like any maker: e.g. shorts
    taking profit) or opens a new one at a low leverage tier (a resting dip buyer). Its impact, square-root in the
    minute's triggered volume, moves price on and may touch the next level: a cascade.
    """
    while True:
        price = np.exp(st[S_LP])
        pid = -1
        if price <= st[S_BL]:
            pid = _find_triggered(LONG, price, pos_f, counts, buckets, st)
        if pid < 0 and price >= st[S_BS]:
            pid = _find_triggered(SHORT, price, pos_f, counts, buckets, st)
        if pid < 0:
            return ev
        side = pos_i[pid, I_SIDE]
        liq = pos_f[pid, F_LIQ]
        liquidated = price <= liq if side == LONG else price >= liq
        fill = liq if liquidated else price
        q = pos_f[pid, F_QTY]
        lot = pos_i[pid, I_LOT]
        t = ts + ev
        ev += 1
        _close(
            pid,
            fill,
            t,
            LIQUIDATED if liquidated else CLOSED,
            pos_f,
            pos_i,
            slot,
            buckets,
            counts,
            st,
        )
        if liquidated:
            n = ist[N_LIQ]
            liq_log_i[n, 0] = t
            liq_log_i[n, 1] = pid
            liq_log_f[n] = fill
            ist[N_LIQ] = n + 1
        other_side = SHORT if side == LONG else LONG
        other = -1
        if uniform(rng) >= p_open:
            other = _random_of_lot(rng, other_side, lot, counts, buckets)
        if other >= 0:
            _close(other, fill, t, CLOSED, pos_f, pos_i, slot, buckets, counts, st)
        else:
            low = -1.0 if side == LONG else 1.0
            lev = _leverage(
                rng, side, low, q * fill, levs, lev_cum, lev_cum_hi, lev_cum_lo, brackets
            )
            _open(
                side,
                lot,
                q,
                lev,
                fill,
                t,
                pos_f,
                pos_i,
                slot,
                buckets,
                counts,
                tiers,
                st,
                ist,
                rng,
                pf,
            )
        if side == LONG:
            st[S_PS] += q
        else:
            st[S_PB] += q
        if bar >= 0:
            bars[bar, B_VOL] += q
            bars[bar, B_QVOL] += q * fill
            if side == SHORT:
                bars[bar, B_TBV] += q
        # Square-root impact of the triggered flow within the minute (impact ~ sqrt(Q): Toth et al.
        # 2011, "Anomalous price impact and the critical nature of liquidity"): the marginal
        # impact falls as forced volume piles up, so a cascade burns out instead of running away.
        before = np.sqrt(st[S_QF] * pf[P_LIQ_REF])
        st[S_QF] += q
        dlp = pf[P_LIQ_IMPACT] * (np.sqrt(st[S_QF] * pf[P_LIQ_REF]) - before) / depth
        _move(st, -dlp if side == LONG else dlp, bars, bar)
