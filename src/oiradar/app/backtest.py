"""``backtest`` (the trade model of docs/evidence.md on one series) and ``sweep`` (a parameter grid with
walk-forward splits and a final hold-out, on every selected series)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from oiradar.app.availability import with_input_notes
from oiradar.app.batches import BatchOptions, Indexed, Tried, plan_batches, run_batches, try_each
from oiradar.app.series import (
    AS_STORED,
    Market,
    SeriesOptions,
    Skipped,
    each_series,
    load_series,
    studied_keys,
    summary_notes,
)
from oiradar.app.session import Session
from oiradar.app.values import finite_or_none
from oiradar.backtest import (
    BacktestInputs,
    SweepResult,
    SweepSpec,
    TradeParams,
    inputs_from_features,
    load_grid,
    run_backtest,
    run_sweep,
    trade_params,
)
from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.evidence import prepare, signal_mask
from oiradar.liquidations.tiers import load_tiers
from oiradar.model import SeriesKey, Side, Timeframe
from oiradar.stats import benjamini_hochberg


@dataclass(frozen=True)
class BacktestOptions:
    timeframe: Timeframe = Timeframe.H4
    exchange: str | None = None
    symbol: str | None = None
    signal: str = "entry"  # the entry signal
    side: Side = Side.SHORT
    params: Mapping[str, Any] = field(default_factory=dict)  # TradeParams fields to override
    series: SeriesOptions = AS_STORED  # --prices, --from-timeframe, --margin
    exits: str = "model"  # --exit: model (as configured), oi_turn or barriers (EXIT_PARAMS)

    def __post_init__(self) -> None:
        if self.exits not in EXIT_PARAMS:
            raise InputError(f"--exit must be one of {', '.join(EXIT_PARAMS)}, got {self.exits!r}")
        clash = sorted(set(EXIT_PARAMS[self.exits]) & set(self.params))
        if clash:
            raise InputError(f"--exit {self.exits} sets {', '.join(clash)}; drop -p {clash[0]}")

    @property
    def trade_overrides(self) -> dict[str, Any]:
        """The ``-p`` parameters with those ``--exit`` sets."""
        return {**EXIT_PARAMS[self.exits], **self.params}


# --exit: which exits close a trade besides the stop and the time stop. oi_turn holds while OI
# keeps falling (no take-profit; out when the OI streak against the trade reaches
# thesis_streak); barriers keeps the fixed take-profit and ignores OI (thesis_streak = 0).
EXIT_PARAMS: dict[str, dict[str, Any]] = {
    "model": {},
    "oi_turn": {"take_profit_r": 0.0},
    "barriers": {"thesis_streak": 0},
}


@dataclass(frozen=True)
class BacktestReport:
    key: SeriesKey
    signal: str
    side: Side
    params: TradeParams
    metrics: dict[str, float | None]  # non-finite values as None
    trades: pl.DataFrame
    equity: pl.DataFrame
    notes: tuple[str, ...] = ()  # how the bars were built (stored timeframe, prices)
    tiers: str | None = None  # the venue tier table the liquidation check used
    exits: str = "model"  # --exit

    def to_dict(self) -> dict[str, Any]:
        return {"series": str(self.key), "signal": self.signal, "side": str(self.side),
                "exit": self.exits, "params": asdict(self.params), "tiers": self.tiers, "metrics": self.metrics,
                "trades": self.trades.to_dicts()}  # fmt: skip


def entry_inputs(
    settings: Settings, bars: pl.DataFrame, key: SeriesKey, signal: str, side: Side
) -> BacktestInputs:
    """The engine's inputs: features and signals of ``bars``, entries where ``signal`` fired, and
    the venue's tiers of the symbol (maintenance rate and maximum leverage by size)."""
    prep = prepare(bars, key, settings)
    mask = signal_mask(prep, signal, side)
    tiers = load_tiers(key.exchange, key.symbol)
    return inputs_from_features(prep.features, mask, side=side, bar_ms=key.timeframe.ms,
                                tiers=tiers)  # fmt: skip


def backtest(session: Session, opts: BacktestOptions) -> BacktestReport:
    """Run the trade model once on the one series the options select."""
    run = backtests(session, opts)
    if len(run.reports) != 1:
        names = ", ".join(str(r.key) for r in run.reports)
        raise InputError(f"choose one series with --exchange/--symbol; {len(run.reports)} match: {names}")
    return run.reports[0]


@dataclass(frozen=True)
class BacktestRun:
    """``backtest`` over every selected series: one report each, and what was skipped and why."""

    reports: list[BacktestReport]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def backtests(session: Session, opts: BacktestOptions) -> BacktestRun:
    """Run the trade model on every selected series; one that cannot run is skipped and listed."""
    if "side" in opts.params:
        raise InputError("--param side: the side is set with --side long|short")
    trade_params(session.settings, None, side=opts.side, **opts.trade_overrides)  # bad -p: fail once
    keys = studied_keys(session.catalog, opts.exchange, opts.symbol, opts.timeframe,
                        opts.series.prices, opts.series.margin)  # fmt: skip
    reports, skipped = each_series(keys, lambda k: _backtest_one(session, k, opts), "backtest")
    return BacktestRun(reports, skipped, summary_notes([(r.key, r.notes) for r in reports]))


