"""The level model of SPEC section 6: where **estimated** liquidation levels sit, bar by bar.

Per bar ``t`` (closed bars only; the state after bar ``t`` uses nothing later):

1. **Consume.** An open long level with liquidation price ``LP >= low[t]`` (a short one with
   ``LP <= high[t]``) was touched: its notional ``qty x LP`` counts as *estimated liquidated* in bar
   ``t`` and the level is removed.
2. **Create.** An increase ``d = oi[t] - oi[t-1] > 0`` (base units) is split into longs
   ``d x share[t]`` and shorts ``d x (1 - share[t])`` (``share`` = taker buy volume / volume, or a
   candle-colour fallback) and across the leverage mix; each piece enters at the bar's VWAP and
   gets ``LP = VWAP x factor(side, leverage)`` from the venue's formula and tiers.
3. **Reduce.** A decrease removes notional in proportion from every open level. The modelled
   liquidations of the bar already explain part of the fall, so the fraction closed is
   ``(-d - liquidated) / (oi[t-1] - liquidated)`` (clipped to [0, 1]).

Optionally (:class:`Turnover`, off by default) every open level also ages by a constant factor per
bar, and a share of the previous OI closes and opens again at the bar's VWAP (created with the
increase, after the reduction); both are more scale factors of the same kind.

The kernel keeps the open long levels in a max-heap and the short levels in a min-heap keyed by
``LP``: since a long level survives only while every low since its creation stayed above its
``LP``, the ones touched by a bar are exactly those at the top of the heap. Proportional
reduction is a single global scale factor. So a year of 5-minute bars costs ``O(levels log levels
+ bars x bins)`` (the second term only when a heatmap row is recorded per bar).

The plain-Python oracle :func:`levels_oracle` implements the same three rules with lists; the
tests assert the two agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.errors import InputError
from oiradar.liquidations.prices import liq_price_tiered
from oiradar.liquidations.tiers import TierTable
from oiradar.model import LONG, SHORT

F8 = NDArray[np.float64]

# Leverage mixes (leverage -> share of new notional). SPEC section 6 default; the seed's "most
# positions clustered at 10x"; the seed's own 2-5x band as a conservative crowd.
PRESETS: dict[str, dict[float, float]] = {
    "default": {5: 0.15, 10: 0.30, 25: 0.25, 50: 0.20, 100: 0.10},
    "clustered10x": {10: 1.0},
    "conservative": {2: 0.25, 3: 0.25, 4: 0.25, 5: 0.25},
}


@dataclass(frozen=True)
class LeverageMix:
    """Leverages and the share of new notional opened at each (weights sum to 1)."""

    name: str
    leverage: tuple[float, ...]
    weight: tuple[float, ...]

    def describe(self) -> str:
        return ", ".join(
            f"{lv:g}x {w:.0%}" for lv, w in zip(self.leverage, self.weight, strict=True)
        )


# The log-normal family (``lognormal:MEDIAN:SPREAD``): weights over these leverages.
FAMILY_LEVERAGES = (2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 25.0, 35.0, 50.0, 75.0, 100.0, 125.0)


def parse_mix(text: str) -> LeverageMix:
    """A preset name (``default``, ``clustered10x``, ``conservative``), ``"5:0.2,10:0.8"``, or
    ``"lognormal:10:0.7"`` (:func:`lognormal_weights`)."""
    text = text.strip()
    if text in PRESETS:
        items = PRESETS[text]
    elif text.startswith("lognormal:"):
        items = _parse_lognormal(text)
    else:
        items = _parse_pairs(text)
    total = sum(items.values())
    lev = tuple(float(k) for k in items)
    return LeverageMix(text, lev, tuple(v / total for v in items.values()))


def lognormal_weights(median: float, spread: float) -> dict[float, float]:
    """Weights over :data:`FAMILY_LEVERAGES` proportional to a log-normal density of leverage
    with this ``median`` and ``spread`` (the standard deviation of log leverage); weights under
    1 % are dropped and the rest scaled to sum to 1."""
    lev = np.array(FAMILY_LEVERAGES)
    z = -((np.log(lev) - math.log(median)) ** 2) / (2.0 * spread**2)
    with np.errstate(under="ignore"):  # far tails are 0
        w = np.exp(z - z.max())
    w /= w.sum()
    keep = w >= 0.01
    if not keep.any():  # a median far outside the family: its nearest leverage
        keep = w == w.max()
    return dict(zip(lev[keep].tolist(), (w[keep] / w[keep].sum()).tolist(), strict=True))


def _bad_mix(text: str, why: str = "") -> InputError:
    names = ", ".join(PRESETS)
    return InputError(
        f"invalid leverage mix {text!r}{why}; use a preset ({names}), 'LEV:WEIGHT,...' like "
        "'5:0.5,10:0.5', or 'lognormal:MEDIAN:SPREAD' like 'lognormal:10:0.7'"
    )


def _parse_lognormal(text: str) -> dict[float, float]:
    try:
        _, median, spread = text.split(":")
        m, s = float(median), float(spread)
    except ValueError:
        raise _bad_mix(text) from None
    if not (m >= 1 and s > 0 and math.isfinite(m) and math.isfinite(s)):
        raise _bad_mix(text, ": the median must be >= 1 and the spread > 0")
    return lognormal_weights(m, s)


def _parse_pairs(text: str) -> dict[float, float]:
    out: dict[float, float] = {}
    try:
        for part in text.split(","):
            lev, w = part.split(":")
            out[float(lev)] = float(w)
    except ValueError:
        raise _bad_mix(text) from None
    if any(lv < 1 for lv in out) or any(w < 0 for w in out.values()) or sum(out.values()) <= 0:
        raise InputError(
            f"invalid leverage mix {text!r}: leverages must be >= 1 and weights >= 0, not all 0"
        )
    return out


@dataclass(frozen=True)
class LevelFactors:
    """``LP / entry`` per leverage of the mix, for longs and shorts, and the leverage used."""

    long: F8
    short: F8
    weight: F8
    leverage: F8  # after capping at the tier's maximum leverage
    requested: F8


def level_factors(
    mix: LeverageMix, tiers: TierTable, *, position_notional: float, inverse: bool = False,
    ref_price: float = 1.0,
) -> LevelFactors:  # fmt: skip
    """Liquidation price as a multiple of entry for each leverage, with the venue's tiers.

    The multiple does not depend on the entry price once the position's notional is fixed
    (``cum/Q`` scales with it), so it is computed once at entry 1. Tiers that count the base coin
    (Binance COIN-M, OKX's contracts) get ``position_notional`` (quote) converted at ``ref_price``.
    A leverage above the tier's maximum is capped at it (the venue would refuse it).
    """
    notional = position_notional / ref_price if tiers.in_base else position_notional
    requested = np.array(mix.leverage)
    _, _, max_lev = tiers.lookup(notional)
    lev = np.minimum(requested, max_lev)
    qty = np.full_like(lev, notional)
    fl = liq_price_tiered(LONG, 1.0, lev, qty, tiers, inverse=inverse).price
    fs = liq_price_tiered(SHORT, 1.0, lev, qty, tiers, inverse=inverse).price
    return LevelFactors(fl, fs, np.array(mix.weight), lev, requested)


@dataclass(frozen=True, kw_only=True, slots=True)
class LevelInputs:
    """Per-bar arrays the kernel reads (``oi`` in base units, NaN where missing)."""

    ts: NDArray[np.int64]
    open: F8
    high: F8
    low: F8
    close: F8
    vwap: F8
    oi: F8
    long_share: F8
    share_from_taker: NDArray[np.bool_]


def level_inputs(bars: pl.DataFrame, colour_long_share: float = 0.6) -> LevelInputs:
    """Kernel inputs from canonical bars: VWAP = ``quote_volume / volume`` (fallback the typical
    price ``(high + low + close) / 3``); long share = ``taker_buy_volume / volume`` (fallback:
    ``colour_long_share`` on a green bar, ``1 -`` that on a red one, 0.5 on a doji)."""
    need = [c for c in ("ts", "open", "high", "low", "close", "oi") if c not in bars.columns]
    if need:
        raise InputError(f"bars lack the columns {need} the level model needs")
    f = {c: _col(bars, c) for c in ("open", "high", "low", "close", "oi", "volume", "quote_volume",
                                    "taker_buy_volume")}  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = f["quote_volume"] / f["volume"]
        share = f["taker_buy_volume"] / f["volume"]
    typical = (f["high"] + f["low"] + f["close"]) / 3.0
    vwap = np.where(np.isfinite(vwap) & (vwap > 0), vwap, typical)
    taker = np.isfinite(share) & (share >= 0) & (share <= 1)
    colour = np.where(f["close"] > f["open"], colour_long_share,
                      np.where(f["close"] < f["open"], 1.0 - colour_long_share, 0.5))  # fmt: skip
    return LevelInputs(
        ts=bars["ts"].to_numpy().astype(np.int64), open=f["open"], high=f["high"], low=f["low"],
        close=f["close"],
        vwap=vwap, oi=f["oi"], long_share=np.where(taker, share, colour), share_from_taker=taker,
    )  # fmt: skip


def _col(bars: pl.DataFrame, name: str) -> F8:
    if name not in bars.columns:
        return np.full(bars.height, np.nan)
    return bars[name].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)


@dataclass(frozen=True)
class PriceGrid:
    """Equal-width price bins ``[lo + i step, lo + (i+1) step)``, ``i = 0 .. n-1``."""

    lo: float
    hi: float
    n: int

    @property
    def step(self) -> float:
        return (self.hi - self.lo) / self.n

    @property
    def edges(self) -> F8:
        return (self.lo + self.step * np.arange(self.n + 1)).astype(np.float64)

    @property
    def centers(self) -> F8:
        return (self.lo + self.step * (np.arange(self.n) + 0.5)).astype(np.float64)

    def bin_of(self, price: F8) -> NDArray[np.int64]:
        """Bin index of each price (-1 outside the grid)."""
        with np.errstate(invalid="ignore"):
            b = np.floor((np.asarray(price, dtype=np.float64) - self.lo) / self.step)
        ok = (b >= 0) & (b < self.n)
        return np.where(ok, b, -1).astype(np.int64)

    @classmethod
    def around(cls, low: F8, high: F8, n: int, pad: float) -> PriceGrid:
        """A grid covering the traded range widened by ``pad`` (0.3: 30 % below the lowest low and
        above the highest high, enough for every level of leverage >= 4x)."""
        lo, hi = float(np.nanmin(low)), float(np.nanmax(high))
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= 0:
            raise InputError("cannot build a price grid: no finite high/low in the bars")
        return cls(max(lo * (1.0 - pad), 0.0), hi * (1.0 + pad), n)


@dataclass(frozen=True)
class LevelRun:
    """Outputs of one run of the level model. Every notional is **estimated**, in quote units.

    ``heat_long[r, b]`` is the open long notional whose liquidation price lies in bin ``b`` after
    the close of bar ``row_bar[r]``; ``liq_long[t]`` the notional estimated liquidated in bar ``t``;
    ``liq_bin_long[b]`` that estimate summed over the run by the bin of the level's price.
    ``open_*`` are the final open levels (for the cascade estimate at the last bar).
    """

    ts: NDArray[np.int64]
    grid: PriceGrid
    row_bar: NDArray[np.int64]
    heat_long: NDArray[np.float32]
    heat_short: NDArray[np.float32]
    liq_long: F8
    liq_short: F8
    liq_bin_long: F8
    liq_bin_short: F8
    open_long_total: F8
    open_short_total: F8
    open_side: NDArray[np.int8]
    open_price: F8
    open_qty: F8
    open_lev: NDArray[np.int64]  # index into ``leverage``
    open_born: NDArray[np.int64]
    leverage: F8  # the mix's leverages after the venue's cap


# ---------------------------------------------------------------- the numba kernel
@nb.njit(cache=True, inline="always")
def _push(key: F8, idx: NDArray[np.int64], size: int, k: float, i: int) -> int:
    """Push onto a binary min-heap stored in ``key``/``idx``; returns the new size."""
    pos = size
    key[pos] = k
    idx[pos] = i
    while pos > 0:
        parent = (pos - 1) >> 1
        if key[parent] <= key[pos]:
            break
        key[parent], key[pos] = key[pos], key[parent]
        idx[parent], idx[pos] = idx[pos], idx[parent]
        pos = parent
    return size + 1


@nb.njit(cache=True, inline="always")
def _pop(key: F8, idx: NDArray[np.int64], size: int) -> tuple[int, int]:
    """Pop the minimum; returns ``(level index, new size)``."""
    top = idx[0]
    size -= 1
    key[0] = key[size]
    idx[0] = idx[size]
    pos = 0
    while True:
        left = 2 * pos + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and key[left + 1] < key[left]:
            child = left + 1
        if key[pos] <= key[child]:
            break
        key[pos], key[child] = key[child], key[pos]
        idx[pos], idx[child] = idx[child], idx[pos]
        pos = child
    return top, size


@nb.njit(cache=True)
def _levels_kernel(high, low, vwap, oi, share, fac_long, fac_short, weight,
                   grid_lo, grid_step, n_bins, record_every, record, heat,
                   decay=1.0, churn=0.0):  # fmt: skip
    n = high.shape[0]
    k_mix = weight.shape[0]
    cap = max(1, n * k_mix)
    lp = np.empty(2 * cap)
    q = np.empty(2 * cap)
    lbin = np.empty(2 * cap, np.int64)
    lev = np.empty(2 * cap, np.int64)
    born = np.empty(2 * cap, np.int64)
    hk = (np.empty(cap), np.empty(cap))  # heap keys: -LP for longs (max-heap), LP for shorts
    hi_ = (np.empty(cap, np.int64), np.empty(cap, np.int64))
    size = np.zeros(2, np.int64)
    cur = np.zeros((2, n_bins))
    cnt = np.zeros((2, n_bins), np.int64)
    tot = np.zeros(2)
    # ``heat`` comes zeroed from numpy (calloc: untouched pages cost nothing); each row writes only
    # the span of bins holding open levels, tracked per side in ``span_lo`` / ``span_hi``.
    span_lo = np.full(2, n_bins, np.int64)
    span_hi = np.full(2, -1, np.int64)
    liq = np.zeros((2, n))
    liq_bin = np.zeros((2, n_bins))
    open_tot = np.zeros((2, n))
    g = 1.0
    prev_oi = np.nan
    used = 0
    for t in range(n):
        liq_q = 0.0
        for s in range(2):
            keys, idxs = hk[s], hi_[s]
            while size[s] > 0 and (
                (s == 0 and -keys[0] >= low[t]) or (s == 1 and keys[0] <= high[t])
            ):
                i, size[s] = _pop(keys, idxs, size[s])
                notional = q[i] * lp[i] * g
                liq[s, t] += notional
                liq_q += q[i] * g
                tot[s] -= q[i] * lp[i]
                b = lbin[i]
                if b >= 0:
                    liq_bin[s, b] += notional
                    cnt[s, b] -= 1
                    cur[s, b] = 0.0 if cnt[s, b] == 0 else cur[s, b] - q[i] * lp[i]
                    while span_lo[s] <= span_hi[s] and cnt[s, span_lo[s]] == 0:
                        span_lo[s] += 1
                    while span_hi[s] >= span_lo[s] and cnt[s, span_hi[s]] == 0:
                        span_hi[s] -= 1
        if decay < 1.0:  # ageing: every open level loses the same share each bar
            g *= decay
        o = oi[t]
        if math.isfinite(o) and math.isfinite(prev_oi):
            d = o - prev_oi
            new_q = d if d > 0 else 0.0
            if churn > 0.0:  # turnover: a share of the OI closes and re-opens at this bar
                g *= 1.0 - churn
                new_q += churn * prev_oi
            if d < 0 and prev_oi > liq_q:
                r = 1.0 - max(0.0, -d - liq_q) / (prev_oi - liq_q)
                g *= min(1.0, max(0.0, r))
            if new_q > 0 and math.isfinite(vwap[t]) and g > 0.0:
                for s in range(2):
                    side_q = new_q * (share[t] if s == 0 else 1.0 - share[t])
                    for k in range(k_mix):
                        qty = side_q * weight[k]
                        price = vwap[t] * (fac_long[k] if s == 0 else fac_short[k])
                        if qty <= 0.0 or not (price > 0.0 and math.isfinite(price)):
                            continue
                        lp[used] = price
                        q[used] = qty / g
                        lev[used] = k
                        born[used] = t
                        b = math.floor((price - grid_lo) / grid_step)
                        b = b if 0 <= b < n_bins else -1
                        lbin[used] = b
                        if b >= 0:
                            cur[s, b] += q[used] * price
                            cnt[s, b] += 1
                            span_lo[s] = min(span_lo[s], b)
                            span_hi[s] = max(span_hi[s], b)
                        tot[s] += q[used] * price
                        size[s] = _push(hk[s], hi_[s], size[s], -price if s == 0 else price, used)
                        used += 1
        if math.isfinite(o):
            prev_oi = o
        if g < 1e-150:
            for s in range(2):
                for j in range(size[s]):
                    q[hi_[s][j]] *= g
                for b in range(n_bins):
                    cur[s, b] *= g
                tot[s] *= g
            g = 1.0
        for s in range(2):
            open_tot[s, t] = max(tot[s] * g, 0.0)
        if record and ((t + 1) % record_every == 0 or t == n - 1):
            r_ = t // record_every
            for s in range(2):
                for b in range(span_lo[s], span_hi[s] + 1):
                    v = cur[s, b] * g
                    heat[s, r_, b] = v if v > 0.0 else 0.0
    n_open = size[0] + size[1]
    out_idx = np.empty(n_open, np.int64)
    out_side = np.empty(n_open, np.int8)
    j = 0
    for s in range(2):
        for m in range(size[s]):
            out_idx[j] = hi_[s][m]
            out_side[j] = LONG if s == 0 else SHORT
            j += 1
    return (liq, liq_bin, open_tot, out_idx, out_side, lp[out_idx], q[out_idx] * g,
            lev[out_idx], born[out_idx])  # fmt: skip


@dataclass(frozen=True)
class Turnover:
    """How entries age and how much of the OI is new positions; the defaults (no ageing, no
    churn) are the three rules of the module docstring, unchanged.

    ``half_life`` (bars): every open level loses ``1 - 2 ** (-1 / half_life)`` of its notional
    each bar (positions closed, or topped up with margin, that the OI's net change does not show).
    ``churn``: each bar, this share of the previous bar's OI closes (every open level in
    proportion) and opens again at the bar's VWAP, split like an increase: a net OI change
    understates the positions opened when others close in the same bar.
    """

    half_life: float = math.inf
    churn: float = 0.0

    def __post_init__(self) -> None:
        if not self.half_life > 0:
            raise InputError(f"half_life must be > 0 bars (inf: no ageing), got {self.half_life}")
        if not 0.0 <= self.churn < 1.0:
            raise InputError(f"churn must be in [0, 1), got {self.churn}")

    @property
    def decay(self) -> float:
        """The factor applied to every open level each bar (1.0: none)."""
        return 0.5 ** (1.0 / self.half_life)

    @property
    def is_default(self) -> bool:
        return self.half_life == math.inf and self.churn == 0.0


def run_levels(
    inputs: LevelInputs, factors: LevelFactors, grid: PriceGrid, *, record_every: int = 1,
    record: bool = True, turnover: Turnover = Turnover(),
) -> LevelRun:  # fmt: skip
    """Run the level model over the bars (see the module docstring for the rules, and
    :class:`Turnover` for the optional ageing and churn)."""
    if record_every < 1:
        raise InputError(f"record_every must be >= 1, got {record_every}")
    n = inputs.high.shape[0]
    rows = -(-n // record_every) if record else 0
    heat = np.zeros((2, rows, grid.n), np.float32)  # calloc'd: only written pages are touched
    res = _levels_kernel(
        inputs.high, inputs.low, inputs.vwap, inputs.oi, inputs.long_share,
        factors.long, factors.short, factors.weight, float(grid.lo), float(grid.step), int(grid.n),
        int(record_every), bool(record), heat, turnover.decay, turnover.churn,
    )  # fmt: skip
    liq, liq_bin, open_tot, _idx, side, price, qty, lev, born = res
    row_bar = np.minimum(np.arange(heat.shape[1]) * record_every + record_every - 1, n - 1)
    return LevelRun(
        ts=inputs.ts, grid=grid, row_bar=row_bar.astype(np.int64), heat_long=heat[0],
        heat_short=heat[1], liq_long=liq[0], liq_short=liq[1], liq_bin_long=liq_bin[0],
        liq_bin_short=liq_bin[1], open_long_total=open_tot[0], open_short_total=open_tot[1],
        open_side=side, open_price=price, open_qty=qty, open_lev=lev, open_born=born,
        leverage=factors.leverage,
    )  # fmt: skip


# ---------------------------------------------------------------- the oracle
def levels_oracle(
    inputs: LevelInputs, factors: LevelFactors, grid: PriceGrid, turnover: Turnover = Turnover()
) -> tuple[F8, F8, F8, F8]:
    """Plain-Python oracle of the kernel: a list of ``[side, LP, qty]`` levels, the three rules
    (and the turnover's ageing and churn) applied literally. Returns ``(heat_long, heat_short,
    liq_long, liq_short)`` (slow; tests only)."""
    n = len(inputs.high)
    levels: list[list[float]] = []
    heat = np.zeros((2, n, grid.n))
    liq = np.zeros((2, n))
    prev = math.nan
    for t in range(n):
        keep, liq_q = [], 0.0
        for lv in levels:
            touched = inputs.low[t] <= lv[1] if lv[0] > 0 else inputs.high[t] >= lv[1]
            if touched:
                liq[0 if lv[0] > 0 else 1, t] += lv[2] * lv[1]
                liq_q += lv[2]
            else:
                keep.append(lv)
        levels = keep
        for lv in levels:
            lv[2] *= turnover.decay
        o = inputs.oi[t]
        if math.isfinite(o) and math.isfinite(prev):
            d = o - prev
            new = max(d, 0.0) + turnover.churn * prev
            kept = 1.0 - turnover.churn
            if d < 0 and prev > liq_q:
                kept *= min(1.0, max(0.0, 1.0 - max(0.0, -d - liq_q) / (prev - liq_q)))
            for lv in levels:
                lv[2] *= kept
            if new > 0 and kept > 0:  # nothing re-opens when the OI fell to 0
                for side, fac, sh in ((LONG, factors.long, inputs.long_share[t]),
                                      (SHORT, factors.short, 1 - inputs.long_share[t])):  # fmt: skip
                    for f, w in zip(fac, factors.weight, strict=True):
                        price = inputs.vwap[t] * f
                        if new * sh * w > 0 and 0 < price < math.inf:
                            levels.append([side, price, new * sh * w])
        if math.isfinite(o):
            prev = o
        for lv in levels:
            b = int(grid.bin_of(np.array([lv[1]]))[0])
            if b >= 0:
                heat[0 if lv[0] > 0 else 1, t, b] += lv[2] * lv[1]
    return heat[0], heat[1], liq[0], liq[1]
