"""Claims and the verdict table: a claim, as stated | measured, with interval | baseline | q |
events needed | verdict.

The built-in claims (:data:`SEED_CLAIMS`, named ``seed.*``) quote the article on OI reversals
that oiradar set out to test; users add their own under ``[[evidence.claims]]`` in
``oiradar.toml``. ``docs/evidence.md`` defines every term; in short:

- ``insufficient data``: fewer than ``min_events`` counted events (80 by default: about what a 70 %
  rate needs before its Wilson lower bound clears 60 %), whatever the point estimate says;
- ``supported``: enough events, the claim's lower bound clears its value, **and** the one-sided
  test's p-value, adjusted by Benjamini-Hochberg over the whole verdict table (``q``), is at most
  ``alpha``. For ``rate > v`` the bound is the Wilson lower bound and the test is the exact
  binomial test of ``rate > v``; for ``lift > v`` the bound is the block-bootstrap lower bound of
  (event rate - baseline rate) and the test is the exact binomial test of ``rate > baseline + v``;
- ``not supported``: enough events, and the data do not show it (which is not the same as showing
  the opposite).

Each verdict also gives the events it needs: the number at which the claimed rate is told from
the base rate with ``power`` (80 %) at ``alpha`` (5 %), one-sided (:func:`oiradar.stats.events_needed`).
The claimed rate is ``v`` for a rate claim and ``base + v`` for a lift claim (``base + detect_lift``
when ``v`` is 0: "an edge" names no size). Below :data:`~oiradar.evidence.study.MIN_INTERVAL_EVENTS`
counted events the measured column shows no interval but ``n too small (k events; about N needed)``.

The seed's "edge" claims are judged against the ``near_high`` baseline (bars near the highs without
the OI condition): the claim is that the *OI* condition adds something, and a market that simply
mean-reverts near its highs would otherwise hand the signal a lift it did not earn
(``docs/decisions/0601-edge-baseline.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import polars as pl

from oiradar.errors import ConfigError
from oiradar.evidence.measures import EXIT_GAIN, MeasureResult
from oiradar.evidence.study import (
    BASELINES,
    MIN_INTERVAL_EVENTS,
    Rate,
    StudyConfig,
    StudyResult,
)
from oiradar.model import Side
from oiradar.stats import Interval, benjamini_hochberg, binom_sf, events_needed


class Verdict(StrEnum):
    SUPPORTED = "supported"
    NOT_SUPPORTED = "not supported"
    INSUFFICIENT = "insufficient data"


METRICS = ("rate", "lift", "exit_gain", "liq_ratio")  # the last two: evidence.measures


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A testable statement about one signal's triple-barrier outcome."""

    name: str
    text: str  # the claim as stated, quoted
    signal: str
    side: Side = Side.SHORT  # "short"/"long" from the configuration are read as a Side
    metric: str = "rate"
    value: float = 0.5
    baseline: str = "matched"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(
                f"claim {self.name!r}: metric must be one of {METRICS}, got {self.metric!r}"
            )
        if self.metric in ("rate", "lift") and self.baseline not in BASELINES:
            raise ConfigError(
                f"claim {self.name!r}: baseline must be one of {BASELINES}, got {self.baseline!r}"
            )
        if self.side not in tuple(Side):
            raise ConfigError(
                f"claim {self.name!r}: side must be 'short' or 'long', got {self.side!r}"
            )
        object.__setattr__(self, "side", Side(self.side))

    @property
    def is_rate(self) -> bool:
        """Judged on the triple-barrier reversal rate (``rate``, ``lift``); else a measure of
        :mod:`oiradar.evidence.measures`."""
        return self.metric in ("rate", "lift")

    @property
    def stated(self) -> str:
        what = {
            "rate": "reversal rate",
            "lift": f"lift over the {self.baseline} baseline",
            "exit_gain": "OI-turn exit minus the barriers, mean return",
            "liq_ratio": "liquidations after it / their base rate",
        }[self.metric]
        return f"{self.signal}: {what} > {self.value:g}"


