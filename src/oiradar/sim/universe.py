"""A simulated universe: N perpetuals that move together, with their ground truth.

Each symbol is one run of the single-market simulator (:func:`oiradar.sim.simulate`) with an
:class:`~oiradar.sim.simulate.Overlay`:

- **a market factor**: one random walk shared by every symbol, scaled by the symbol's ``beta``,
  plus the symbol's own noise, sized so that the bar returns of any two symbols correlate at
  ``correlation`` (the organic moves of the order flow count as the symbol's own; their size is
  measured once per universe by a short pilot run of the preset without factor);
- **its own market**: price level, leverage mix and regimes of its own (the preset's, drawn per
  symbol);
- **market-wide crashes**: about one every ``crash_every_days``, at the same minute for every
  symbol it hits (each with probability ``crash_share``): a forced ``cascade`` regime, so OI
  flushes and the levered longs are liquidated as in any cascade;
- **a planted edge** (optional): after each ``divergence`` event the study will count, a reversal
  with probability ``edge`` (:mod:`oiradar.sim.plant`); ``edge_share`` of the symbols get
  ``edge``, the others 0.5 (no edge).

Symbol ``i`` depends on the universe's seed and ``i`` only: the first five symbols of a universe of
ten are those of a universe of five. :func:`universe_markets` yields one market at a time
(``workers`` of them in flight), so a universe of any size is written in the memory of a few.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.model import HOUR_MS, MINUTE_MS, Timeframe
from oiradar.sim.params import SimParams, resolve_params
from oiradar.sim.plant import PlantSpec
from oiradar.sim.simulate import DEFAULT_START_MS, Overlay, SimResult, simulate

Progress = Callable[[int, int], None]  # (steps done, steps total) over every symbol
MAX_SYMBOLS = 999  # names U001 .. U999
PILOT_DAYS = 30
NULL_RATE = 0.5
_FACTOR, _CRASH, _PILOT = 1, 2, 3  # seed-sequence tags of the universe's own draws


@dataclass(frozen=True, kw_only=True)
class UniverseSpec:
    """A universe of ``symbols`` simulated perpetuals (see the module docstring)."""

    symbols: int
    days: int = 90
    seed: int = 1
    timeframe: Timeframe = Timeframe.M5
    start: int = DEFAULT_START_MS
    preset: str = "ksm"
    correlation: float = 0.5  # of any two symbols' bar returns
    beta: tuple[float, float] = (0.7, 1.3)  # each symbol's factor loading, drawn uniformly
    edge: float | None = None  # reversal rate planted after divergence; None: nothing planted
    edge_share: float = 1.0  # share of the symbols planted at ``edge``; the others at 0.5
    edge_timeframe: Timeframe | None = None  # the bars the study reads (default: ``timeframe``)
    crash_every_days: float = 30.0  # 0: no crash
    crash_share: float = 0.8  # chance that a crash hits a symbol
    positions: bool = False  # keep every position in the ground truth (large)

    def __post_init__(self) -> None:
        _check(1 <= self.symbols <= MAX_SYMBOLS, "symbols", self.symbols,
               f"a universe holds 1 to {MAX_SYMBOLS} symbols")  # fmt: skip
        _check(self.days >= 1, "days", self.days, "days must be >= 1")
        _check(self.seed >= 0, "seed", self.seed, "seed must be >= 0")
        _check(0.0 <= self.correlation <= 0.95, "correlation", self.correlation,
               "correlation must be in [0, 0.95]")  # fmt: skip
        lo, hi = self.beta
        _check(0.0 < lo <= hi, "beta", self.beta, "beta must be (low, high) with 0 < low <= high")
        if self.edge is not None:
            _check(0.0 <= self.edge <= 1.0, "edge", self.edge, "edge must be a rate in [0, 1]")
        _check(0.0 <= self.edge_share <= 1.0, "edge_share", self.edge_share,
               "edge_share must be in [0, 1]")  # fmt: skip
        _check(self.crash_every_days >= 0, "crash_every_days", self.crash_every_days,
               "crash_every_days must be >= 0 (0: no crash)")  # fmt: skip
        _check(0.0 <= self.crash_share <= 1.0, "crash_share", self.crash_share,
               "crash_share must be in [0, 1]")  # fmt: skip

    @property
    def names(self) -> list[str]:
        return [symbol_name(i) for i in range(self.symbols)]


def _check(ok: bool, name: str, value: object, message: str) -> None:
    if not ok:
        raise InputError(f"universe {name}: {message}, got {value!r}")


def symbol_name(i: int) -> str:
    """The ``i``-th symbol (from 0): ``U001/USDT:USDT``."""
    return f"U{i + 1:03d}/USDT:USDT"


@dataclass(frozen=True)
class Crash:
    ts: int  # epoch ms of its first minute
    hours: int


@dataclass(frozen=True, kw_only=True)
class Market:
    """One symbol of the universe, simulated (not yet written)."""

    index: int
    symbol: str
    result: SimResult
    beta: float
    edge: float | None
    crashes_hit: tuple[int, ...]  # epoch ms of the crashes that hit it


@dataclass(frozen=True, kw_only=True)
class Shared:
    """What every symbol shares: the factor path, the crashes, the scale of the moves."""

    factor: np.ndarray  # cumulative log factor after each one-minute step (warm-up included)
    crashes: tuple[Crash, ...]
    factor_sd: float  # per bar, for beta 1
    organic_sd: float  # of the preset's own bar returns (the pilot run)
    warm_steps: int


def crashes(spec: UniverseSpec) -> tuple[Crash, ...]:
    """About one crash every ``crash_every_days`` (at least one when on), at whole hours, spread
    over the period (the first and last day left out when there is room)."""
    if spec.crash_every_days <= 0:
        return ()
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, _CRASH]))
    n = max(1, round(spec.days / spec.crash_every_days))
    margin = 24 if spec.days >= 3 else 0
    hours = max(1, spec.days * 24 - 2 * margin - 6)
    first = np.sort(rng.choice(hours, size=min(n, hours), replace=False))
    return tuple(
        Crash(ts=spec.start + (margin + int(h)) * HOUR_MS, hours=int(rng.integers(1, 5)))
        for h in first
    )


def shared(spec: UniverseSpec, base: SimParams | None = None) -> Shared:
    """The factor path, the crashes and the scale of the moves (the pilot run included)."""
    base = base or resolve_params(spec.preset)
    warm = base.warmup_days * 1440
    organic = _organic_sd(spec, base)
    rho, lo = spec.correlation, spec.beta[0]
    factor_sd = 0.0 if rho == 0 else organic * math.sqrt(rho / (1.0 - rho)) / lo
    spb = spec.timeframe.ms // MINUTE_MS
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, _FACTOR]))
    steps = rng.standard_normal(warm + spec.days * 1440) * (factor_sd / math.sqrt(spb))
    return Shared(factor=np.cumsum(steps), crashes=crashes(spec), factor_sd=factor_sd,
                  organic_sd=organic, warm_steps=warm)  # fmt: skip


def _organic_sd(spec: UniverseSpec, base: SimParams) -> float:
    """The standard deviation of the preset's own log bar returns, from a pilot run."""
    seed = int(np.random.SeedSequence([spec.seed, _PILOT]).generate_state(1)[0])
    pilot = simulate(spec.preset, days=PILOT_DAYS, seed=seed, timeframe=spec.timeframe,
                     start=spec.start, overlay=Overlay(positions=False))  # fmt: skip
    close = pilot.bars["close"].to_numpy()
    return float(np.std(np.diff(np.log(close)), ddof=1))


