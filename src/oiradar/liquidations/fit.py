"""Fit the map's free parameters walk-forward on realized liquidations, and score it out of sample.

The free parameters (a :class:`Candidate`) are the leverage mix (the presets and the log-normal
family ``lognormal:MEDIAN:SPREAD`` of :func:`~oiradar.liquidations.levels.parse_mix`) and the
level turnover (:class:`~oiradar.liquidations.levels.Turnover`: the half-life of an entry, and
the churn, the share of the OI opened again each bar beside the net increase).

**Walk-forward.** The bars that hold realized records are cut into ``folds + 1`` consecutive
blocks. For fold ``j`` (1 .. ``folds``) every candidate tried is run on the bars **before** block
``j`` only (its inputs, price grid and tier reference price all come from them) and scored on
blocks ``0 .. j-1``; the best is then run up to the end of block ``j`` and scored on block ``j``.
Nothing of block ``j`` or later enters the choice, and no block is scored by parameters fitted on
it. The search is a coordinate ascent (the best mix for the current turnover, then the best
turnover for that mix, until neither changes), from the chosen mix without turnover.

**The score** is the one of :mod:`.score`: the share of realized notional the map puts in its top
quartile (of the bars of a block, by time; of the bins of the bar's range, by price). Ties share
the top quartile's places in proportion (the mean over random tie-breaks), so the fit is
deterministic. The no-OI baseline (adverse move by time, the bar's extremes by price) and chance
(``k / n``) are scored on the same blocks.

**Intervals**: one circular block bootstrap over the scored bars (blocks of 7 bars by time, of a
day by price), the same resamples for the fitted map, the unfitted map, the baseline and chance, so
that differences get intervals too: the map **beats** a reference when the 95 % interval of the
difference lies above 0, **loses** when it lies below, and **ties** otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numba as nb
import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.errors import InputError
from oiradar.liquidations.heatmap import MapSpec, without_heat
from oiradar.liquidations.levels import (
    PRESETS,
    LevelFactors,
    LevelInputs,
    LevelRun,
    LeverageMix,
    PriceGrid,
    Turnover,
    level_factors,
    level_inputs,
    parse_mix,
    run_levels,
)
from oiradar.liquidations.score import extremes_baseline
from oiradar.model import DAY_MS, Side
from oiradar.stats import Interval, block_bootstrap_starts, block_sums, percentile_interval

F8 = NDArray[np.float64]
I8 = NDArray[np.int64]

# ---------------------------------------------------------------- the candidates
FAMILY_MEDIANS = (3.0, 5.0, 10.0, 20.0, 35.0, 50.0, 100.0)
FAMILY_SPREADS = (0.3, 0.7, 1.2)  # standard deviation of log leverage
HALF_LIVES_DAYS = (math.inf, 30.0, 7.0, 2.0)
CHURN_PER_DAY = (0.0, 0.1, 0.3, 0.6, 0.9)


@dataclass(frozen=True)
class Candidate:
    """One setting of the map's free parameters."""

    mix: LeverageMix
    turnover: Turnover = field(default_factory=Turnover)

    @property
    def key(self) -> tuple[object, ...]:
        return (self.mix.leverage, self.mix.weight, self.turnover)


def mix_grid(chosen: LeverageMix) -> list[LeverageMix]:
    """The chosen mix, the presets, then the log-normal family."""
    out = [chosen, *(parse_mix(p) for p in PRESETS if p != chosen.name)]
    out += [parse_mix(f"lognormal:{m:g}:{s:g}") for m in FAMILY_MEDIANS for s in FAMILY_SPREADS]
    return out


def turnover_grid(bar_ms: int) -> list[Turnover]:
    """Half-lives and churns given per day (:data:`HALF_LIVES_DAYS`, :data:`CHURN_PER_DAY`),
    converted to bars of ``bar_ms``."""
    per_day = DAY_MS / bar_ms
    out = []
    for h in HALF_LIVES_DAYS:
        for c in CHURN_PER_DAY:
            churn = 1.0 - (1.0 - c) ** (1.0 / per_day)
            out.append(Turnover(half_life=h * per_day, churn=min(churn, 0.99)))
    return out


@dataclass(frozen=True)
class SearchSpace:
    """What the fit may choose from (tests pass smaller ones)."""

    mixes: Sequence[LeverageMix]
    turnovers: Sequence[Turnover]
    max_rounds: int = 4

    @classmethod
    def default(cls, chosen: LeverageMix, bar_ms: int) -> SearchSpace:
        return cls(mix_grid(chosen), turnover_grid(bar_ms))


