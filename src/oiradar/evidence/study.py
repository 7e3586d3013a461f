"""The event study: how often did the move the signal promises actually come, and how much more
often than without the signal? (``docs/evidence.md`` defines every term.)

Inputs are plain arrays (one value per closed bar) so that the study runs on any series: real bars,
simulator output, a user's CSV. The frame wrapper :func:`study_frame` pulls them from a bar frame that
carries ``atr_14`` (and optionally ``near_high``).

Baselines (the claim is about the **lift** over them, not the raw rate; with symmetric barriers the
base rate is already near 50 %):

- ``all``: the same outcome over every bar with a valid outcome;
- ``near_high``: bars where ``near_high`` holds, without the OI condition;
- ``matched``: random bars matched on volatility. Events are spread over ATR-% quintiles; the
  baseline is the all-bar rate of each quintile weighted by the events' share of that quintile, which
  is the exact expectation of drawing matched random bars (no sampling noise added).

Timeouts (neither barrier within ``H`` bars) count by :class:`~oiradar.config.TimeoutRule`, the same
way for the events and every baseline: ``fail`` (not a reversal), ``exclude`` (out of the rate, the
default: decision 0605) or ``sign`` (a reversal when the side-adjusted return at ``H`` is positive).
Wins, losses and timeouts are counted apart whatever the rule.

Uncertainty: Wilson intervals for every rate; a circular block bootstrap of the bar series (blocks of
``2 H`` bars keep overlapping outcomes together) for the lift and the mean forward returns; a one-sided
exact binomial test of the event rate against the baseline rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.config import TimeoutRule
from oiradar.errors import InputError
from oiradar.evidence import outcomes as oc
from oiradar.model import Side
from oiradar.stats import (
    Interval,
    binom_sf,
    block_bootstrap_starts,
    block_sums,
    percentile_interval,
    wilson_interval,
)

BASELINES = ("all", "near_high", "matched")
N_QUINTILES = 5
# Below this many counted events no lift interval is shown: a bootstrap of 1-9 events gives
# intervals that look precise and are not (a lift from one event came out as [0.48, 0.76]).
MIN_INTERVAL_EVENTS = 10


@dataclass(frozen=True, kw_only=True)
class StudyConfig:
    """Event-study settings (the defaults of ``[evidence]``)."""

    horizon: int = 12
    width: float = 2.0
    cooldown: int | None = None  # None: the horizon H
    timeouts: TimeoutRule = TimeoutRule.EXCLUDE
    forward: tuple[int, ...] = (1, 3, 6, 12, 24)
    min_events: int = 80
    reps: int = 2000
    block: int | None = None  # None: 2 x horizon
    conf: float = 0.95
    alpha: float = 0.05
    seed: int = 0
    detect_lift: float = 0.10  # the lift "lift > 0" is taken to promise (events needed)
    power: float = 0.8  # of the "events needed" figure
    turn_streak: int = 2  # exit_gain: the OI-turn exit's streak against the trade
    hold_max: int = 24  # exit_gain: the OI-turn exit's longest hold, bars

    def __post_init__(self) -> None:
        if self.timeouts not in tuple(TimeoutRule):
            rules = ", ".join(r.value for r in TimeoutRule)
            raise InputError(f"timeouts must be one of {rules}, got {self.timeouts!r}")
        object.__setattr__(self, "timeouts", TimeoutRule(self.timeouts))

    @property
    def cooldown_bars(self) -> int:
        return self.horizon if self.cooldown is None else self.cooldown

    @property
    def block_bars(self) -> int:
        return max(1, 2 * self.horizon if self.block is None else self.block)


@dataclass(frozen=True, kw_only=True)
class StudyArrays:
    """One value per closed bar; ``events`` marks the bars at whose close the signal fired."""

    close: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    atr: NDArray[np.float64]
    events: NDArray[np.bool_]
    near_high: NDArray[np.bool_] | None = None
    ts: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        n = self.close.shape[0]
        for name in ("high", "low", "atr", "events", "near_high", "ts"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n,):
                raise InputError(
                    f"array {name!r} has shape {arr.shape}, expected ({n},) like 'close'",
                    column=name,
                )


@dataclass(frozen=True)
class Rate:
    """A baseline or event rate: ``wins`` (reversals under the timeout rule) of ``n`` counted,
    with its Wilson interval."""

    wins: int
    n: int
    interval: Interval

    @property
    def rate(self) -> float:
        return self.interval.estimate


@dataclass(frozen=True)
class Outcomes:
    """Barrier outcomes of a set of bars, before any timeout rule: wins, losses, timeouts."""

    wins: int
    losses: int
    timeouts: int

    @property
    def total(self) -> int:
        return self.wins + self.losses + self.timeouts


@dataclass(frozen=True, kw_only=True)
class StudyResult:
    side: Side
    n_signals: int  # signal bars before de-duplication
    n_events: int  # de-duplicated, with a fully observed outcome (timeouts included)
    wins: int  # barrier outcomes of the events, whatever the timeout rule
    losses: int
    timeouts: int
    rate: Rate  # under the timeout rule: rate.n events counted, rate.wins reversals
    baselines: dict[str, Rate | None]
    baseline_outcomes: dict[str, Outcomes | None]  # barrier outcomes of the baseline's bars
    lift: dict[str, Interval | None]  # event rate - baseline rate, block-bootstrap interval
    p_value: dict[str, float]  # one-sided exact binomial test, event rate > baseline rate
    forward: dict[int, Interval]  # mean side-adjusted forward return of events, bootstrap interval
    forward_all: dict[int, float]  # the same mean over all bars
    mfe: float  # mean maximum favourable excursion of events (fraction of price)
    mae: float
    event_index: NDArray[np.int64] = field(repr=False)
    event_outcome: NDArray[np.int8] = field(repr=False)
    config: StudyConfig = field(repr=False)

    @property
    def n_counted(self) -> int:
        """Events in the rate (all of them, or those that touched a barrier under ``exclude``)."""
        return self.rate.n

    @property
    def sufficient(self) -> bool:
        return self.n_counted >= self.config.min_events

    @property
    def interval_shown(self) -> bool:
        """Whether the lift's bootstrap interval means anything (:data:`MIN_INTERVAL_EVENTS`)."""
        return self.n_counted >= MIN_INTERVAL_EVENTS