def market(spec: UniverseSpec, i: int, common: Shared, settings: Settings | None = None,
           progress: Progress | None = None) -> Market:  # fmt: skip
    """Simulate symbol ``i`` (from 0) of the universe."""
    ss = np.random.SeedSequence([spec.seed, 100 + i])
    rng = np.random.default_rng(ss)
    base = resolve_params(spec.preset)
    beta = float(rng.uniform(*spec.beta))
    price0 = float(base.price0 * math.exp(rng.uniform(-math.log(5), math.log(5))))
    weights = rng.dirichlet(20.0 * np.asarray(base.leverage_weights))
    hit = [c for c in common.crashes if rng.random() < spec.crash_share]
    edge = spec.edge
    if edge is not None and rng.random() >= spec.edge_share:
        edge = NULL_RATE
    symbol = symbol_name(i)
    total = common.factor.shape[0]
    own = _own_sd(spec, common, beta)
    noise = rng.standard_normal(total) * (own / math.sqrt(spec.timeframe.ms // MINUTE_MS))
    exo = beta * np.diff(common.factor, prepend=0.0) + noise
    del noise
    plant = None
    if edge is not None:
        tf = spec.edge_timeframe or spec.timeframe
        plant = PlantSpec.from_settings(edge, tf, (settings or Settings()).for_symbol(symbol))
    meta = _meta(spec, common, i, beta, own, edge, plant, hit)
    ov = Overlay(exo=exo, crashes=tuple((c.ts, c.hours) for c in hit), plant=plant, meta=meta,
                 positions=spec.positions)  # fmt: skip
    seed = int(ss.generate_state(1)[0])
    res = simulate(spec.preset, days=spec.days, seed=seed, timeframe=spec.timeframe,
                   start=spec.start, progress=progress, overlay=ov, symbol=symbol, price0=price0,
                   leverage_weights=tuple(float(w) for w in weights / weights.sum()))  # fmt: skip
    res = replace(res, extra={**res.extra, "market": _market_frame(res, common, spec)})
    return Market(index=i, symbol=symbol, result=res, beta=beta, edge=edge,
                  crashes_hit=tuple(c.ts for c in hit))  # fmt: skip


def _own_sd(spec: UniverseSpec, common: Shared, beta: float) -> float:
    """The symbol's own noise per bar: what, with the organic moves, makes its correlation with
    the factor sqrt(correlation), so that any two symbols correlate at ``correlation``."""
    rho = spec.correlation
    if rho == 0:
        return 0.0
    need = (beta * common.factor_sd) ** 2 * (1.0 - rho) / rho - common.organic_sd**2
    return math.sqrt(max(0.0, need))


def universe_signature(spec: UniverseSpec) -> dict[str, Any]:
    """What makes a universe itself (not its size): stored with each symbol, as JSON reads back."""
    sig = {
        "seed": spec.seed, "days": spec.days, "timeframe": spec.timeframe.value,
        "start": spec.start, "preset": spec.preset, "correlation": spec.correlation,
        "beta": list(spec.beta), "edge": spec.edge, "edge_share": spec.edge_share,
        "edge_timeframe": None if spec.edge_timeframe is None else spec.edge_timeframe.value,
        "crash_every_days": spec.crash_every_days, "crash_share": spec.crash_share,
        "positions": spec.positions,
    }  # fmt: skip
    return sig


def _meta(spec: UniverseSpec, common: Shared, i: int, beta: float, own: float,
          edge: float | None, plant: PlantSpec | None, hit: list[Crash]) -> dict[str, Any]:  # fmt: skip
    return {
        "universe": {
            "spec": universe_signature(spec),
            "seed": spec.seed, "index": i, "correlation": spec.correlation, "beta": beta,
            "factor_sd": common.factor_sd, "own_sd": own, "organic_sd": common.organic_sd,
            "edge": edge, "plant": None if plant is None else plant.to_dict(),
            "crashes": [{"ts": c.ts, "hours": c.hours, "hit": c in hit} for c in common.crashes],
        }
    }  # fmt: skip


def _market_frame(res: SimResult, common: Shared, spec: UniverseSpec) -> pl.DataFrame:
    """Per bar, at its close: the market factor (cumulative log, beta 1) beside this symbol's
    outside moves (``outside``: beta x factor, its own noise and the planted pushes)."""
    spb = spec.timeframe.ms // MINUTE_MS
    last = common.warm_steps + (np.arange(res.bars.height, dtype=np.int64) + 1) * spb - 1
    return res.extra["market"].with_columns(pl.Series("factor", common.factor[last]))


def universe_markets(
    spec: UniverseSpec,
    settings: Settings | None = None,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> Iterator[Market]:
    """Each symbol's market in order, simulated ``workers`` at a time (the kernel releases the
    GIL); at most ``workers`` markets are held before the caller takes them."""
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}", column="workers", value=workers)
    common = shared(spec)
    tally = _Tally(spec.symbols, spec.days * 1440, progress)
    if workers == 1:
        for i in range(spec.symbols):
            yield market(spec, i, common, settings, tally.for_symbol(i))
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="universe") as pool:
        pending: deque[Future[Market]] = deque()
        for i in range(spec.symbols):
            pending.append(pool.submit(market, spec, i, common, settings, tally.for_symbol(i)))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class _Tally:
    """Every symbol's steps summed into one (done, total) for one progress bar."""

    def __init__(self, symbols: int, steps: int, progress: Progress | None) -> None:
        self.done = [0] * symbols
        self.total = symbols * steps
        self.progress = progress
        self.lock = threading.Lock()

    def for_symbol(self, i: int) -> Progress | None:
        if self.progress is None:
            return None

        def tick(done: int, _total: int) -> None:
            with self.lock:
                self.done[i] = done
                assert self.progress is not None
                self.progress(sum(self.done), self.total)

        return tick


__all__ = [
    "MAX_SYMBOLS",
    "Crash",
    "Market",
    "Shared",
    "UniverseSpec",
    "crashes",
    "market",
    "shared",
    "symbol_name",
    "universe_markets",
    "universe_signature",
]
