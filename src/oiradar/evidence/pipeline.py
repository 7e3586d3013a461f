"""Glue from stored bars to evidence: features -> signal events -> per-bar masks -> study / backtest.

The study and the engine take plain arrays; this module is the one place that knows the feature and
signal frames' column names, so both commands (and the bench, and paper trading) read bars the same
way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from oiradar.backtest.params import TradeParams
from oiradar.backtest.run import BacktestInputs, inputs_from_frame
from oiradar.config import Settings
from oiradar.errors import InputError
from oiradar.evidence.claims import SEED_CLAIMS, Claim, Judgement, claims_from_config, judge
from oiradar.evidence.study import StudyConfig, StudyResult, study_frame
from oiradar.model import SeriesKey

SIDES = {"short": -1, "long": 1}


@dataclass(frozen=True)
class Prepared:
    """One series with its features (regular grid) and its signal events."""

    key: SeriesKey
    features: pl.DataFrame
    events: pl.DataFrame


def prepare(bars: pl.DataFrame, key: SeriesKey, settings: Settings | None = None) -> Prepared:
    """Compute SPEC section 2 features and section 3 signals of one stored series."""
    from oiradar.features import compute_features
    from oiradar.signals import detect_signals

    settings = (settings or Settings()).for_symbol(key.symbol)
    feats = compute_features(bars, key.timeframe, settings)
    events = detect_signals(feats, key, settings)
    return Prepared(key, feats, events)


def signal_mask(prep: Prepared, signal: str, side: str = "short") -> np.ndarray:
    """``True`` at the bars where ``signal`` (on ``side``) fired, aligned with ``prep.features``."""
    if side not in SIDES:
        raise InputError(f"side must be 'short' or 'long', got {side!r}")
    ev = prep.events.filter((pl.col("signal") == signal) & (pl.col("side") == side))
    return prep.features["ts"].is_in(ev["ts"].implode()).to_numpy()


def study_config(settings: Settings | None = None, **over: object) -> StudyConfig:
    ev = (settings or Settings()).evidence
    base: dict[str, Any] = {"horizon": ev.horizon, "width": ev.width, "cooldown": ev.cooldown,
            "min_events": ev.min_events, "reps": ev.reps, "conf": ev.conf, "alpha": ev.alpha,
            "seed": ev.seed}  # fmt: skip
    base.update({k: v for k, v in over.items() if v is not None})
    return StudyConfig(**base)


def trade_params(
    settings: Settings | None = None, exchange: str | None = None, **over: object
) -> TradeParams:
    """``[backtest]`` settings, with the venue's ``taker_fee`` when it has one, then ``over``."""
    s = settings or Settings()
    data = s.backtest.model_dump()
    if exchange is not None and s.venue(exchange).taker_fee is not None:
        data["fee"] = s.venue(exchange).taker_fee
    data.update({k: v for k, v in over.items() if v is not None})
    return TradeParams(**data)


def all_claims(settings: Settings | None = None) -> list[Claim]:
    """The seed's built-in claims followed by the user's ``[[evidence.claims]]``."""
    user = claims_from_config((settings or Settings()).evidence.claims)
    return [*SEED_CLAIMS, *user]


def _near_column(side: str) -> str:
    return "near_high" if side == "short" else "near_low"


def run_signal_study(prep: Prepared, signal: str, side: str, cfg: StudyConfig) -> StudyResult:
    """The event study of one signal on one prepared series."""
    feats = prep.features
    near = _near_column(side)
    frame = feats.with_columns(pl.col(near).alias("near_high")) if near in feats.columns else feats
    return study_frame(frame, signal_mask(prep, signal, side), SIDES[side], cfg)


def judge_claims(
    prep: Prepared, claims: Iterable[Claim], cfg: StudyConfig
) -> tuple[dict[tuple[str, str], StudyResult], list[Judgement]]:
    """Study each (signal, side) the claims mention once, then judge every claim."""
    results: dict[tuple[str, str], StudyResult] = {}
    out = []
    for claim in claims:
        k = (claim.signal, claim.side)
        if k not in results:
            results[k] = run_signal_study(prep, claim.signal, claim.side, cfg)
        out.append(judge(claim, results[k]))
    return results, out


def backtest_inputs(prep: Prepared, signal: str = "entry", side: str = "short") -> BacktestInputs:
    """Engine inputs; bars missing from the grid become flat bars at the previous close (no
    trading information, no signal)."""
    f = prep.features.with_columns(pl.col("close").forward_fill().alias("_c"))
    flat = pl.col("open").is_null()
    f = f.with_columns(
        [
            pl.when(flat).then(pl.col("_c")).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        ]
    ).filter(pl.col("close").is_not_null())
    mask = pl.Series(signal_mask(Prepared(prep.key, f, prep.events), signal, side))
    return inputs_from_frame(f, mask.to_numpy(), side=SIDES[side], bar_ms=prep.key.timeframe.ms)
