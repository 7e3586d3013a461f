"""Glue from stored bars to evidence: features -> signal events -> per-bar masks -> the study.

The study takes plain arrays; this module is the one place that knows the feature and signal
frames' column names. :func:`signal_mask` is also what the backtest's entries are made of
(``oiradar.backtest.inputs_from_features(prep.features, signal_mask(...))``); the backtest itself is
not imported here (``docs/decisions/0604-evidence-backtest-layers.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from oiradar.config import Settings
from oiradar.evidence.claims import (
    SEED_CLAIMS,
    Claim,
    Judgement,
    claims_from_config,
    control_fdr,
    judge,
)
from oiradar.evidence.study import StudyArrays, StudyConfig, StudyResult, frame_arrays, run_study
from oiradar.model import SeriesKey, Side


@dataclass(frozen=True)
class Prepared:
    """One series with its features (regular grid) and its signal events."""

    key: SeriesKey
    features: pl.DataFrame
    events: pl.DataFrame


def prepare(bars: pl.DataFrame, key: SeriesKey, settings: Settings | None = None) -> Prepared:
    """Compute the features and signal events of one stored series."""
    from oiradar.features import compute_features
    from oiradar.signals import detect_signals

    settings = (settings or Settings()).for_symbol(key.symbol)
    feats = compute_features(bars, key.timeframe, settings)
    events = detect_signals(feats, key, settings)
    return Prepared(key, feats, events)


def signal_mask(prep: Prepared, signal: str, side: Side = Side.SHORT) -> np.ndarray:
    """``True`` at the bars where ``signal`` (on ``side``) fired, aligned with ``prep.features``."""
    ev = prep.events.filter((pl.col("signal") == signal) & (pl.col("side") == side))
    return prep.features["ts"].is_in(ev["ts"].implode()).to_numpy()


def study_config(settings: Settings | None = None, **over: object) -> StudyConfig:
    ev = (settings or Settings()).evidence
    base: dict[str, Any] = {"horizon": ev.horizon, "width": ev.width, "cooldown": ev.cooldown,
            "timeouts": ev.timeouts, "min_events": ev.min_events, "reps": ev.reps,
            "conf": ev.conf, "alpha": ev.alpha, "seed": ev.seed, "detect_lift": ev.detect_lift,
            "power": ev.power}  # fmt: skip
    base.update({k: v for k, v in over.items() if v is not None})
    return StudyConfig(**base)


def all_claims(settings: Settings | None = None) -> list[Claim]:
    """The seed's built-in claims followed by the user's ``[[evidence.claims]]``."""
    user = claims_from_config((settings or Settings()).evidence.claims)
    return [*SEED_CLAIMS, *user]


def _near_column(side: Side) -> str:
    return "near_high" if side == Side.SHORT else "near_low"


def run_signal_study(prep: Prepared, signal: str, side: Side, cfg: StudyConfig) -> StudyResult:
    """The event study of one signal on one prepared series."""
    return run_study(signal_arrays(prep, signal, side), side, cfg)


def signal_arrays(prep: Prepared, signal: str, side: Side) -> StudyArrays:
    """The study's arrays of one signal on one prepared series (``near_high`` is ``near_low`` for
    a long-side signal; ``ts`` the bars' times)."""
    feats = prep.features
    near = _near_column(side)
    frame = feats.with_columns(pl.col(near).alias("near_high")) if near in feats.columns else feats
    return frame_arrays(frame, signal_mask(prep, signal, side))


def judge_claims(
    prep: Prepared, claims: Iterable[Claim], cfg: StudyConfig
) -> tuple[dict[tuple[str, Side], StudyResult], list[Judgement]]:
    """Study each (signal, side) the claims mention once, then judge every claim, with
    Benjamini-Hochberg over these claims (re-apply :func:`control_fdr` over a larger table)."""
    results: dict[tuple[str, Side], StudyResult] = {}
    out = []
    for claim in claims:
        k = (claim.signal, claim.side)
        if k not in results:
            results[k] = run_signal_study(prep, claim.signal, claim.side, cfg)
        out.append(judge(claim, results[k]))
    return results, control_fdr(out, cfg.alpha)
