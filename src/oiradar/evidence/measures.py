"""Claims whose outcome is not a reversal rate: the OI-turn exit against the barriers, and the
liquidations that follow a signal against their base rate (``docs/evidence.md``).

Both are means over the signal's events, with a reference:

- ``exit_gain``: per event, the side-adjusted return of **holding while OI keeps falling** (exit
  at the close of the first bar ``t+h``, ``1 <= h <= hold_max``, where the OI streak against the
  trade reaches ``turn_streak``: ``oi_up_streak >= 2`` for a short; else at ``t + hold_max``),
  minus the return of the **fixed barriers** on the same event (the triple barrier of the study:
  ``+- width x atr_14`` at the barrier's price, both in one bar the adverse one, else the close at
  ``H``). The estimate is the mean difference; the reference shown is the barriers' mean.
- ``liq_ratio``: per bar, the realized liquidated notional over the next ``H`` bars divided by the
  bar's OI value (``oi_value``, the quote value of the open positions; a larger OI alone would
  liquidate more). The estimate is that mean after the events over its mean after every bar with
  a full window (the base rate): 1 is no difference.

Each is built from per-bar columns whose sums make the estimate (event numerator and count,
reference numerator and count, the events' second moment), so the single-series interval is the
study's circular block bootstrap of those sums and the pooled one the pooled study's two-way
bootstrap (:mod:`oiradar.evidence.pooled`). ``p`` is one-sided: the share of bootstrap replicates
at or below the claimed value (single series), or the z-test with the two-way variance (pooled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numba as nb
import numpy as np
from numpy.typing import NDArray

from oiradar.evidence import outcomes as oc
from oiradar.evidence.study import MIN_INTERVAL_EVENTS, StudyConfig
from oiradar.model import Side
from oiradar.stats import (
    Interval,
    block_bootstrap_starts,
    block_sums,
    multinomial_weights,
    percentile_interval,
    two_way_interval,
    z_test_greater,
)

EXIT_GAIN, LIQ_RATIO = "exit_gain", "liq_ratio"
MEASURES = (EXIT_GAIN, LIQ_RATIO)
# column layout: event numerator, events, reference numerator, reference count, events' u^2
_EN, _E, _BN, _B, _ESQ = range(5)


@dataclass(frozen=True, kw_only=True)
class MeasureArrays:
    """One value per bar (the study's grid); ``streak``: the OI streak against the trade
    (``oi_up_streak`` for a short); ``liquidations``: realized notional per bar, NaN where
    unknown; ``oi_value``: the OI's quote value."""

    close: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    atr: NDArray[np.float64]
    events: NDArray[np.bool_]
    streak: NDArray[np.float64] | None = None
    liquidations: NDArray[np.float64] | None = None
    oi_value: NDArray[np.float64] | None = None
    ts: NDArray[np.int64] | None = None


@dataclass(frozen=True, kw_only=True)
class MeasureResult:
    """One measure of one signal on one series (or pooled over series)."""

    metric: str
    signal: str
    side: Side
    n_signals: int
    n_events: int  # de-duplicated events with a full outcome
    estimate: float  # mean gain (exit_gain) or ratio (liq_ratio)
    interval: Interval | None  # bootstrap; None below MIN_INTERVAL_EVENTS events
    event_mean: float  # OI-turn exit's mean return, or liquidations / OI after the events
    reference: float  # the barriers' mean return, or the all-bar mean
    n_reference: int  # events (exit_gain) or bars (liq_ratio) behind the reference
    variance: float  # of the estimate: bootstrap (one series) or two-way (pooled)
    iid_variance: float  # what independent events would give (the design effect's denominator)
    held: float = math.nan  # exit_gain: mean bars held by the OI-turn exit
    replicates: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.zeros(0))
    pooled: bool = False
    series: int = 1
    years: float = 0.0
    config: StudyConfig = field(repr=False, default_factory=StudyConfig)

    @property
    def deff(self) -> float:
        if not (self.variance > 0 and self.iid_variance > 0):
            return 1.0
        return self.variance / self.iid_variance

    @property
    def effective_events(self) -> float:
        return self.n_events / max(1.0, self.deff) if self.pooled else float(self.n_events)

    @property
    def sufficient(self) -> bool:
        return self.effective_events >= self.config.min_events

    def p_value(self, value: float) -> float:
        """One-sided p of ``estimate > value`` (NaN without events)."""
        if self.n_events == 0 or not math.isfinite(self.estimate):
            return math.nan
        if self.pooled:
            return z_test_greater(self.estimate, value, max(self.variance, self.iid_variance))
        r = self.replicates[np.isfinite(self.replicates)]
        if r.size == 0:
            return math.nan
        return float((1 + np.count_nonzero(r <= value)) / (r.size + 1))


