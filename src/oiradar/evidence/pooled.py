"""The pooled study: one verdict per claim from the events of many series (venues, symbols,
timeframes), with intervals that know those events are not independent (``docs/evidence.md``,
"Pooled study"; ``docs/decisions/0706-pooled-bootstrap.md``).

Each series is studied alone first, by the single-series study itself
(:func:`~oiradar.evidence.study.study_with_columns`), so its counts are exactly what
``oiradar study`` prints for it. What the pooled study keeps of a series is small: that result
(the per-series breakdown) and the sums of the study's per-bar columns in each **calendar block**
(``ts // block_ms``: blocks common to every series). The series' features are dropped before the
next one is read, so memory grows with the number of series times blocks, not bars.

- **Point estimates** are totals over the series: the rate is all reversals over all counted
  events; the ``all`` and ``near_high`` baselines are the same outcome over every series' bars;
  ``matched`` is each series' matched baseline (its events' ATR-% quintiles, its own bars)
  weighted by its events, i.e. what drawing a volatility-matched random bar from the event's own
  series gives.
- **Intervals**: a two-way bootstrap. Each replicate draws multinomial weights over the series
  and over the calendar blocks; a (series, block) cell counts with the product (Owen's
  pigeonhole bootstrap). One crash seen on ten venues sits in one block, drawn or not as a whole,
  so it counts as one event in time. The product's spread double-counts the cell-level noise (on
  independent series it is about sqrt(3) too wide), so the interval is rescaled to the two-way
  cluster-robust variance ``V_series + V_blocks - V_cells`` read off the same replicates
  (:func:`oiradar.stats.two_way_interval`).
- **Tests**: one-sided z-tests of the estimate against the claim with the two-way variance,
  never below the binomial variance of as many independent events (:func:`judge_pooled`).
- **Design effect** ``deff``: the two-way variance of the rate over ``r (1 - r) / n``, the
  variance of ``n`` independent events. ``n / max(1, deff)`` is the number of *effective* events,
  which is what ``min_events`` asks for; the symbol-years needed are the events needed times
  ``max(1, deff)`` over the counted events per symbol-year observed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.errors import InputError
from oiradar.evidence.claims import (
    Claim,
    Judgement,
    control_fdr,
    judge_measure,
    judgement,
    null_rate,
    unmeasured,
)
from oiradar.evidence.measures import YEAR_MS, MeasurePart, MeasureResult, pool_measure, span_years
from oiradar.evidence.study import (
    BASELINES,
    MIN_INTERVAL_EVENTS,
    Outcomes,
    Rate,
    StudyArrays,
    StudyConfig,
    StudyResult,
    study_with_columns,
    totals_stats,
)
from oiradar.model import Side
from oiradar.stats import Interval, TwoWay, multinomial_weights, two_way_interval, z_test_greater

_E = 0  # the counted-events column of study._columns
_CHUNK = 2_000_000  # floats per replicate chunk (series x columns x replicates)


@dataclass(frozen=True)
class SeriesPart:
    """What a pooled study keeps of one series: its own study and its column sums per block."""

    series: str
    result: StudyResult
    blocks: NDArray[np.int64] = field(repr=False)  # calendar block numbers holding its bars
    sums: NDArray[np.float64] = field(repr=False)  # (blocks, columns) sums of the study's columns
    years: float  # span of its bars, in years


def series_part(
    series: str, data: StudyArrays, side: Side, cfg: StudyConfig, block_ms: int
) -> SeriesPart:
    """Study one series (the single-series study, unchanged) and sum its columns per block."""
    if data.ts is None:
        raise InputError(f"{series}: the pooled study needs the bars' times (StudyArrays.ts)")
    if block_ms <= 0:
        raise InputError(f"the pooled study's block must be longer than 0 ms, got {block_ms}")
    result, cols = study_with_columns(data, side, cfg)
    ts = np.asarray(data.ts, dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    block = ts[order] // block_ms
    blocks, first = np.unique(block, return_index=True)
    sums = np.add.reduceat(cols[order], first, axis=0) if blocks.size else cols[:0]
    return SeriesPart(series, result, blocks, sums, span_years(ts[order]))


@dataclass(frozen=True, kw_only=True)
class PooledResult:
    """The study of one signal and side pooled over series (fields as :class:`StudyResult`, the
    intervals two-way bootstrap ones)."""

    signal: str
    side: Side
    parts: tuple[SeriesPart, ...] = field(repr=False)
    years: float  # symbol-years: the series' spans summed
    n_blocks: int
    block_ms: int
    n_signals: int
    n_events: int
    wins: int
    losses: int
    timeouts: int
    rate: Rate
    baselines: dict[str, Rate | None]
    baseline_outcomes: dict[str, Outcomes | None]
    lift: dict[str, Interval | None]
    p_value: dict[str, float]  # rate > baseline, z-test with the two-way variance
    forward: dict[int, Interval]
    variance: dict[str, float]  # two-way variance of "rate", each baseline and "lift_<baseline>"
    deff: float  # design effect of the rate (NaN without counted events)
    config: StudyConfig = field(repr=False)

    @property
    def n_series(self) -> int:
        return len(self.parts)

    @property
    def n_counted(self) -> int:
        return self.rate.n

    @property
    def interval_shown(self) -> bool:
        """Whether the intervals mean anything (:data:`MIN_INTERVAL_EVENTS` counted events)."""
        return self.n_counted >= MIN_INTERVAL_EVENTS

    @property
    def effective_events(self) -> float:
        """Counted events over the design effect (never more than counted)."""
        return self.n_counted / max(1.0, self.deff) if math.isfinite(self.deff) else 0.0

    @property
    def events_per_year(self) -> float:
        """Counted events per symbol-year observed."""
        return self.n_counted / self.years if self.years > 0 else math.nan

    @property
    def sufficient(self) -> bool:
        return self.effective_events >= self.config.min_events

    def years_needed(self, events: int | None) -> float | None:
        """Symbol-years of data holding ``events`` effective events at the observed event rate."""
        per = self.events_per_year
        if events is None or not (math.isfinite(per) and per > 0):
            return None
        return events * max(1.0, self.deff if math.isfinite(self.deff) else 1.0) / per


def pool(
    parts: Sequence[SeriesPart], signal: str, side: Side, cfg: StudyConfig, block_ms: int,
    sums: Sequence[Callable[[], NDArray[np.float64]]] | None = None,
) -> PooledResult:  # fmt: skip
    """Pool the studies of one signal and side over ``parts`` (see the module docstring).

    ``sums``: where each part's per-block sums come from when the parts do not hold them (one
    callable per part, called once, its array dropped once copied into the cells): a caller that
    keeps the sums compressed never holds every series' sums unpacked at once.
    """
    if not parts:
        raise InputError(f"nothing to pool for {signal}/{side}: no series was studied")
    cells = _cells(parts, sums or [_held(p) for p in parts])
    n_blocks = cells.shape[0]
    n_fwd, has_near = len(cfg.forward), any(p.result.baselines["near_high"] for p in parts)
    totals = cells.sum(axis=0)  # (series, columns)
    point = _pooled_stats(totals[None], np.ones((1, len(parts))), n_fwd, has_near)
    reps = _replicates(cells, totals, cfg, n_fwd, has_near)
    est = {k: float(v[0]) for k, v in point.items()}
    iv = {k: two_way_interval(est[k], *reps[k], conf=cfg.conf) for k in point}
    return _assemble(parts, signal, side, cfg, block_ms, n_blocks, est, iv)


def _held(p: SeriesPart) -> Callable[[], NDArray[np.float64]]:
    return lambda: p.sums


def _cells(
    parts: Sequence[SeriesPart], sums: Sequence[Callable[[], NDArray[np.float64]]]
) -> NDArray[np.float64]:
    """``(blocks, series, columns)`` sums over the blocks that hold any series' bars, block-major:
    a bootstrap replicate's block weights multiply it as it lies (no transposed copy), and each
    series' sums are copied in one at a time."""
    blocks = np.unique(np.concatenate([p.blocks for p in parts]))
    cells = np.zeros((blocks.size, len(parts), parts[0].sums.shape[1]))  # a slim part keeps its width
    for i, (p, get) in enumerate(zip(parts, sums, strict=True)):
        cells[np.searchsorted(blocks, p.blocks), i] = get()
    return cells