SEED_CLAIMS: tuple[Claim, ...] = (
    Claim(
        name="seed.divergence_reversal_70",
        text="when KSM perpetual OI drops 15-20% from its peak while price still holds near those "
        "highs, you're looking at a reversal probability above 70%",
        signal="divergence",
        metric="rate",
        value=0.70,
    ),
    Claim(
        name="seed.divergence_edge",
        text="open interest reversal signals have shown statistical edge in backtests",
        signal="divergence",
        metric="lift",
        value=0.0,
        baseline="near_high",
    ),
    Claim(
        name="seed.trigger_edge",
        text="price makes a new local high, OI drops for two consecutive 4-hour candles, and volume "
        "is below the 20-day average. That's the setup.",
        signal="trigger",
        metric="lift",
        value=0.0,
        baseline="near_high",
    ),
    Claim(
        name="seed.entry_edge",
        text="I wait for the first rejection candle on high timeframes [...] the move down has started",
        signal="entry",
        metric="lift",
        value=0.0,
        baseline="near_high",
    ),
    Claim(
        name="seed.mtf_entry_edge",
        text="Entry timing is where experience matters. [...] I wait for the first rejection "
        "candle on high timeframes — 1-hour or 4-hour",
        signal="mtf_entry",
        metric="lift",
        value=0.0,
        baseline="near_high",
    ),
    Claim(
        name="seed.oi_turn_exit",
        text="If OI continues falling as price drops, the reversal has room to run. If OI starts "
        "climbing again, something has changed and I need to reassess.",
        signal="entry",
        metric="exit_gain",
        value=0.0,
    ),
    Claim(
        name="seed.liq_fade_edge",
        text="the high-probability trade is often to fade the move into the liquidation cluster "
        "rather than chase it. The cascade happens, price reverses hard, and you ride the snap back.",
        signal="liq_fade",
        metric="lift",
        value=0.0,
        baseline="near_high",
    ),
    Claim(
        name="seed.oi_spike_liquidations",
        text="I've seen open interest spikes precede massive liquidations more times than I can count.",
        signal="oi_extreme",
        metric="liq_ratio",
        value=1.0,
    ),
)


@dataclass(frozen=True, kw_only=True)
class Judgement:
    """One claim judged on one study. ``q`` is ``p`` adjusted by Benjamini-Hochberg over the table
    it sits in (:func:`control_fdr`); alone, ``q == p``."""

    claim: Claim
    measured: str  # the estimate with its interval, or "n too small (...)"
    baseline: str  # the baseline's rate with its Wilson interval and size
    verdict: Verdict
    n_events: int  # events counted in the rate (under the timeout rule)
    p: float  # one-sided exact binomial test of the claim (NaN: no test possible)
    q: float
    needed: int | None  # events needed to tell the claimed rate from the base rate
    bound_ok: bool  # the claim's lower bound clears its value
    sufficient: bool


def judge(claim: Claim, res: StudyResult, alpha: float | None = None) -> Judgement:
    """Apply the module's rules to one claim and the study of its signal (a family of one)."""
    cfg = res.config
    base = res.baselines.get(claim.baseline)
    k, n = res.rate.wins, res.n_counted
    h0 = null_rate(claim, base)
    if claim.metric == "rate":
        shown = f"{res.rate.interval}"
        bound_ok = n > 0 and res.rate.interval.low > claim.value
    else:
        lift = res.lift.get(claim.baseline)
        shown = "n/a" if lift is None else f"lift {lift}"
        bound_ok = lift is not None and lift.low > claim.value
    p = binom_sf(k, n, min(1.0, max(0.0, h0))) if n and math.isfinite(h0) else math.nan
    return judgement(claim, cfg, n=n, base=base, shown=shown, bound_ok=bound_ok, p=p,
                     sufficient=res.sufficient, alpha=alpha)  # fmt: skip