def run_study(data: StudyArrays, side: Side, cfg: StudyConfig | None = None) -> StudyResult:
    """Run the whole event study on arrays (see the module docstring for the method)."""
    return study_with_columns(data, side, cfg)[0]


def study_with_columns(
    data: StudyArrays, side: Side, cfg: StudyConfig | None = None
) -> tuple[StudyResult, NDArray[np.float64]]:
    """:func:`run_study`, and the per-bar columns whose sums make every rate of the study (one row
    per bar, layout in :func:`_columns`; :func:`totals_stats` turns sums of them into the rates).

    The pooled study (:mod:`oiradar.evidence.pooled`) sums them per calendar block, so that its
    counts are this study's by construction.
    """
    cfg = cfg or StudyConfig()
    if side not in tuple(Side):
        raise InputError(f"side must be Side.SHORT or Side.LONG, got {side!r}")
    side = Side(side)
    sign = side.sign
    out, _ = oc.triple_barrier(
        data.close, data.high, data.low, data.atr, sign, cfg.width, cfg.horizon
    )
    valid = out != oc.INVALID
    at_h = sign * oc.forward_returns(data.close, (cfg.horizon,))[:, 0]
    counted, win = scored(out, at_h, cfg.timeouts)
    events = oc.dedupe_events(np.asarray(data.events, dtype=np.bool_), cfg.cooldown_bars) & valid
    quint = _atr_quintiles(data.atr, data.close, valid)
    near = None if data.near_high is None else np.asarray(data.near_high, dtype=bool) & valid
    fwd = sign * oc.forward_returns(data.close, cfg.forward)
    mfe, mae = oc.excursions(data.close, data.high, data.low, sign, cfg.horizon)
    cols = _columns(events & counted, counted, win, near, quint, fwd, events)
    point = totals_stats(cols.sum(axis=0)[None, :], len(cfg.forward), near is not None)
    boot = _bootstrap(cols, cfg, len(cfg.forward), near is not None)
    masks = _Masks(out, events, valid, counted, win, near, quint)
    return _assemble(data, side, cfg, masks, fwd, mfe, mae, point, boot), cols