def _pooled_stats(
    t: NDArray[np.float64], w: NDArray[np.float64], n_fwd: int, has_near: bool
) -> dict[str, NDArray[np.float64]]:
    """Pooled statistics per replicate from per-series totals ``t`` ``(reps or 1, series,
    columns)`` and series weights ``w`` ``(reps, series)``."""
    reps, n_series, n_cols = w.shape[0], t.shape[1], t.shape[2]
    tt = np.broadcast_to(t, (reps, n_series, n_cols))
    tot = np.einsum("rs,rsc->rc", w, tt)
    out = totals_stats(tot, n_fwd, has_near)
    # matched: each series' own matched rate, weighted by its (weighted) counted events
    per = totals_stats(t.reshape(-1, n_cols), n_fwd, has_near)["matched"].reshape(t.shape[:2])
    ev = t[:, :, _E]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(ev > 0, np.nan_to_num(per) * ev, 0.0)
        out["matched"] = (w * m).sum(axis=1) / (w * ev).sum(axis=1)
    stats = {k: out[k] for k in ("rate", *BASELINES)}
    for b in BASELINES:
        stats[f"lift_{b}"] = out["rate"] - out[b]
    for j in range(n_fwd):
        stats[f"fwd_{j}"] = out["fwd"][:, j]
    return stats