# ---------------------------------------------------------------- expected top-quartile hits
def expected_top(x: F8) -> tuple[F8, float]:
    """Probability that each entry is among the ``k = max(1, round(n/4))`` largest when ties are
    broken at random (``(k - above) / tied``, clipped to [0, 1]), and ``k / n``."""
    n = len(x)
    if n == 0:
        return np.zeros(0), math.nan
    k = max(1, round(n / 4))
    _, inv, cnt = np.unique(-x, return_inverse=True, return_counts=True)
    above = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    p = np.clip((k - above) / cnt, 0.0, 1.0)
    return p[inv.ravel()], k / n


@nb.njit(cache=True)
def _bin_hits(heat_long, heat_short, row, side, lo_b, hi_b, pbin, k):  # pragma: no cover - numba
    """Per event: the probability that its bin is in the top ``k`` of ``heat[row, lo_b..hi_b]``."""
    out = np.empty(row.shape[0])
    for i in range(row.shape[0]):
        heat = heat_long if side[i] > 0 else heat_short
        m = heat[row[i], pbin[i]]
        above = 0
        tied = 0
        for b in range(lo_b[i], hi_b[i] + 1):
            v = heat[row[i], b]
            if v > m:
                above += 1
            elif v == m:
                tied += 1
        out[i] = min(1.0, max(0.0, (k[i] - above) / tied))
    return out


# ---------------------------------------------------------------- targets: what is scored
@dataclass(frozen=True)
class BarScores:
    """Per scored bar: realized notional ``w``, the part the map put in its top quartile ``hit``
    (expected), and the part chance would (``chance``)."""

    w: F8
    hit: F8
    chance: F8


class Target(Protocol):
    """What the map is scored on: :class:`TimeTarget` or :class:`PriceTarget`."""

    @property
    def method(self) -> str: ...
    @property
    def record(self) -> bool: ...  # the map's heatmap is needed
    @property
    def block_bars(self) -> int: ...  # bootstrap block

    def span(self) -> tuple[int, int]: ...
    def model(self, run: LevelRun, inp: LevelInputs, lo: int, hi: int) -> BarScores: ...
    def baseline(self, run: LevelRun, inp: LevelInputs, lo: int, hi: int) -> BarScores: ...


BY_TIME = "by time: share of realized notional on the map's top-quartile bars of each block"
BY_PRICE = "by price: share of realized notional in the map's top-quartile bins of the bar's range"


@dataclass(frozen=True)
class TimeTarget:
    """Records without a price: realized notional per bar and side (NaN: no record)."""

    realized: tuple[F8, F8]
    method: str = BY_TIME
    record: bool = False
    block_bars: int = 7

    def span(self) -> tuple[int, int]:
        ok = np.flatnonzero(np.isfinite(self.realized[0]) | np.isfinite(self.realized[1]))
        if ok.size == 0:
            raise InputError("no bar holds a realized liquidation value")
        return int(ok[0]), int(ok[-1]) + 1

    def model(self, run: LevelRun, inp: LevelInputs, lo: int, hi: int) -> BarScores:
        return self.scores((run.liq_long, run.liq_short), lo, hi)

    def baseline(self, run: LevelRun, inp: LevelInputs, lo: int, hi: int) -> BarScores:
        return self.scores(adverse_moves(inp), lo, hi)

    def scores(self, est: tuple[F8, F8], lo: int, hi: int) -> BarScores:
        """Each side's bars of ``[lo, hi)`` ranked by ``est`` among themselves."""
        w, hit, ch = (np.zeros(hi - lo) for _ in range(3))
        for e, r in zip(est, self.realized, strict=True):
            r, e = r[lo:hi], e[lo:hi]
            ok = np.isfinite(r) & np.isfinite(e)
            p, chance = expected_top(e[ok])
            w[ok] += r[ok]
            hit[ok] += r[ok] * p
            ch[ok] += r[ok] * chance
        return BarScores(w, hit, ch)


def adverse_moves(inp: LevelInputs) -> tuple[F8, F8]:
    """The no-OI baseline by time: how far price moved against each side in the bar, from its
    open (``(open - low) / open`` for longs, ``(high - open) / open`` for shorts)."""
    return (inp.open - inp.low) / inp.open, (inp.high - inp.open) / inp.open