def _backtest_one(session: Session, key: SeriesKey, opts: BacktestOptions) -> BacktestReport:
    settings = session.settings
    loaded = with_input_notes(load_series(session.catalog, key, opts.series))
    key = loaded.key
    p = trade_params(settings, key.exchange, side=opts.side, **opts.trade_overrides)
    x = entry_inputs(settings, loaded.bars, key, opts.signal, opts.side)
    if "mmr" in opts.params:  # -p mmr=R: one flat tier of that rate instead of the venue's
        x = replace(x, tiers=None)
    res = run_backtest(x, p)
    metrics = {k: finite_or_none(float(v)) for k, v in res.metrics.items()}
    return BacktestReport(key, opts.signal, opts.side, p, metrics, res.trades, res.equity,
                          loaded.notes, x.tiers.origin if x.tiers else None, opts.exits)  # fmt: skip


@dataclass(frozen=True)
class SweepOptions:
    grid: Path  # TOML: [params], [signals], folds, holdout, metric, q
    timeframe: Timeframe = Timeframe.H4
    exchange: str | None = None
    symbol: str | None = None
    signal: str = "entry"
    side: Side = Side.SHORT
    prices: Market | None = None
    executor: str = "local"  # local (processes), threads or ray
    workers: int | None = None
    address: str | None = None  # a Ray cluster (ray executor)


@dataclass(frozen=True)
class SweepReport:
    spec: SweepSpec
    results: list[tuple[SeriesKey, SweepResult]]
    table: pl.DataFrame  # every (series, configuration), with BH over all of them

    def to_dict(self) -> dict[str, Any]:
        f = finite_or_none
        return {
            "grid": self.table.to_dicts(),
            "series": [
                {"series": str(k), "best": r.best, "dsr": f(r.dsr), "n_trials": r.n_trials,
                 "walk_forward": r.walk_forward.to_dicts(),
                 "holdout": {a: f(float(b)) for a, b in r.holdout.items()}}
                for k, r in self.results
            ],
        }  # fmt: skip


def sweep(session: Session, opts: SweepOptions, batch_size: int | None = None) -> SweepReport:
    """Sweep the grid on every selected series; BH is re-applied over all series' configurations.

    One series at a time (its bars dropped before the next is read), the grid's configurations
    spread over ``opts.executor``. With ``ray`` and several series, one Ray task per batch of
    ``batch_size`` series (default ``[performance] batch_series``), each sweeping its series with
    the same code on one core: the results are the local ones (BH over all of them here)."""
    base = trade_params(session.settings, None, side=opts.side)
    spec = load_grid(opts.grid, base)
    keys = studied_keys(session.catalog, opts.exchange, opts.symbol, opts.timeframe, opts.prices)
    if opts.executor == "ray" and len(keys) > 1:
        b = BatchOptions(series=batch_size, executor="ray", address=opts.address,
                         workers=opts.workers).resolved(session.settings)  # fmt: skip
        one_core = replace(opts, executor="threads", workers=1)
        tried = [t for out in run_batches(session, sweep_batch, (spec, one_core),
                                          plan_batches(keys, b.series or 1), b) for t in out]  # fmt: skip
        results = [(keys[t.index], t.value) for t in sorted(tried, key=lambda t: t.index)
                   if t.value is not None]  # fmt: skip
    else:
        results = [(k, _sweep_one(session, k, spec, opts)) for k in keys]
    return SweepReport(spec, results, _combined_table(results, spec.q))


def sweep_batch(
    session: Session, spec: SweepSpec, opts: SweepOptions, batch: Indexed
) -> list[Tried[SweepResult]]:
    """One batch of :func:`sweep` (a Ray task): each series swept in turn, an error raised."""
    return try_each(batch, lambda key: _sweep_one(session, key, spec, opts), strict=True)


def _sweep_one(session: Session, key: SeriesKey, spec: SweepSpec, opts: SweepOptions) -> SweepResult:
    """Sweep one series; each ``[signals]`` combination re-detects the entry signal."""
    bars = load_series(session.catalog, key, SeriesOptions(opts.prices)).bars
    combos = spec.signal_combos() or [{}]
    entries: list[np.ndarray] = []
    x = None
    for combo in combos:
        s = session.settings
        if combo:
            s = s.model_copy(update={"signals": s.signals.model_copy(update=combo)})
        xi = entry_inputs(s, bars, key, opts.signal, opts.side)
        x = x or xi
        entries.append(xi.entry)
    assert x is not None
    return run_sweep(x, spec, entries, combos, executor=opts.executor, workers=opts.workers,
                     address=opts.address)  # fmt: skip


def _combined_table(results: list[tuple[SeriesKey, SweepResult]], q: float) -> pl.DataFrame:
    frames = [r.table.with_row_index("config").select(
        pl.lit(f"{k.exchange} {k.symbol}").alias("series"), pl.all()) for k, r in results]  # fmt: skip
    table = pl.concat(frames, how="diagonal_relaxed")
    rejected, adj = benjamini_hochberg(table["p_value"].to_numpy(), q)
    return table.with_columns(pl.Series("p_bh", adj), pl.Series("discovery", rejected))


__all__ = [
    "EXIT_PARAMS",
    "BacktestOptions",
    "BacktestReport",
    "BacktestRun",
    "SweepOptions",
    "SweepReport",
    "backtest",
    "backtests",
    "entry_inputs",
    "sweep",
    "sweep_batch",
]
