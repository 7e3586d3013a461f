"""``simulate`` (a market, or a universe of them, into the catalog) and ``demo`` (a guided first run
on a simulated market).

The demo runs in steps: the market (simulated, written, summarised), then what each later stage of
the pipeline makes of it: the framework's signals, the claims of docs/evidence.md judged, the estimated
liquidation map. ``on_step`` hears each step as it completes, so a front end shows the market
while the rest computes. A failing later step is noted and skipped, never fatal.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from oiradar.app.liqmap import closed_bars
from oiradar.app.session import Session
from oiradar.config import Settings, SimSettings
from oiradar.errors import OiradarError, StoreError
from oiradar.evidence import all_claims, judge_claims, prepare, study_config, verdict_table
from oiradar.liquidations import MapSpec, Snapshot, snapshot
from oiradar.model import SeriesKey, Side, Timeframe
from oiradar.signals import scan, with_liquidations
from oiradar.sim import SimResult, SimWrite, simulate
from oiradar.sim.simulate import DEFAULT_START_MS
from oiradar.sim.universe import MAX_SYMBOLS as MAX_UNIVERSE
from oiradar.sim.universe import Market, UniverseSpec, universe_markets, universe_signature
from oiradar.sim.universe import crashes as universe_crashes
from oiradar.store import Catalog, clear_ground_truth, ground_truth_dir, read_ground_truth_params
from oiradar.store.ledger import clear_live

Progress = Callable[[int, int], None]  # (steps done, steps total) of the simulator
DEMO_SYMBOL = "KSM/USDT:USDT"
DEMO_EXCHANGE = "sim"
DEMO_MOVES = (-0.10, -0.05, 0.05, 0.10)


@dataclass(frozen=True)
class SimOptions:
    preset: str | None = None  # ksm, planted, null or btc (default: [sim] preset)
    days: int | None = None
    seed: int | None = None
    exchange: str = "sim"
    symbol: str | None = None  # default: the preset's symbol
    timeframe: Timeframe = Timeframe.M5
    start: int | None = None  # epoch ms of the first bar (default: the simulator's)
    replace: bool = False  # overwrite a different simulation stored there

    def resolved(self, cfg: SimSettings) -> SimOptions:
        """These options with the ``[sim]`` settings filling what they leave out."""
        return replace(self, preset=self.preset or cfg.preset, days=self.days or cfg.days,
                       seed=cfg.seed if self.seed is None else self.seed)  # fmt: skip


@dataclass(frozen=True)
class SimReport:
    key: SeriesKey
    result: SimResult
    written: SimWrite
    seconds: float  # the simulation alone
    ground_truth: Path


def simulate_market(
    session: Session, opts: SimOptions, progress: Progress | None = None
) -> SimReport:
    """Simulate (settings fill what ``opts`` leaves out) and write the market into the catalog."""
    opts = opts.resolved(session.settings.sim)
    start = DEFAULT_START_MS if opts.start is None else opts.start
    t0 = time.perf_counter()
    assert opts.preset is not None and opts.days is not None and opts.seed is not None
    res = simulate(opts.preset, days=opts.days, seed=opts.seed, timeframe=opts.timeframe,
                   start=start, progress=progress)  # fmt: skip
    seconds = time.perf_counter() - t0
    catalog = session.catalog
    with catalog.lock():  # the check, the clear and the writes: one step for other writers
        written = res.write(catalog, opts.exchange, opts.symbol, replace=opts.replace)
    key = res.key(opts.exchange, opts.symbol)
    return SimReport(key, res, written, seconds, ground_truth_dir(catalog, key.exchange, key.symbol))


@dataclass(frozen=True)
class UniverseOptions:
    """``simulate --universe N``: N correlated markets (:mod:`oiradar.sim.universe`)."""

    symbols: int
    days: int | None = None  # default: [sim] days
    seed: int | None = None  # default: [sim] seed
    preset: str | None = None  # each symbol's base market (default: [sim] preset)
    timeframe: Timeframe = Timeframe.M5
    start: int | None = None
    edge: float | None = None  # reversal rate planted after divergence (None: nothing planted)
    edge_share: float = 1.0
    correlation: float = 0.5
    exchange: str = "sim"
    replace: bool = False
    workers: int | None = None  # markets simulated at once (default: up to 4, one per core)
    positions: bool = False

    def spec(self, cfg: SimSettings) -> UniverseSpec:
        """The universe, with the ``[sim]`` settings filling what these options leave out."""
        return UniverseSpec(
            symbols=self.symbols, days=self.days or cfg.days,
            seed=cfg.seed if self.seed is None else self.seed, timeframe=self.timeframe,
            start=DEFAULT_START_MS if self.start is None else self.start,
            preset=self.preset or cfg.preset, correlation=self.correlation, edge=self.edge,
            edge_share=self.edge_share, positions=self.positions,
        )  # fmt: skip


@dataclass(frozen=True)
class UniverseReport:
    spec: UniverseSpec
    exchange: str
    # symbol beta edge bars liquidations events reversals crashes added changed
    symbols: pl.DataFrame
    crashes: pl.DataFrame  # ts hours symbols (how many it hit)
    seconds: float  # simulation and writes
    ground_truth: Path  # <home>/sim/<exchange>


def simulate_universe(
    session: Session, opts: UniverseOptions, progress: Progress | None = None
) -> UniverseReport:
    """Simulate a universe and write it market by market (each written, then dropped), so that its
    size is bounded by the disk, not the memory. A different simulation already stored under one
    of its symbols is refused before anything runs, unless ``replace``."""
    spec = check_universe(session, opts)
    catalog = session.catalog
    workers = opts.workers or max(1, min(4, os.cpu_count() or 1))
    t0 = time.perf_counter()
    rows = []
    hits: Counter[int] = Counter()
    for m in universe_markets(spec, session.settings, workers=workers, progress=progress):
        with catalog.lock():
            written = m.result.write(catalog, opts.exchange, m.symbol, replace=opts.replace)
        rows.append(_universe_row(m, written))
        hits.update(m.crashes_hit)
    crashes = pl.DataFrame(
        [{"ts": c.ts, "hours": c.hours, "symbols": hits[c.ts]} for c in universe_crashes(spec)],
        schema={"ts": pl.Int64, "hours": pl.Int64, "symbols": pl.Int64},
    )  # fmt: skip
    folder = ground_truth_dir(catalog, opts.exchange, spec.names[0]).parent
    return UniverseReport(spec, opts.exchange, pl.DataFrame(rows), crashes,
                          time.perf_counter() - t0, folder)  # fmt: skip


def check_universe(session: Session, opts: UniverseOptions) -> UniverseSpec:
    """The universe of ``opts``, checked before anything runs: its values, and (unless
    ``replace``) that none of its symbols holds another simulation."""
    spec = opts.spec(session.settings.sim)
    if opts.replace:
        return spec
    want = universe_signature(spec)
    for symbol in spec.names:
        stored = read_ground_truth_params(session.catalog, opts.exchange, symbol)
        if stored is None:
            continue
        held = (stored.get("universe") or {}).get("spec")
        if held != want:
            what = "a single market" if held is None else "another universe (" + ", ".join(
                f"{k} {_text(held.get(k))}, not {_text(v)}" for k, v in want.items()
                if held.get(k) != v) + ")"  # fmt: skip
            raise StoreError(
                f"{opts.exchange} {symbol} already holds {what}; pass --replace to overwrite "
                "it, or --exchange NAME"
            )
    return spec


def _text(v: object) -> str:
    return "none" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _universe_row(m: Market, written: SimWrite) -> dict[str, object]:
    res = m.result
    planted = res.extra.get("planted")
    return {
        "symbol": m.symbol, "beta": m.beta, "edge": m.edge, "bars": res.bars.height,
        "liquidations": res.liquidations.height,
        "events": 0 if planted is None else int(planted["outcome"].is_not_null().sum()),
        "reversals": 0 if planted is None else int((planted["outcome"] == "reversal").sum()),
        "crashes": len(m.crashes_hit), "added": written.bars.rows_added,
        "changed": written.bars.rows_changed,
    }  # fmt: skip


@dataclass(frozen=True)
class MarketSummary:
    """Figures read back from the catalog (what a user would see), plus regime counts."""

    coverage: dict[str, object]  # the series' row of ``oiradar list`` (empty if absent)
    price: tuple[float, float, float]  # low, high, last close
    oi: tuple[float, float]  # base units
    oi_value: tuple[float, float]  # USD
    volume_per_day: float  # quote volume
    liquidations: dict[str, tuple[int, float]]  # side -> (events, notional)
    funding: tuple[float, float, float, int]  # min, max, mean, settlements
    regimes: dict[str, tuple[int, int]]  # regime -> (bars, episodes)
    positions: int


def summarise(catalog: Catalog, key: SeriesKey, result: SimResult) -> MarketSummary:
    cov = catalog.coverage().filter(
        (pl.col("exchange") == key.exchange) & (pl.col("symbol") == key.symbol)
        & (pl.col("timeframe") == key.timeframe.value)
    )  # fmt: skip
    bars = catalog.read_stored(key)
    liq = catalog.read_liquidations(key.exchange, key.symbol)
    fund = bars["funding_rate"].drop_nulls()
    return MarketSummary(
        coverage=cov.row(0, named=True) if cov.height else {},
        price=(bars["low"].min(), bars["high"].max(), bars["close"][-1]),  # type: ignore[arg-type]
        oi=(bars["oi"].min(), bars["oi"].max()),  # type: ignore[arg-type]
        oi_value=(bars["oi_value"].min(), bars["oi_value"].max()),  # type: ignore[arg-type]
        volume_per_day=float(bars["quote_volume"].sum()) / max(1, result.params["days"]),
        liquidations={side.value: _liquidated(liq, side) for side in (Side.LONG, Side.SHORT)},
        funding=(fund.min(), fund.max(), fund.mean(), fund.len()),  # type: ignore[arg-type]
        regimes=_regime_counts(result.regimes),
        positions=result.positions.height,
    )


def _liquidated(liq: pl.DataFrame, side: Side) -> tuple[int, float]:
    part = liq.filter(pl.col("side") == side.value)
    return part.height, float(part["quote_qty"].sum())


def _regime_counts(regimes: pl.DataFrame) -> dict[str, tuple[int, int]]:
    counts = (
        regimes.with_columns(
            pl.col("regime").ne(pl.col("regime").shift(1)).fill_null(True).alias("starts")
        )
        .group_by("regime")
        .agg(pl.len().alias("bars"), pl.col("starts").sum().alias("episodes"))
    )
    return {r["regime"]: (r["bars"], r["episodes"]) for r in counts.iter_rows(named=True)}


@dataclass
class DemoReport:
    """What the demo did; filled step by step (``on_step`` sees it after each)."""

    home: Path
    key: SeriesKey  # the stored 5m series
    summary: MarketSummary
    seconds: float  # simulation, write and summary
    ground_truth: Path
    signals: pl.DataFrame | None = None  # signal, side, events, last (epoch ms), at 4h
    claims: pl.DataFrame | None = None  # the claims judged, at 4h
    cascade: Snapshot | None = None  # the estimated map at 1h
    skipped: list[str] = field(default_factory=list)  # "(signal step skipped: ...)"


OnStep = Callable[[str, DemoReport], None]


def run_demo(
    session: Session, *, days: int = 180, seed: int = 7, fresh: bool = False,
    progress: Progress | None = None, on_step: OnStep | None = None,
) -> DemoReport:  # fmt: skip
    """Simulate a KSM-like market into the catalog, then run each later step on it.

    ``fresh``: empty the catalog and the ground truth first. The wipe and the write hold the
    catalog's write lock together, so another writer's data lands wholly before the wipe (and is
    wiped) or wholly after it (and is kept), never in between.
    """
    step = on_step or (lambda _name, _report: None)
    report = _market(session.catalog, days, seed, fresh, progress)
    step("market", report)
    for name, fn in DEMO_STEPS:
        try:
            fn(report, session.catalog)
        except OiradarError as exc:
            report.skipped.append(f"({name} step skipped: {exc})")
        step(name, report)
    return report


def _market(catalog: Catalog, days: int, seed: int, fresh: bool, progress: Progress | None) -> DemoReport:
    t0 = time.perf_counter()
    result = simulate("ksm", days=days, seed=seed, progress=progress)
    key = result.key(DEMO_EXCHANGE, DEMO_SYMBOL)
    with catalog.lock():
        if fresh:
            catalog.reset()
            clear_ground_truth(catalog)
            clear_live(catalog.home)  # the ledger's cursors and clock belong to the old catalog
        result.write(catalog, DEMO_EXCHANGE, DEMO_SYMBOL, replace=True)
    summary = summarise(catalog, key, result)
    return DemoReport(home=catalog.home, key=key, summary=summary,
                      seconds=time.perf_counter() - t0,
                      ground_truth=ground_truth_dir(catalog, key.exchange, key.symbol))  # fmt: skip


def _signals(report: DemoReport, catalog: Catalog) -> None:
    """The framework's signals on the demo market (4h), default settings."""
    key = report.key.with_timeframe(Timeframe.H4)
    events = scan(catalog, Settings(), key.timeframe, [key.exchange], [key.symbol]).events
    report.signals = (
        events.group_by("signal", "side")
        .agg(pl.len().alias("events"), pl.col("ts").max().alias("last"))
        .sort("signal", "side")
    )