@dataclass(frozen=True)
class PriceTarget:
    """Records with a price: each liquidation is ranked among the bins of its bar's range by the
    map after the previous bar (:func:`oiradar.liquidations.score.price_hits`)."""

    ts: I8
    side: NDArray[np.int8]
    price: F8
    qty: F8
    bar_ts: I8  # every bar's open time
    bar_ms: int
    method: str = BY_PRICE
    record: bool = True
    block_bars: int = 1
    bar: I8 = field(init=False)

    def __post_init__(self) -> None:
        u = np.searchsorted(self.bar_ts, self.ts, side="right") - 1
        inside = (u >= 0) & (self.ts < self.bar_ts[np.clip(u, 0, None)] + self.bar_ms)
        object.__setattr__(self, "bar", np.where(inside, u, -1))
        object.__setattr__(self, "block_bars", max(1, DAY_MS // self.bar_ms))

    @classmethod
    def of(cls, liqs: pl.DataFrame, bar_ts: I8, bar_ms: int) -> PriceTarget:
        sign = np.where(liqs["side"].to_numpy() == Side.LONG.value, 1, -1).astype(np.int8)
        return cls(liqs["ts"].to_numpy().astype(np.int64), sign,
                   liqs["price"].to_numpy().astype(np.float64),
                   liqs["quote_qty"].to_numpy().astype(np.float64), bar_ts, bar_ms)  # fmt: skip

    def span(self) -> tuple[int, int]:
        u = self.bar[self.bar >= 1]
        if u.size == 0:
            raise InputError("no realized liquidation falls inside the bars (after the first)")
        return int(u.min()), int(u.max()) + 1

    def model(self, run: LevelRun, inp: LevelInputs, lo: int, hi: int) -> BarScores:
        return self.scores(run, inp, lo, hi)

    def baseline(self, run: LevelRun, inp: LevelInputs, lo: int, hi: int) -> BarScores:
        return self.scores(extremes_baseline(run, inp.close), inp, lo, hi)

    def scores(self, run: LevelRun, inp: LevelInputs, lo: int, hi: int) -> BarScores:
        """Events of bars ``[lo, hi)`` (from bar 1) whose price lies on ``run``'s grid."""
        grid = run.grid
        pick = (self.bar >= max(lo, 1)) & (self.bar < hi) & (grid.bin_of(self.price) >= 0)
        u, price = self.bar[pick], self.price[pick]
        lo_b = grid.bin_of(np.minimum(inp.low[u], price))
        hi_b = grid.bin_of(np.maximum(inp.high[u], price))
        lo_b, hi_b = np.where(lo_b < 0, 0, lo_b), np.where(hi_b < 0, grid.n - 1, hi_b)
        n = hi_b - lo_b + 1
        k = np.maximum(1, np.round(n / 4)).astype(np.int64)
        p = _bin_hits(run.heat_long, run.heat_short, u - 1, self.side[pick], lo_b, hi_b,
                      grid.bin_of(price), k)  # fmt: skip
        q = self.qty[pick]
        w, hit, chance = (np.bincount(u - lo, x, hi - lo).astype(np.float64)
                          for x in (q, q * p, q * k / n))  # fmt: skip
        return BarScores(w, hit, chance)


def time_target(liqs: pl.DataFrame, ts: I8, bar_ms: int) -> TimeTarget:
    from oiradar.liquidations.mapview import realized_per_bar

    r = realized_per_bar(liqs, ts, bar_ms)
    return TimeTarget((r[Side.LONG], r[Side.SHORT]))


def target_for(liqs: pl.DataFrame, ts: I8, bar_ms: int) -> Target:
    """By price when some records have a price, else by time (as ``liqmap --score``)."""
    priced = liqs.filter(pl.col("price").is_not_null() & (pl.col("price") > 0))
    if priced.height:
        return PriceTarget.of(priced, ts, bar_ms)
    return time_target(liqs, ts, bar_ms)


# ---------------------------------------------------------------- running the model on a prefix
def head(inp: LevelInputs, n: int) -> LevelInputs:
    """The inputs of the first ``n`` bars (each bar's inputs come from that bar alone)."""
    return replace(inp, **{f: getattr(inp, f)[:n] for f in _INPUT_ARRAYS})


_INPUT_ARRAYS = ("ts", "open", "high", "low", "close", "vwap", "oi", "long_share",
                 "share_from_taker")  # fmt: skip


class PrefixModel:
    """Runs candidates over the first ``n`` bars only: the inputs, the price grid and the tier
    reference price come from those bars, so nothing after them can change a run."""

    def __init__(self, spec: MapSpec, inputs: LevelInputs, n: int) -> None:
        self.spec, self.inp = spec, head(inputs, n)
        self.grid = PriceGrid.around(self.inp.low, self.inp.high, spec.bins, spec.grid_pad)
        self.tiers = spec.tiers()
        self._factors: dict[tuple[tuple[float, ...], tuple[float, ...]], LevelFactors] = {}

    def run(self, cand: Candidate, record: bool) -> LevelRun:
        return run_levels(self.inp, self._factors_of(cand.mix), self.grid, record=record,
                          turnover=cand.turnover)  # fmt: skip

    def _factors_of(self, mix: LeverageMix) -> LevelFactors:
        key = (mix.leverage, mix.weight)
        if key not in self._factors:
            ref = float(np.nanmedian(self.inp.close)) if self.tiers.in_base else 1.0
            self._factors[key] = level_factors(
                mix, self.tiers, position_notional=self.spec.position_notional,
                inverse=self.spec.inverse, ref_price=ref,
            )  # fmt: skip
        return self._factors[key]


# ---------------------------------------------------------------- the fit
def block_score(target: Target, model: PrefixModel, cand: Candidate,
                blocks: Sequence[tuple[int, int]]) -> float:  # fmt: skip
    """The candidate's score over ``blocks`` (each ranked on its own), NaN without realized."""
    run = model.run(cand, target.record)
    parts = [target.model(run, model.inp, lo, hi) for lo, hi in blocks]
    w = sum(float(p.w.sum()) for p in parts)
    return sum(float(p.hit.sum()) for p in parts) / w if w > 0 else math.nan


@dataclass(frozen=True)
class Fit:
    best: Candidate
    score: float  # in sample, on the blocks fitted
    start_score: float  # the starting candidate's (the chosen mix, no turnover)
    tried: int


def fit(target: Target, model: PrefixModel, blocks: Sequence[tuple[int, int]],
        space: SearchSpace, start: Candidate) -> Fit:  # fmt: skip
    """Coordinate ascent from ``start``: the best mix of ``space`` for the current turnover, then
    the best turnover for that mix, until a round changes neither (ties keep the earlier one)."""
    cache: dict[tuple[object, ...], float] = {}

    def score(c: Candidate) -> float:
        if c.key not in cache:
            s = block_score(target, model, c, blocks)
            cache[c.key] = s if math.isfinite(s) else -math.inf
        return cache[c.key]

    best = start
    for _ in range(space.max_rounds):
        before = best
        best = max((Candidate(m, best.turnover) for m in space.mixes), key=score, default=best)
        best = max((Candidate(best.mix, t) for t in space.turnovers), key=score, default=best)
        if score(best) <= score(before):
            best = before
            break
    return Fit(best, score(best), score(start), len(cache))


# ---------------------------------------------------------------- walk-forward
def fold_edges(lo: int, hi: int, folds: int) -> list[int]:
    """``folds + 2`` bar indices cutting ``[lo, hi)`` into ``folds + 1`` consecutive blocks."""
    if folds < 1:
        raise InputError(f"--folds must be >= 1, got {folds}")
    edges = [round(float(x)) for x in np.linspace(lo, hi, folds + 2)]
    if min(np.diff(edges)) < 2:
        raise InputError(f"{hi - lo} bars with realized liquidations are too few for {folds} folds "
                         "(each block needs >= 2 bars): pass fewer --folds")  # fmt: skip
    return edges


VERDICTS = ("beats", "ties", "loses")


def verdict(diff: Interval) -> str:
    """``beats`` when the interval of (map - reference) lies above 0, ``loses`` below, else
    ``ties``; ``n/a`` without an interval."""
    if not (math.isfinite(diff.low) and math.isfinite(diff.high)):
        return "n/a"
    return "beats" if diff.low > 0 else "loses" if diff.high < 0 else "ties"


@dataclass(frozen=True)
class WalkForward:
    """Out-of-sample scores of the fitted map beside the unfitted one, the no-OI baseline and
    chance, on the same scored bars; intervals from the same bootstrap resamples."""

    method: str
    folds: pl.DataFrame  # one row per fold: what was fitted on what, and its scores
    scores: dict[str, Interval]  # map, unfitted, baseline, chance
    vs_baseline: Interval  # map - baseline
    vs_chance: Interval  # map - chance
    scored_bars: int  # bars of the scored blocks
    realized_bars: int  # of them, bars with realized notional
    realized_usd: float

    @property
    def verdict_baseline(self) -> str:
        return verdict(self.vs_baseline)

    @property
    def verdict_chance(self) -> str:
        return verdict(self.vs_chance)


def walk_forward(
    bars: pl.DataFrame, liqs: pl.DataFrame, spec: MapSpec, bar_ms: int, *, folds: int = 5,
    space: SearchSpace | None = None, n_boot: int = 1000, seed: int = 0,
) -> WalkForward:  # fmt: skip
    """Fit walk-forward and score out of sample (see the module docstring). ``liqs``: realized
    records (ts, side, quote_qty, price or null), scored by price when some have one."""
    inputs = level_inputs(bars, spec.colour_long_share)
    target = target_for(liqs, inputs.ts, bar_ms)
    return walk_forward_on(target, inputs, spec, bar_ms, folds=folds, space=space,
                           n_boot=n_boot, seed=seed)  # fmt: skip


def walk_forward_on(
    target: Target, inputs: LevelInputs, spec: MapSpec, bar_ms: int, *, folds: int = 5,
    space: SearchSpace | None = None, n_boot: int = 1000, seed: int = 0,
) -> WalkForward:  # fmt: skip
    space = space or SearchSpace.default(spec.mix, bar_ms)
    start = Candidate(spec.mix, spec.turnover)
    edges = fold_edges(*target.span(), folds)
    rows, parts = [], []
    for j in range(1, folds + 1):
        f = fit(target, PrefixModel(spec, inputs, edges[j]), _blocks(edges, j), space, start)
        lo, hi = edges[j], edges[j + 1]
        test = PrefixModel(spec, inputs, hi)
        run = test.run(f.best, target.record)
        fitted = target.model(run, test.inp, lo, hi)
        run = without_heat(run)  # one heatmap alive at a time: the baseline's, then the start's
        base = target.baseline(run, test.inp, lo, hi)
        got = (fitted, target.model(test.run(start, target.record), test.inp, lo, hi), base)
        parts.append(got)
        rows.append(_fold_row(j, edges, inputs.ts, f, got, bar_ms))
    return _summarize(target, parts, pl.DataFrame(rows), n_boot, seed)


def _blocks(edges: list[int], j: int) -> list[tuple[int, int]]:
    return [(edges[i], edges[i + 1]) for i in range(j)]


def _fold_row(j: int, edges: list[int], ts: I8, f: Fit, got: tuple[BarScores, ...],
              bar_ms: int) -> dict[str, object]:  # fmt: skip
    m, d, b = got
    w = float(m.w.sum())

    def share(x: BarScores) -> float:
        return float(x.hit.sum()) / w if w > 0 else math.nan

    t = f.best.turnover
    return {
        "fold": j, "fit_from": int(ts[edges[0]]), "fit_to": int(ts[edges[j]]),
        "test_from": int(ts[edges[j]]), "test_to": int(ts[edges[j + 1] - 1]) + bar_ms,
        "mix": f.best.mix.name, "half_life_bars": t.half_life, "churn": t.churn,
        "fit_score": f.score, "fit_unfitted": f.start_score, "tried": f.tried,
        "realized_usd": w, "map": share(m), "unfitted": share(d), "baseline": share(b),
        "chance": float(m.chance.sum()) / w if w > 0 else math.nan,
    }  # fmt: skip


def _summarize(target: Target, parts: Sequence[tuple[BarScores, ...]], folds: pl.DataFrame,
               n_boot: int, seed: int) -> WalkForward:  # fmt: skip
    m, d, b = (
        BarScores(
            *(np.concatenate([getattr(p[i], f) for p in parts]) for f in ("w", "hit", "chance"))
        )
        for i in range(3)
    )
    x = np.column_stack([m.w, m.hit, d.hit, b.hit, m.chance])
    tot = x.sum(0)
    reps = _boot_totals(x, target.block_bars, n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = reps[:, 1:] / reps[:, :1]
    est = tot[1:] / tot[0] if tot[0] > 0 else np.full(4, math.nan)
    scores = {name: percentile_interval(float(est[i]), share[:, i])
              for i, name in enumerate(("map", "unfitted", "baseline", "chance"))}  # fmt: skip
    vs_b = percentile_interval(float(est[0] - est[2]), share[:, 0] - share[:, 2])
    vs_c = percentile_interval(float(est[0] - est[3]), share[:, 0] - share[:, 3])
    return WalkForward(target.method, folds, scores, vs_b, vs_c, len(m.w),
                       int(np.count_nonzero(m.w)), float(tot[0]))  # fmt: skip


def _boot_totals(x: F8, block: int, reps: int, seed: int) -> F8:
    """Column totals of ``reps`` circular block-bootstrap resamples of the rows of ``x`` (each
    resample as long as ``x``: its last block cut short)."""
    n = x.shape[0]
    if reps <= 0 or n == 0:
        return np.zeros((0, x.shape[1]))
    block = max(1, min(block, n))
    starts = block_bootstrap_starts(n, block, reps, np.random.default_rng(seed))
    last = n - (starts.shape[1] - 1) * block
    full, cut = block_sums(x, block), block_sums(x, last)
    return full[starts[:, :-1]].sum(1) + cut[starts[:, -1]]