def scored(
    out: NDArray[np.int8], at_h: NDArray[np.float64], rule: TimeoutRule
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """``(counted, reversal)`` of every bar under the timeout rule.

    ``counted``: the bar is in a rate's denominator; ``reversal``: in its numerator. ``at_h`` is the
    side-adjusted return at the horizon (``sign x (close[t+H] / close[t] - 1)``); under ``sign`` a
    timeout with ``at_h > 0`` is a reversal (a return of exactly 0 is not).
    """
    valid = out != oc.INVALID
    timeout = out == oc.TIMEOUT
    win = out == oc.WIN
    if rule is TimeoutRule.EXCLUDE:
        return valid & ~timeout, win
    if rule is TimeoutRule.SIGN:
        with np.errstate(invalid="ignore"):
            return valid, win | (timeout & (at_h > 0))
    return valid, win


def _atr_quintiles(atr: NDArray, close: NDArray, valid: NDArray[np.bool_]) -> NDArray[np.int64]:
    """ATR-% quintile (0..4) of each valid bar; -1 elsewhere. Edges from all valid bars."""
    q = np.full(atr.shape[0], -1, dtype=np.int64)
    if not valid.any():
        return q
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = atr / close
    edges = np.quantile(pct[valid], np.linspace(0, 1, N_QUINTILES + 1)[1:-1])
    q[valid] = np.searchsorted(edges, pct[valid], side="right")
    return q


def _columns(ec, counted, win, near, quint, fwd, events) -> NDArray[np.float64]:
    """Per-bar indicator/sum columns whose block sums let each bootstrap replicate be a sum.

    ``ec``: counted events; ``counted``/``win``: the bars in a rate's denominator/numerator under
    the timeout rule. Layout: E, E*W, C, C*W, NH, NH*W (counted), then per quintile C_q, CW_q, E_q,
    then per forward horizon event sum, event count, all sum, all count (forward returns are over
    every event, timeouts included).
    """
    f = np.float64
    nh = near & counted if near is not None else np.zeros_like(counted)
    cols = [ec, ec & win, counted, counted & win, nh, nh & win]
    for q in range(N_QUINTILES):
        in_q = (quint == q) & counted
        cols += [in_q, in_q & win, ec & in_q]
    base = [c.astype(f) for c in cols]
    for j in range(fwd.shape[1]):
        ok = np.isfinite(fwd[:, j])
        r = np.where(ok, fwd[:, j], 0.0)
        base += [r * events, (ok & events).astype(f), r, ok.astype(f)]
    return np.column_stack(base)


def totals_stats(tot: NDArray[np.float64], n_fwd: int, has_near: bool) -> dict[str, NDArray]:
    """Rates, baselines and mean returns from sums of :func:`_columns` (one row per replicate):
    keys ``rate``, ``all``, ``near_high``, ``matched`` (arrays of rows) and ``fwd``, ``fwd_all``
    (rows x horizons)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = tot[:, 1] / tot[:, 0]
        base_all = tot[:, 3] / tot[:, 2]
        base_near = tot[:, 5] / tot[:, 4] if has_near else np.full(tot.shape[0], np.nan)
        vq = tot[:, 6 : 6 + 3 * N_QUINTILES : 3]
        wq = tot[:, 7 : 7 + 3 * N_QUINTILES : 3]
        eq = tot[:, 8 : 8 + 3 * N_QUINTILES : 3]
        rq = np.where(vq > 0, wq / np.where(vq > 0, vq, 1.0), 0.0)
        matched = (eq * rq).sum(axis=1) / eq.sum(axis=1)
        k = 6 + 3 * N_QUINTILES
        fwd_ev = np.stack([tot[:, k + 4 * j] / tot[:, k + 4 * j + 1] for j in range(n_fwd)], axis=1)
        fwd_all = np.stack(
            [tot[:, k + 4 * j + 2] / tot[:, k + 4 * j + 3] for j in range(n_fwd)], axis=1
        )
    return {
        "rate": rate,
        "all": base_all,
        "near_high": base_near,
        "matched": matched,
        "fwd": fwd_ev,
        "fwd_all": fwd_all,
    }


def _bootstrap(cols: NDArray, cfg: StudyConfig, n_fwd: int, has_near: bool) -> dict[str, NDArray]:
    """Circular block bootstrap of the bar series (each replicate's totals summed from its block
    starts, no ``(reps, blocks, columns)`` gather).

    ``reps = 0``: no replicates (every bootstrap interval is NaN).
    """
    n = cols.shape[0]
    if cfg.reps == 0 or n == 0:
        empty = totals_stats(np.zeros((0, cols.shape[1])), n_fwd, has_near)
        return empty
    block = min(cfg.block_bars, n)
    sums = block_sums(cols, block)
    starts = block_bootstrap_starts(n, block, cfg.reps, np.random.default_rng(cfg.seed))
    return totals_stats(oc.replicate_sums(sums, starts), n_fwd, has_near)


@dataclass(frozen=True)
class _Masks:
    out: NDArray[np.int8]  # barrier outcome of every bar
    events: NDArray[np.bool_]  # de-duplicated events with a full outcome
    valid: NDArray[np.bool_]
    counted: NDArray[np.bool_]  # in a rate under the timeout rule
    win: NDArray[np.bool_]  # a reversal under the timeout rule
    near: NDArray[np.bool_] | None
    quint: NDArray[np.int64]


def _outcomes(out: NDArray[np.int8], mask: NDArray[np.bool_]) -> Outcomes:
    o = out[mask]
    return Outcomes(int((o == oc.WIN).sum()), int((o == oc.LOSS).sum()),
                    int((o == oc.TIMEOUT).sum()))  # fmt: skip


def _baselines(
    m: _Masks, matched: float, cfg: StudyConfig, any_event: bool
) -> dict[str, Rate | None]:
    c, w = m.counted, m.win
    return {
        "all": _rate(int((c & w).sum()), int(c.sum()), cfg.conf),
        "near_high": None
        if m.near is None
        else _rate(int((m.near & c & w).sum()), int((m.near & c).sum()), cfg.conf),
        "matched": _matched_rate(matched, c, cfg.conf) if any_event else None,
    }


def _assemble(data, side, cfg, m: _Masks, fwd, mfe, mae, point, boot) -> StudyResult:
    idx = np.flatnonzero(m.events)
    ev = _outcomes(m.out, m.events)
    ec = m.events & m.counted
    k, n = int((ec & m.win).sum()), int(ec.sum())
    bases = _baselines(m, point["matched"][0], cfg, n > 0)
    lift: dict[str, Interval | None] = {}
    pval: dict[str, float] = {}
    for name in BASELINES:
        b = bases[name]
        if b is None or n == 0 or b.n == 0:
            lift[name], pval[name] = None, math.nan
            continue
        lift[name] = percentile_interval(k / n - b.rate, boot["rate"] - boot[name], cfg.conf)
        pval[name] = binom_sf(k, n, b.rate)
    fwd_iv = {
        h: percentile_interval(float(point["fwd"][0, j]), boot["fwd"][:, j], cfg.conf)
        for j, h in enumerate(cfg.forward)
    }
    with np.errstate(invalid="ignore"):
        fwd_all = {h: float(np.nanmean(fwd[:, j])) if np.isfinite(fwd[:, j]).any() else math.nan
                   for j, h in enumerate(cfg.forward)}  # fmt: skip
    return StudyResult(
        side=side,
        n_signals=int(np.asarray(data.events, dtype=bool).sum()),
        n_events=idx.size,
        wins=ev.wins,
        losses=ev.losses,
        timeouts=ev.timeouts,
        rate=_rate(k, n, cfg.conf),
        baselines=bases,
        baseline_outcomes={
            "all": _outcomes(m.out, m.valid),
            "near_high": None if m.near is None else _outcomes(m.out, m.near),
            "matched": None,  # a weighted rate: no bars of its own
        },
        lift=lift,
        p_value=pval,
        forward=fwd_iv,
        forward_all=fwd_all,
        mfe=float(np.mean(mfe[idx])) if idx.size else math.nan,
        mae=float(np.mean(mae[idx])) if idx.size else math.nan,
        event_index=idx,
        event_outcome=m.out[idx],
        config=cfg,
    )


def _rate(wins: int, n: int, conf: float) -> Rate:
    return Rate(wins, n, wilson_interval(wins, n, conf))


def _matched_rate(rate: float, counted: NDArray[np.bool_], conf: float) -> Rate:
    """The matched baseline's rate; its Wilson interval uses all counted bars as the sample size."""
    n = int(counted.sum())
    if n == 0 or not math.isfinite(rate):
        return _rate(0, 0, conf)
    k = round(rate * n)
    iv = wilson_interval(k, n, conf)
    return Rate(k, n, Interval(rate, iv.low, iv.high, conf))


def study_frame(
    bars: pl.DataFrame,
    events: pl.Series | NDArray[np.bool_],
    side: Side,
    cfg: StudyConfig | None = None,
) -> StudyResult:
    """Run the study on a bar frame with ``close high low atr_14`` (and ``near_high`` if present)."""
    return run_study(frame_arrays(bars, events), side, cfg)


def frame_arrays(bars: pl.DataFrame, events: pl.Series | NDArray[np.bool_]) -> StudyArrays:
    """The study's arrays from a bar frame with ``close high low atr_14`` (``near_high`` and ``ts``
    when present)."""
    for col in ("close", "high", "low", "atr_14"):
        if col not in bars.columns:
            raise InputError(
                f"the bar frame lacks column {col!r}; compute features first", column=col
            )

    def f64(c: str) -> NDArray[np.float64]:
        return bars[c].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)

    near = None
    if "near_high" in bars.columns:
        near = bars["near_high"].fill_null(False).to_numpy().astype(bool)
    ev = events.fill_null(False).to_numpy() if isinstance(events, pl.Series) else events
    return StudyArrays(
        close=f64("close"), high=f64("high"), low=f64("low"), atr=f64("atr_14"),
        events=np.asarray(ev, dtype=bool), near_high=near,
        ts=bars["ts"].to_numpy() if "ts" in bars.columns else None,
    )  # fmt: skip