def _claims(report: DemoReport, catalog: Catalog) -> None:
    """The claims (docs/evidence.md) judged on the demo market (4h)."""
    key = report.key.with_timeframe(Timeframe.H4)
    settings = Settings()
    bars = with_liquidations(catalog, key, catalog.read_bars(key))  # as `oiradar study` does
    prep = prepare(bars, key, settings)
    cfg = study_config(settings, reps=500)
    _, judged = judge_claims(prep, all_claims(settings), cfg)
    report.claims = verdict_table(judged).drop("claim")


def _cascade(report: DemoReport, catalog: Catalog) -> None:
    """The estimated map's cascade on the demo market (1h), default settings."""
    key = report.key.with_timeframe(Timeframe.H1)
    bars = closed_bars(catalog.read_bars(key), key.timeframe.ms)
    spec = MapSpec.from_settings(Settings().liquidations, key.exchange, key.symbol)
    report.cascade = snapshot(bars, spec, moves=DEMO_MOVES)


DEMO_STEPS: tuple[tuple[str, Callable[[DemoReport, Catalog], None]], ...] = (
    ("signal", _signals),
    ("evidence", _claims),
    ("liquidation-map", _cascade),
)


__all__ = [
    "DEMO_EXCHANGE",
    "DEMO_SYMBOL",
    "MAX_UNIVERSE",
    "DemoReport",
    "MarketSummary",
    "SimOptions",
    "SimReport",
    "UniverseOptions",
    "UniverseReport",
    "check_universe",
    "run_demo",
    "simulate_market",
    "simulate_universe",
    "summarise",
]