def _replicates(
    cells: NDArray[np.float64], totals: NDArray[np.float64], cfg: StudyConfig, n_fwd: int,
    has_near: bool,
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]:  # fmt: skip
    """``(series only, blocks only, both)`` replicates of every statistic, with the same draws
    (``cells``: ``(blocks, series, columns)``).

    The block weights come from their own random stream, so the same seed draws the same blocks
    whatever the number of series (one venue and ten copies of it get the same interval).
    """
    n_blocks, n_series, n_cols = cells.shape
    v_all = multinomial_weights(n_blocks, cfg.reps, np.random.default_rng([cfg.seed, 1]))
    w_all = multinomial_weights(n_series, cfg.reps, np.random.default_rng([cfg.seed, 2]))
    by_block = cells.reshape(n_blocks, n_series * n_cols)  # a view
    chunk = max(1, _CHUNK // max(1, n_series * n_cols))
    parts: list[tuple[dict, dict, dict]] = []
    for i in range(0, cfg.reps, chunk):
        v, w = v_all[i : i + chunk], w_all[i : i + chunk]
        t = (v @ by_block).reshape(v.shape[0], n_series, n_cols)
        parts.append((
            _pooled_stats(totals[None], w, n_fwd, has_near),
            _pooled_stats(t, np.ones_like(w), n_fwd, has_near),
            _pooled_stats(t, w, n_fwd, has_near),
        ))  # fmt: skip
    keys = _pooled_stats(totals[None], np.ones((1, n_series)), n_fwd, has_near).keys()
    empty = np.zeros(0)
    return {k: tuple(np.concatenate([p[j][k] for p in parts]) if parts else empty
                     for j in range(3)) for k in keys}  # type: ignore[misc]  # fmt: skip


def _assemble(
    parts: Sequence[SeriesPart], signal: str, side: Side, cfg: StudyConfig, block_ms: int,
    n_blocks: int, est: dict[str, float], iv: dict[str, TwoWay],
) -> PooledResult:  # fmt: skip
    res = [p.result for p in parts]
    k, n = sum(r.rate.wins for r in res), sum(r.n_counted for r in res)
    bases = _baselines(res, est, iv)
    lift = {b: iv[f"lift_{b}"].interval if bases[b] and n else None for b in BASELINES}
    var = {key: t.variance for key, t in iv.items()}
    pval = {b: _p(lift[b], 0.0, var[f"lift_{b}"], bases[b], n) for b in BASELINES}
    rate = Rate(k, n, iv["rate"].interval if n else Interval(math.nan, 0.0, 1.0, cfg.conf))
    return PooledResult(
        signal=signal, side=side, parts=tuple(parts), years=sum(p.years for p in parts),
        n_blocks=n_blocks, block_ms=block_ms, n_signals=sum(r.n_signals for r in res),
        n_events=sum(r.n_events for r in res), wins=sum(r.wins for r in res),
        losses=sum(r.losses for r in res), timeouts=sum(r.timeouts for r in res), rate=rate,
        baselines=bases, baseline_outcomes=_outcomes(res), lift=lift, p_value=pval,
        forward={h: iv[f"fwd_{j}"].interval for j, h in enumerate(cfg.forward)}, variance=var,
        deff=_deff(k, n, var["rate"]), config=cfg,
    )  # fmt: skip


def _baselines(
    res: list[StudyResult], est: dict[str, float], iv: dict[str, TwoWay]
) -> dict[str, Rate | None]:
    out: dict[str, Rate | None] = {}
    for b in ("all", "near_high"):
        have = [r.baselines[b] for r in res if r.baselines[b] is not None]
        k = sum(x.wins for x in have if x is not None)
        n = sum(x.n for x in have if x is not None)
        out[b] = Rate(k, n, iv[b].interval) if have and n else None
    n_all = sum(r.baselines["all"].n for r in res if r.baselines["all"] is not None)
    m = est["matched"]
    ok = math.isfinite(m)
    out["matched"] = Rate(round(m * n_all), n_all, iv["matched"].interval) if ok else None
    return out


def _outcomes(res: list[StudyResult]) -> dict[str, Outcomes | None]:
    out: dict[str, Outcomes | None] = {"matched": None}
    for b in ("all", "near_high"):
        seen = [r.baseline_outcomes[b] for r in res if r.baseline_outcomes[b] is not None]
        out[b] = (Outcomes(sum(o.wins for o in seen if o), sum(o.losses for o in seen if o),
                           sum(o.timeouts for o in seen if o)) if seen else None)  # fmt: skip
    return out


def _p(est: Interval | None, h0: float, var: float, base: Rate | None, n: int) -> float:
    """z-test of ``est > h0`` with the two-way variance, floored at the binomial variance of ``n``
    independent events at the null rate ``base + h0`` (clustering never makes events worth more)."""
    if est is None or base is None or n == 0:
        return math.nan
    p0 = min(1.0, max(0.0, base.rate + h0))
    return z_test_greater(est.estimate, h0, max(var, p0 * (1 - p0) / n))


def _deff(k: int, n: int, var: float) -> float:
    """Two-way variance of the rate over the binomial one of ``n`` independent events (1 when the
    rate is 0 or 1: every replicate agrees)."""
    if n == 0:
        return math.nan
    r = k / n
    if r in (0.0, 1.0) or not math.isfinite(var):
        return 1.0
    return var / (r * (1 - r) / n)


def judge_pooled(claim: Claim, res: PooledResult, alpha: float | None = None) -> Judgement:
    """The claim's verdict on a pooled study: the two-way lower bound must clear the claim and
    the z-test (two-way variance, never below the binomial one) must pass; ``insufficient data``
    below ``min_events`` *effective* events (counted / design effect)."""
    base = res.baselines.get(claim.baseline)
    n = res.n_counted
    est: Interval | None
    if claim.metric == "rate":
        shown, est, var = f"{res.rate.interval}", res.rate.interval, res.variance["rate"]
    else:
        lift = res.lift.get(claim.baseline)
        shown, est = ("n/a" if lift is None else f"lift {lift}"), lift
        var = res.variance[f"lift_{claim.baseline}"]
    bound_ok = n > 0 and est is not None and est.low > claim.value
    h0 = null_rate(claim, base)
    p = math.nan
    if n and est is not None and math.isfinite(h0):
        p0 = min(1.0, max(0.0, h0))
        p = z_test_greater(est.estimate, claim.value, max(var, p0 * (1 - p0) / n))
    return judgement(claim, res.config, n=n, base=base, shown=shown, bound_ok=bound_ok, p=p,
                     sufficient=res.sufficient, alpha=alpha)  # fmt: skip


POOLED_VERDICT_COLUMNS = {
    "claim": pl.String, "signal": pl.String, "side": pl.String, "as stated": pl.String,
    "series": pl.Int64, "events": pl.Int64,
    "reversals": pl.Int64, "rate": pl.Float64, "rate_low": pl.Float64, "rate_high": pl.Float64,
    "measured": pl.String, "baseline": pl.String, "p": pl.Float64, "q": pl.Float64,
    "deff": pl.Float64, "effective": pl.Float64, "needed": pl.Int64, "years": pl.Float64,
    "years_needed": pl.Float64, "verdict": pl.String,
}  # fmt: skip


MeasureKey = tuple[str, str, Side]  # (metric, signal, side) of a measure claim


def judge_pooled_claims(
    claims: Sequence[Claim], pooled: Mapping[tuple[str, Side], PooledResult],
    measures: Sequence[Mapping[MeasureKey, MeasurePart]],
    unavailable: Sequence[Mapping[str, str]], cfg: StudyConfig,
) -> list[tuple[Judgement, PooledResult | MeasureResult | None]]:  # fmt: skip
    """Every claim judged on the pooled study, Benjamini-Hochberg over them all: a rate claim on
    its signal's pooled rates, a measure claim on its measure pooled over the series that hold it
    (``measures``: each series' parts), a claim no series can measure (``unavailable``: each
    series' reasons, :attr:`~oiradar.evidence.pipeline.Prepared.unavailable`) ``insufficient
    data`` with the first series' reason."""
    out: list[tuple[Judgement, PooledResult | MeasureResult | None]] = []
    for c in claims:
        reasons = [u.get(c.signal) or u.get(c.metric) for u in unavailable]
        if reasons and all(reasons):
            out.append((unmeasured(c, cfg, str(reasons[0])), None))
        elif c.is_rate:
            res = pooled[(c.signal, c.side)]
            out.append((judge_pooled(c, res), res))
        else:
            parts = [m[(c.metric, c.signal, c.side)] for m in measures
                     if (c.metric, c.signal, c.side) in m]  # fmt: skip
            if not parts:
                out.append((unmeasured(c, cfg, "no series was measured"), None))
                continue
            m = pool_measure(parts, cfg)
            out.append((judge_measure(c, m), m))
    adjusted = control_fdr([j for j, _ in out], cfg.alpha)
    return [(j, r) for j, (_, r) in zip(adjusted, out, strict=True)]


def pooled_verdict_table(
    judged: Sequence[tuple[Judgement, PooledResult | MeasureResult | None]],
) -> pl.DataFrame:
    """The pooled verdict table: per claim its signal and side, series, counted events, reversals, the rate with
    its two-way interval (none below :data:`MIN_INTERVAL_EVENTS`), the measured claim and baseline (text), p, q (BH), the design effect,
    effective events, events needed, symbol-years observed and needed, and the verdict. Apply
    :func:`~oiradar.evidence.claims.control_fdr` to the judgements first (a measure claim has
    no rate, and an unmeasured claim no counts)."""
    rows: list[dict[str, Any]] = []
    for j, r in judged:
        fin = _finite
        if not isinstance(r, PooledResult):
            rows.append(_measure_row(j, r))
            continue
        rows.append({
            "claim": j.claim.name, "signal": r.signal, "side": str(r.side),
            "as stated": j.claim.stated, "series": r.n_series,
            "events": r.n_counted, "reversals": r.rate.wins, "rate": fin(r.rate.rate),
            "rate_low": fin(r.rate.interval.low) if r.interval_shown else None,
            "rate_high": fin(r.rate.interval.high) if r.interval_shown else None,
            "measured": j.measured, "baseline": j.baseline, "p": fin(j.p), "q": fin(j.q),
            "deff": fin(r.deff), "effective": fin(r.effective_events), "needed": j.needed,
            "years": r.years, "years_needed": r.years_needed(j.needed), "verdict": j.verdict.value,
        })  # fmt: skip
    return pl.DataFrame(rows, schema=POOLED_VERDICT_COLUMNS)


def _measure_row(j: Judgement, r: MeasureResult | None) -> dict[str, Any]:
    """A pooled verdict row of a measure claim (or of a claim no series measured: ``r`` None)."""
    c = j.claim
    return {
        "claim": c.name, "signal": c.signal, "side": str(c.side), "as stated": c.stated,
        "series": None if r is None else r.series, "events": j.n_events, "reversals": None,
        "rate": None, "rate_low": None, "rate_high": None, "measured": j.measured,
        "baseline": j.baseline, "p": _finite(j.p), "q": _finite(j.q),
        "deff": None if r is None else _finite(r.deff),
        "effective": None if r is None else _finite(r.effective_events), "needed": None,
        "years": 0.0 if r is None else r.years, "years_needed": None, "verdict": j.verdict.value,
    }  # fmt: skip


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


__all__ = ["YEAR_MS", "MeasureKey", "PooledResult", "SeriesPart", "judge_pooled", "judge_pooled_claims",
           "pool", "pooled_verdict_table", "series_part"]  # fmt: skip
