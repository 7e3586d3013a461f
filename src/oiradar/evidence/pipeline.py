"""Glue from stored bars to evidence: features -> signal events -> per-bar masks -> the study.

The study takes plain arrays; this module is the one place that knows the feature and signal
frames' column names. :func:`signal_mask` is also what the backtest's entries are made of
(``oiradar.backtest.inputs_from_features(prep.features, signal_mask(...))``); the backtest itself is
not imported here (``docs/decisions/0604-evidence-backtest-layers.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    judge_measure,
    unmeasured,
)
from oiradar.evidence.measures import (
    LIQ_RATIO,
    MeasureArrays,
    MeasurePart,
    MeasureResult,
    measure_part,
    run_measure,
)
from oiradar.evidence.study import StudyArrays, StudyConfig, StudyResult, frame_arrays, run_study
from oiradar.model import SeriesKey, Side


@dataclass(frozen=True)
class Prepared:
    """One series with its features (regular grid) and its signal events; ``unavailable``: the
    signals (and measures) this series cannot give, with why (:func:`why_unmeasured`)."""

    key: SeriesKey
    features: pl.DataFrame
    events: pl.DataFrame
    unavailable: Mapping[str, str] = field(default_factory=dict)

    def why_unmeasured(self, claim: Claim) -> str | None:
        """Why this series cannot measure ``claim`` (None: it can)."""
        return self.unavailable.get(claim.signal) or self.unavailable.get(claim.metric)


def prepare(bars: pl.DataFrame, key: SeriesKey, settings: Settings | None = None) -> Prepared:
    """Compute the features and signal events of one stored series, the signals computed beside
    the state kernel (``mtf_entry``, ``liq_fade``: :func:`derived_events`) included."""
    from oiradar.features import compute_features
    from oiradar.signals import detect_signals

    settings = (settings or Settings()).for_symbol(key.symbol)
    feats = compute_features(bars, key.timeframe, settings)
    events = detect_signals(feats, key, settings)
    extra = derived_events(feats, key, settings)
    if extra.height:
        events = pl.concat([events, extra]).sort("ts", "signal", "side", maintain_order=True)
    return Prepared(key, feats, events, unavailable_here(feats, key, settings))


def unavailable_here(
    features: pl.DataFrame, key: SeriesKey, settings: Settings | None = None
) -> dict[str, str]:
    """What a series cannot measure, with why: ``mtf_entry`` at a timeframe not finer than its
    setup's, ``liq_ratio`` without realized liquidations on its bars (the ``liquidations``
    column that ``oiradar.signals.with_liquidations`` joins from the catalog)."""
    from oiradar.signals.mtf import mtf_unavailable

    out: dict[str, str] = {}
    why = mtf_unavailable(key.timeframe, settings)
    if why is not None:
        out["mtf_entry"] = why
    liq = features["liquidations"] if "liquidations" in features.columns else None
    if liq is None or liq.is_null().all():
        out[LIQ_RATIO] = (f"no realized liquidations on the bars of {key.exchange} {key.symbol} "
                          "(from a Coinalyze import, a recorded stream or the simulator)")  # fmt: skip
    return out


DERIVED_SIGNALS = ("mtf_entry", "liq_fade")


def derived_events(
    features: pl.DataFrame, key: SeriesKey, settings: Settings | None = None,
    names: Iterable[str] = DERIVED_SIGNALS,
) -> pl.DataFrame:  # fmt: skip
    """The events of the signals that read more than the series' own features (``names``, of
    :data:`DERIVED_SIGNALS`): ``mtf_entry`` (setups on a coarser timeframe) and ``liq_fade`` (the
    estimated liquidation levels)."""
    from oiradar.liquidations.fade import liq_fade
    from oiradar.signals import empty_events
    from oiradar.signals.mtf import mtf_entry

    settings = settings or Settings()
    run = {"mtf_entry": mtf_entry, "liq_fade": liq_fade}
    parts = [run[n](features, key, settings) for n in names]
    return pl.concat([p for p in parts if p.height] or [empty_events()])


def signal_mask(prep: Prepared, signal: str, side: Side = Side.SHORT) -> np.ndarray:
    """``True`` at the bars where ``signal`` (on ``side``) fired, aligned with ``prep.features``."""
    ev = prep.events.filter((pl.col("signal") == signal) & (pl.col("side") == side))
    return prep.features["ts"].is_in(ev["ts"].implode()).to_numpy()


def study_config(settings: Settings | None = None, **over: object) -> StudyConfig:
    ev = (settings or Settings()).evidence
    base: dict[str, Any] = {"horizon": ev.horizon, "width": ev.width, "cooldown": ev.cooldown,
            "timeouts": ev.timeouts, "min_events": ev.min_events, "reps": ev.reps,
            "conf": ev.conf, "alpha": ev.alpha, "seed": ev.seed, "detect_lift": ev.detect_lift,
            "power": ev.power, "turn_streak": ev.turn_streak, "hold_max": ev.hold_max}  # fmt: skip
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
    """Study each (signal, side) the rate claims mention once, measure the other claims, then
    judge every claim, with Benjamini-Hochberg over these claims (re-apply :func:`control_fdr`
    over a larger table). A claim the series cannot measure is ``insufficient data`` with why."""
    results: dict[tuple[str, Side], StudyResult] = {}
    out = []
    for claim in claims:
        why = prep.why_unmeasured(claim)
        if why is not None:
            out.append(unmeasured(claim, cfg, why))
            continue
        if not claim.is_rate:
            out.append(judge_measure(claim, run_claim_measure(prep, claim, cfg)))
            continue
        k = (claim.signal, claim.side)
        if k not in results:
            results[k] = run_signal_study(prep, claim.signal, claim.side, cfg)
        out.append(judge(claim, results[k]))
    return results, control_fdr(out, cfg.alpha)


def measure_arrays(prep: Prepared, signal: str, side: Side) -> MeasureArrays:
    """The arrays of :mod:`oiradar.evidence.measures` for one signal on one prepared series."""
    f = prep.features

    def col(name: str) -> np.ndarray | None:
        if name not in f.columns:
            return None
        return f[name].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64)

    base = signal_arrays(prep, signal, side)
    oi_value = col("oi_value")
    if oi_value is None or not np.isfinite(oi_value).any():  # oi_value from oi x close
        oi, close = col("oi"), col("close")
        oi_value = None if oi is None or close is None else oi * close
    streak = col("oi_up_streak" if side == Side.SHORT else "oi_down_streak")
    return MeasureArrays(close=base.close, high=base.high, low=base.low, atr=base.atr,
                         events=base.events, streak=streak, liquidations=col("liquidations"),
                         oi_value=oi_value, ts=base.ts)  # fmt: skip


def measure_parts(
    prep: Prepared, label: str, measured: Iterable[tuple[str, str, Side]], cfg: StudyConfig,
    block_ms: int,
) -> dict[tuple[str, str, Side], MeasurePart]:  # fmt: skip
    """The pooled study's parts of each ``(metric, signal, side)`` this series can measure."""
    out = {}
    for metric, signal, side in measured:
        if prep.unavailable.get(signal) or prep.unavailable.get(metric):
            continue
        out[(metric, signal, side)] = measure_part(
            label, metric, signal, measure_arrays(prep, signal, side), side, cfg, block_ms,
            turn=cfg.turn_streak, hold_max=cfg.hold_max,
        )
    return out


def run_claim_measure(prep: Prepared, claim: Claim, cfg: StudyConfig) -> MeasureResult:
    """The measure a non-rate claim names, of its signal and side on one prepared series."""
    data = measure_arrays(prep, claim.signal, claim.side)
    return run_measure(claim.metric, claim.signal, data, claim.side, cfg, turn=cfg.turn_streak,
                       hold_max=cfg.hold_max)  # fmt: skip