def judge_measure(claim: Claim, res: MeasureResult, alpha: float | None = None) -> Judgement:
    """A claim on a measure (``exit_gain``, ``liq_ratio``): its lower bound (block bootstrap, or
    two-way when pooled) must clear the claimed value and ``q`` (from the one-sided bootstrap or
    z-test ``p``) must be at most ``alpha``; fewer than ``min_events`` (effective) events is
    ``insufficient data``. No events-needed figure: the outcome is not a rate."""
    cfg = res.config
    alpha = cfg.alpha if alpha is None else alpha
    n = res.n_events
    iv = res.interval
    if n < MIN_INTERVAL_EVENTS or iv is None:
        word = "event" if n == 1 else "events"
        measured = f"n too small ({n} {word}; {cfg.min_events} needed for a verdict)"
    else:
        measured = f"{_measure_text(claim.metric, iv)} ({n:,} events)"
    p = res.p_value(claim.value)
    out = Judgement(claim=claim, measured=measured, baseline=_reference_text(res),
                    verdict=Verdict.INSUFFICIENT, n_events=n, p=p, q=p, needed=None,
                    bound_ok=iv is not None and iv.low > claim.value,
                    sufficient=res.sufficient and n >= MIN_INTERVAL_EVENTS)  # fmt: skip
    return replace(out, verdict=_decide(out, p, alpha))


def _measure_text(metric: str, iv: Interval) -> str:
    if metric == EXIT_GAIN:
        return f"gain {iv.estimate:+.2%} [{iv.low:+.2%}, {iv.high:+.2%}]"
    return f"ratio {iv.estimate:.2f} [{iv.low:.2f}, {iv.high:.2f}]"


def _reference_text(res: MeasureResult) -> str:
    if res.metric == EXIT_GAIN:
        if not math.isfinite(res.reference):
            return "n/a (barriers)"
        return (f"barriers {res.reference:+.2%} vs OI-turn {res.event_mean:+.2%} per event "
                f"(held {res.held:.1f} bars)")  # fmt: skip
    if not math.isfinite(res.reference):
        return "n/a (all bars)"
    return (f"{res.reference:.3%} of OI liquidated in {res.config.horizon} bars "
            f"(all, {res.n_reference:,} bars)")  # fmt: skip


def unmeasured(claim: Claim, cfg: StudyConfig, why: str) -> Judgement:
    """A claim the series cannot measure (``insufficient data``, ``why`` in the measured column):
    a signal that cannot fire at this timeframe, a measure without the data it reads."""
    return Judgement(claim=claim, measured=why, baseline="n/a", verdict=Verdict.INSUFFICIENT,
                     n_events=0, p=math.nan, q=math.nan, needed=None, bound_ok=False,
                     sufficient=False)  # fmt: skip


def null_rate(claim: Claim, base: Rate | None) -> float:
    """The event rate the claim's test rejects: ``v`` for a rate claim, ``base + v`` for a lift
    claim (NaN without a base rate)."""
    if claim.metric == "rate":
        return claim.value
    return math.nan if base is None or base.n == 0 else base.rate + claim.value


def claimed_rate(claim: Claim, base: Rate | None, detect_lift: float) -> float:
    """The rate the claim promises, for the events needed: ``v``, or ``base + v`` for a lift claim
    (``base + detect_lift`` when ``v`` is 0: "an edge" names no size)."""
    if claim.metric == "rate":
        return claim.value
    lift = claim.value if claim.value > 0 else detect_lift
    return math.nan if base is None or base.n == 0 else base.rate + lift


def judgement(
    claim: Claim, cfg: StudyConfig, *, n: int, base: Rate | None, shown: str, bound_ok: bool,
    p: float, sufficient: bool, alpha: float | None = None,
) -> Judgement:  # fmt: skip
    """The verdict from what a study measured: ``n`` counted events, the claim's baseline, the
    estimate as ``shown``, whether its lower bound clears the claim and the one-sided ``p``;
    ``sufficient``: enough events for a verdict (fewer than :data:`MIN_INTERVAL_EVENTS` never are).
    """
    alpha = cfg.alpha if alpha is None else alpha
    base_rate = math.nan if base is None or base.n == 0 else base.rate
    needed = _needed(claimed_rate(claim, base, cfg.detect_lift), base_rate, cfg.alpha, cfg.power)
    small = n < MIN_INTERVAL_EVENTS
    measured = _too_small(n, needed, base_rate) if small else f"{shown} ({n:,} events)"
    out = Judgement(claim=claim, measured=measured, baseline=_base_text(claim.baseline, base),
                    verdict=Verdict.INSUFFICIENT, n_events=n, p=p, q=p, needed=needed,
                    bound_ok=bound_ok, sufficient=sufficient and not small)  # fmt: skip
    return replace(out, verdict=_decide(out, p, alpha))


