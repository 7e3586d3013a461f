"""``study``: the event study of each signal on each selected series, and the claims' verdicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from oiradar.app.series import Market, load_bars, studied_keys
from oiradar.app.session import Session
from oiradar.app.values import finite_or_none
from oiradar.evidence import (
    BASELINES,
    Claim,
    StudyConfig,
    StudyResult,
    all_claims,
    judge_claims,
    prepare,
    run_signal_study,
    study_config,
    verdict_table,
)
from oiradar.model import SeriesKey, Side, Timeframe


@dataclass(frozen=True)
class StudyOptions:
    timeframe: Timeframe = Timeframe.H4
    exchange: str | None = None
    symbol: str | None = None
    signals: tuple[str, ...] = ()  # studied besides the claims' (only these claims when given)
    side: Side = Side.SHORT
    prices: Market | None = None
    horizon: int | None = None  # barrier horizon H in bars (default: [evidence])
    reps: int | None = None  # bootstrap replicates


@dataclass(frozen=True)
class StudyReport:
    config: StudyConfig
    studies: list[dict[str, Any]]  # one row per (series, signal, side): counts, rates, lifts, p
    verdicts: pl.DataFrame  # series, claim, as stated, measured, baseline, verdict
    timeframe: Timeframe = field(default=Timeframe.H4)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable report (``--format json``)."""
        return {"config": asdict(self.config), "studies": self.studies,
                "verdicts": self.verdicts.to_dicts()}  # fmt: skip


def run_studies(session: Session, opts: StudyOptions) -> StudyReport:
    """Study every selected series; judge the seed's and the user's claims on each."""
    settings = session.settings
    cfg = study_config(settings, horizon=opts.horizon, reps=opts.reps)
    claims = _claims(all_claims(settings), opts)
    keys = studied_keys(session.catalog, opts.exchange, opts.symbol, opts.timeframe, opts.prices)
    rows: list[dict[str, Any]] = []
    verdicts = []
    for key in keys:
        prep = prepare(load_bars(session.catalog, key, opts.prices), key, settings)
        results, judged = judge_claims(prep, claims, cfg)
        for sig in opts.signals:
            if (sig, opts.side) not in results:
                results[(sig, opts.side)] = run_signal_study(prep, sig, opts.side, cfg)
        rows += study_rows(key, results)
        verdicts.append(verdict_table(judged).select(_series(key), pl.all()))
    table = pl.concat(verdicts) if verdicts else verdict_table([])
    return StudyReport(cfg, rows, table, opts.timeframe)


def _claims(claims: list[Claim], opts: StudyOptions) -> list[Claim]:
    if not opts.signals:
        return claims
    return [c for c in claims if c.signal in opts.signals and c.side == opts.side]


def _series(key: SeriesKey) -> pl.Expr:
    return pl.lit(f"{key.exchange} {key.symbol}").alias("series")


def study_rows(key: SeriesKey, results: dict[tuple[str, Side], StudyResult]) -> list[dict[str, Any]]:
    """One JSON-ready row per study: counts, the event rate, each baseline with its lift and p,
    forward returns and excursions (non-finite values as None)."""
    f = finite_or_none
    rows = []
    for (signal, side), r in results.items():
        row: dict[str, Any] = {
            "exchange": key.exchange, "symbol": key.symbol, "timeframe": key.timeframe.value,
            "signal": signal, "side": str(side), "signals": r.n_signals, "events": r.n_events,
            "rate": f(r.rate.rate), "rate_low": f(r.rate.interval.low),
            "rate_high": f(r.rate.interval.high),
        }  # fmt: skip
        for b in BASELINES:
            base, lift = r.baselines[b], r.lift[b]
            row[f"base_{b}"] = None if base is None else f(base.rate)
            row[f"lift_{b}"] = None if lift is None else f(lift.estimate)
            row[f"lift_{b}_low"] = None if lift is None else f(lift.low)
            row[f"lift_{b}_high"] = None if lift is None else f(lift.high)
            row[f"p_{b}"] = f(r.p_value[b])
        for h, iv in r.forward.items():
            row[f"fwd_{h}"] = f(iv.estimate)
        row["mfe"], row["mae"] = f(r.mfe), f(r.mae)
        rows.append(row)
    return rows


__all__ = ["StudyOptions", "StudyReport", "run_studies", "study_rows"]
