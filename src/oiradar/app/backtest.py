"""``backtest`` (the SPEC section 4 trade model on one series) and ``sweep`` (a parameter grid with
walk-forward splits and a final hold-out, on every selected series)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from oiradar.app.series import Market, load_bars, one_key, studied_keys
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
from oiradar.evidence import prepare, signal_mask
from oiradar.model import SeriesKey, Side, Timeframe
from oiradar.stats import benjamini_hochberg


@dataclass(frozen=True)
class BacktestOptions:
    timeframe: Timeframe = Timeframe.H4
    exchange: str | None = None
    symbol: str | None = None
    signal: str = "entry"  # the entry signal
    side: Side = Side.SHORT
    prices: Market | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # TradeParams fields to override


@dataclass(frozen=True)
class BacktestReport:
    key: SeriesKey
    signal: str
    side: Side
    params: TradeParams
    metrics: dict[str, float | None]  # non-finite values as None
    trades: pl.DataFrame
    equity: pl.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"series": str(self.key), "signal": self.signal, "side": str(self.side),
                "params": asdict(self.params), "metrics": self.metrics,
                "trades": self.trades.to_dicts()}  # fmt: skip


def entry_inputs(
    settings: Settings, bars: pl.DataFrame, key: SeriesKey, signal: str, side: Side
) -> BacktestInputs:
    """The engine's inputs: features and signals of ``bars``, entries where ``signal`` fired."""
    prep = prepare(bars, key, settings)
    mask = signal_mask(prep, signal, side)
    return inputs_from_features(prep.features, mask, side=side, bar_ms=key.timeframe.ms)


def backtest(session: Session, opts: BacktestOptions) -> BacktestReport:
    """Run the trade model once on the one series the options select."""
    cat, settings = session.catalog, session.settings
    key = one_key(cat, opts.exchange, opts.symbol, opts.timeframe, opts.prices)
    p = trade_params(settings, key.exchange, side=opts.side, **dict(opts.params))
    x = entry_inputs(settings, load_bars(cat, key, opts.prices), key, opts.signal, opts.side)
    res = run_backtest(x, p)
    metrics = {k: finite_or_none(float(v)) for k, v in res.metrics.items()}
    return BacktestReport(key, opts.signal, opts.side, p, metrics, res.trades, res.equity)


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


def sweep(session: Session, opts: SweepOptions) -> SweepReport:
    """Sweep the grid on every selected series; BH is re-applied over all series' configurations."""
    base = trade_params(session.settings, None, side=opts.side)
    spec = load_grid(opts.grid, base)
    keys = studied_keys(session.catalog, opts.exchange, opts.symbol, opts.timeframe, opts.prices)
    results = [(k, _sweep_one(session, k, spec, opts)) for k in keys]
    return SweepReport(spec, results, _combined_table(results, spec.q))


def _sweep_one(session: Session, key: SeriesKey, spec: SweepSpec, opts: SweepOptions) -> SweepResult:
    """Sweep one series; each ``[signals]`` combination re-detects the entry signal."""
    bars = load_bars(session.catalog, key, opts.prices)
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
    "BacktestOptions",
    "BacktestReport",
    "SweepOptions",
    "SweepReport",
    "backtest",
    "entry_inputs",
    "sweep",
]