def _needed(claimed: float, base: float, alpha: float, power: float) -> int | None:
    if not (math.isfinite(claimed) and math.isfinite(base)) or claimed > 1.0:
        return None
    return events_needed(claimed, base, alpha, power)


def _too_small(n: int, needed: int | None, base: float) -> str:
    event = "event" if n == 1 else "events"
    if not math.isfinite(base):
        return f"n too small ({n} {event}; no base rate to compare with)"
    if needed is None:
        return f"n too small ({n} {event}; the claimed rate is not above the base rate)"
    return f"n too small ({n} {event}; about {needed:,} needed)"


def _base_text(name: str, base: Rate | None) -> str:
    if base is None or base.n == 0:
        return f"n/a ({name})"
    return f"{base.interval} ({name}, {base.n:,} bars)"


def _decide(j: Judgement, q: float, alpha: float) -> Verdict:
    if not j.sufficient:
        return Verdict.INSUFFICIENT
    ok = j.bound_ok and math.isfinite(q) and q <= alpha
    return Verdict.SUPPORTED if ok else Verdict.NOT_SUPPORTED


def control_fdr(judgements: list[Judgement], alpha: float) -> list[Judgement]:
    """Benjamini-Hochberg over every verdict of ``judgements`` (all series, all claims): each gets
    its adjusted p-value ``q``, and a claim is supported only when ``q <= alpha``.

    Every claim with a test counts towards the number of hypotheses, the insufficient ones too:
    they were looked at. Re-applying it to a longer list starts again from the raw ``p``.
    """
    if not judgements:
        return []
    _, adj = benjamini_hochberg([j.p for j in judgements], alpha)
    return [replace(j, q=float(q), verdict=_decide(j, float(q), alpha))
            for j, q in zip(judgements, adj, strict=True)]  # fmt: skip


VERDICT_COLUMNS = {"claim": pl.String, "as stated": pl.String, "measured": pl.String,
                   "baseline": pl.String, "p": pl.Float64, "q": pl.Float64, "events": pl.Int64,
                   "needed": pl.Int64, "verdict": pl.String}  # fmt: skip


def verdict_table(judgements: list[Judgement]) -> pl.DataFrame:
    """The verdict table: claim, as stated | measured, with interval | baseline | p | q (BH) |
    events counted | events needed | verdict. Apply :func:`control_fdr` first over the whole table."""
    f = _p_or_none
    return pl.DataFrame(
        {
            "claim": [j.claim.name for j in judgements],
            "as stated": [j.claim.stated for j in judgements],
            "measured": [j.measured for j in judgements],
            "baseline": [j.baseline for j in judgements],
            "p": [f(j.p) for j in judgements],
            "q": [f(j.q) for j in judgements],
            "events": [j.n_events for j in judgements],
            "needed": [j.needed for j in judgements],
            "verdict": [j.verdict.value for j in judgements],
        },
        schema=VERDICT_COLUMNS,
    )


def _p_or_none(v: float) -> float | None:
    """A p-value for the table: None where no test was possible."""
    return v if math.isfinite(v) else None


def claims_from_config(items: list[dict] | tuple) -> list[Claim]:
    """User claims from ``[[evidence.claims]]`` (each a table with Claim's fields)."""
    out = []
    for i, item in enumerate(items):
        data = item if isinstance(item, dict) else item.model_dump()
        try:
            out.append(Claim(**data))
        except TypeError as exc:
            raise ConfigError(f"evidence.claims[{i}]: {exc}") from None
    return out