# ---------------------------------------------------------------- per-bar outcomes
@nb.njit(cache=True)
def oi_turn_exit(
    close: NDArray[np.float64], streak: NDArray[np.float64], side: int, turn: int, cap: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``(return, bars held)`` of holding from the close of bar ``t`` until the close of the first
    bar ``t+h`` (``1 <= h <= cap``) with ``streak >= turn``, else until ``t + cap``; the return is
    side-adjusted, ``side x (close[t+h] / close[t] - 1)``. NaN (held -1) where ``t + cap`` is past
    the data or a close it reads is missing.

    Plain Python: ``h = next((h for h in range(1, cap + 1) if streak[t + h] >= turn), cap)``.
    """
    n = close.shape[0]
    ret = np.full(n, np.nan)
    held = np.full(n, -1, np.int64)
    for t in range(n - cap):
        h = cap
        for k in range(1, cap + 1):
            if streak[t + k] >= turn:
                h = k
                break
        c0, c1 = close[t], close[t + h]
        if np.isfinite(c0) and np.isfinite(c1) and c0 > 0:
            ret[t] = side * (c1 / c0 - 1.0)
            held[t] = h
    return ret, held


def barrier_exit(
    close: NDArray[np.float64], high: NDArray[np.float64], low: NDArray[np.float64],
    atr: NDArray[np.float64], side: int, width: float, horizon: int,
) -> NDArray[np.float64]:  # fmt: skip
    """Side-adjusted return of the study's triple barrier: ``+width x atr / close`` on a win,
    ``-width x atr / close`` on a loss (exits at the barrier's price), the return at ``horizon`` on
    a timeout; NaN where the outcome is invalid."""
    out, _ = oc.triple_barrier(close, high, low, atr, side, width, horizon)
    at_h = side * oc.forward_returns(close, (horizon,))[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        step = width * atr / close
    ret = np.where(out == oc.WIN, step, np.where(out == oc.LOSS, -step, at_h))
    return np.where(out == oc.INVALID, np.nan, ret)


def forward_liquidations(
    liq: NDArray[np.float64], oi_value: NDArray[np.float64], horizon: int
) -> NDArray[np.float64]:
    """``sum(liq[t+1 .. t+H]) / oi_value[t]`` (pandas: ``liq[::-1].rolling(H).sum()[::-1]
    .shift(-1) / oi_value``); NaN where the window runs past the data, holds an unknown bar, or
    ``oi_value`` is not above 0."""
    n = liq.shape[0]
    out = np.full(n, np.nan)
    if n <= horizon:
        return out
    known = np.isfinite(liq)
    c = np.concatenate(([0.0], np.cumsum(np.where(known, liq, 0.0))))
    k = np.concatenate(([0], np.cumsum(known)))
    t = np.arange(n - horizon)
    full = (k[t + horizon + 1] - k[t + 1]) == horizon
    with np.errstate(invalid="ignore", divide="ignore"):
        val = (c[t + horizon + 1] - c[t + 1]) / oi_value[t]
    ok = full & (oi_value[t] > 0)
    out[t] = np.where(ok, val, np.nan)
    return out


# ---------------------------------------------------------------- columns and estimates
def measure_columns(
    metric: str, data: MeasureArrays, side: Side, cfg: StudyConfig, turn: int = 2,
    hold_max: int = 24,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], float]:  # fmt: skip
    """The per-bar columns (layout ``_EN .. _ESQ``), the de-duplicated event mask and (for
    ``exit_gain``) the mean bars held."""
    sign = Side(side).sign
    if metric == EXIT_GAIN:
        streak = np.full(data.close.shape, np.nan) if data.streak is None else data.streak
        x, held = oi_turn_exit(data.close, streak, sign, turn, hold_max)
        z = barrier_exit(data.close, data.high, data.low, data.atr, sign, cfg.width, cfg.horizon)
        valid = np.isfinite(x) & np.isfinite(z)
        u, ref = x - z, z
    elif metric == LIQ_RATIO:
        if data.liquidations is None or data.oi_value is None:
            u = np.full(data.close.shape, np.nan)
        else:
            u = forward_liquidations(data.liquidations, data.oi_value, cfg.horizon)
        valid = np.isfinite(u)
        ref = u
        held = np.zeros(0, np.int64)
    else:
        raise ValueError(f"unknown measure {metric!r}; valid: {', '.join(MEASURES)}")
    ev = oc.dedupe_events(np.asarray(data.events, dtype=np.bool_), cfg.cooldown_bars) & valid
    e = ev.astype(np.float64)
    base = e if metric == EXIT_GAIN else valid.astype(np.float64)
    u0, r0 = np.where(valid, u, 0.0), np.where(valid, ref, 0.0)
    cols = np.column_stack([e * u0, e, base * r0, base, e * u0 * u0])
    mean_held = float(held[ev].mean()) if metric == EXIT_GAIN and ev.any() else math.nan
    return cols, ev, mean_held


def estimates(metric: str, tot: NDArray[np.float64]) -> NDArray[np.float64]:
    """The estimate of each row of column totals: the events' mean of ``u`` (``exit_gain``: the
    gain itself) or that mean over the reference mean (``liq_ratio``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        a = tot[..., _EN] / tot[..., _E]
        return a if metric == EXIT_GAIN else a / (tot[..., _BN] / tot[..., _B])


def _means(metric: str, tot: NDArray[np.float64]) -> tuple[float, float]:
    """(the events' mean, the reference's mean): for ``exit_gain`` the OI-turn exit's mean return
    (gain + barriers) and the barriers' one."""
    ref = float(tot[_BN] / tot[_B]) if tot[_B] > 0 else math.nan
    if tot[_E] == 0:
        return math.nan, ref
    ev = float(tot[_EN] / tot[_E])
    return (ev + ref if metric == EXIT_GAIN else ev), ref


def _iid_variance(metric: str, tot: NDArray[np.float64]) -> float:
    """Variance of the estimate were the events independent: ``var(u) / n`` (over the squared
    reference mean for a ratio, the reference taken as known: it rests on every bar)."""
    n = float(tot[_E])
    if n < 2:
        return math.nan
    a = tot[_EN] / n
    var = max(0.0, tot[_ESQ] / n - a * a) * n / (n - 1) / n
    if metric == EXIT_GAIN:
        return var
    b = tot[_BN] / tot[_B] if tot[_B] > 0 else math.nan
    return var / (b * b) if b and math.isfinite(b) else math.nan


def run_measure(
    metric: str, signal: str, data: MeasureArrays, side: Side, cfg: StudyConfig, *,
    turn: int = 2, hold_max: int = 24,
) -> MeasureResult:  # fmt: skip
    """One measure of one signal on one series, with its circular block bootstrap (blocks of
    ``2 H`` bars, ``cfg.reps`` replicates)."""
    return _measure(metric, signal, data, side, cfg, turn, hold_max)[0]


def _measure(
    metric: str, signal: str, data: MeasureArrays, side: Side, cfg: StudyConfig, turn: int,
    hold_max: int,
) -> tuple[MeasureResult, NDArray[np.float64]]:  # fmt: skip
    """:func:`run_measure` and the per-bar columns its sums come from."""
    side = Side(side)
    cols, ev, held = measure_columns(metric, data, side, cfg, turn, hold_max)
    tot = cols.sum(axis=0)
    reps = estimates(metric, _bootstrap(cols, cfg))
    est = float(estimates(metric, tot))
    n = int(ev.sum())
    shown = n >= MIN_INTERVAL_EVENTS and reps.size > 0
    r = reps[np.isfinite(reps)]
    event_mean, reference = _means(metric, tot)
    return MeasureResult(
        metric=metric, signal=signal, side=side, n_signals=int(np.count_nonzero(data.events)),
        n_events=n, estimate=est, interval=percentile_interval(est, reps, cfg.conf) if shown else None,
        event_mean=event_mean, reference=reference,
        n_reference=int(tot[_B]), variance=float(r.var()) if r.size > 1 else math.nan,
        iid_variance=_iid_variance(metric, tot), held=held, replicates=reps, config=cfg,
    ), cols  # fmt: skip


def _bootstrap(cols: NDArray[np.float64], cfg: StudyConfig) -> NDArray[np.float64]:
    """Column totals of each replicate of a circular block bootstrap of the bars."""
    n = cols.shape[0]
    if cfg.reps == 0 or n == 0 or cols[:, _E].sum() == 0:
        return np.zeros((0, cols.shape[1]))
    block = min(cfg.block_bars, n)
    sums = block_sums(cols, block)
    starts = block_bootstrap_starts(n, block, cfg.reps, np.random.default_rng(cfg.seed))
    return oc.replicate_sums(sums, starts)


# ---------------------------------------------------------------- pooled
YEAR_MS = 365.25 * 86_400_000


def span_years(ts: NDArray[np.int64]) -> float:
    """Span of sorted bar times in years, the last bar included (one median bar step)."""
    if ts.size < 2:
        return 0.0
    step = float(np.median(np.diff(ts)))
    return float(ts[-1] - ts[0] + step) / YEAR_MS


@dataclass(frozen=True)
class MeasurePart:
    """What the pooled study keeps of one series for a measure: its result and block sums."""

    series: str
    result: MeasureResult
    blocks: NDArray[np.int64] = field(repr=False)
    sums: NDArray[np.float64] = field(repr=False)
    years: float


def measure_part(
    series: str, metric: str, signal: str, data: MeasureArrays, side: Side, cfg: StudyConfig,
    block_ms: int, *, turn: int = 2, hold_max: int = 24,
) -> MeasurePart:  # fmt: skip
    """:func:`run_measure` on one series, and its columns summed per calendar block."""
    result, cols = _measure(metric, signal, data, side, cfg, turn, hold_max)
    ts = np.asarray(data.ts, dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    blocks, first = np.unique(ts[order] // block_ms, return_index=True)
    sums = np.add.reduceat(cols[order], first, axis=0) if blocks.size else cols[:0]
    return MeasurePart(series, result, blocks, sums, span_years(ts[order]))


def pool_measure(parts: Sequence[MeasurePart], cfg: StudyConfig) -> MeasureResult:
    """Pool one measure over series: totals for the estimate, the two-way (series x calendar
    block) bootstrap for its variance and interval (as :func:`oiradar.evidence.pooled.pool`)."""
    first = parts[0].result
    blocks = np.unique(np.concatenate([p.blocks for p in parts]))
    cells = np.zeros((len(parts), blocks.size, 5))
    for i, p in enumerate(parts):
        cells[i, np.searchsorted(blocks, p.blocks)] = p.sums
    totals = cells.sum(axis=1)
    tot = totals.sum(axis=0)
    est = float(estimates(first.metric, tot))
    n = int(tot[_E])
    v = multinomial_weights(blocks.size, cfg.reps, np.random.default_rng([cfg.seed, 1]))
    w = multinomial_weights(len(parts), cfg.reps, np.random.default_rng([cfg.seed, 2]))
    by_block = np.einsum("rb,sbc->rsc", v, cells)
    rows = estimates(first.metric, np.einsum("rs,sc->rc", w, totals))
    cols = estimates(first.metric, by_block.sum(axis=1))
    both = estimates(first.metric, np.einsum("rs,rsc->rc", w, by_block))
    tw = two_way_interval(est, rows, cols, both, cfg.conf)
    res = [p.result for p in parts]
    event_mean, ref = _means(first.metric, tot)
    held = [r.held * r.n_events for r in res if math.isfinite(r.held)]
    return MeasureResult(
        metric=first.metric, signal=first.signal, side=first.side,
        n_signals=sum(r.n_signals for r in res), n_events=n, estimate=est,
        interval=tw.interval if n >= MIN_INTERVAL_EVENTS else None,
        event_mean=event_mean, reference=ref, n_reference=int(tot[_B]), variance=tw.variance,
        iid_variance=_iid_variance(first.metric, tot),
        held=sum(held) / n if held and n else math.nan, pooled=True, series=len(parts),
        years=sum(p.years for p in parts), config=cfg,
    )  # fmt: skip


__all__ = [
    "EXIT_GAIN",
    "LIQ_RATIO",
    "MEASURES",
    "MeasureArrays",
    "MeasurePart",
    "MeasureResult",
    "barrier_exit",
    "estimates",
    "forward_liquidations",
    "measure_columns",
    "measure_part",
    "oi_turn_exit",
    "pool_measure",
    "run_measure",
]
