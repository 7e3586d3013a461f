"""Claims and the verdict table: a claim, as stated | measured, with interval | baseline | verdict.

The seed article's testable claims are built in (:data:`SEED_CLAIMS`); users add their own under
``[[evidence.claims]]`` in ``oiradar.toml``. A claim is judged only on enough events: below
``min_events`` (SPEC: about 80 before a 70 % rate has a lower bound above 60 %) the verdict is
``insufficient data``, whatever the point estimate says.

Rules (one-sided, because every claim here says "at least"/"better than"):

- ``rate > v``: supported when the Wilson lower bound exceeds ``v``;
- ``lift > v``: supported when the block-bootstrap lower bound of (event rate - baseline rate)
  exceeds ``v`` **and** the exact binomial test against the baseline rate has ``p < alpha``.

Otherwise ``not supported``: the data do not show it (which is not the same as showing the opposite).

The seed's "edge" claims are judged against the ``near_high`` baseline (bars near the highs without
the OI condition): the claim is that the *OI* condition adds something, and a market that simply
mean-reverts near its highs would otherwise hand the signal a lift it did not earn
(``docs/decisions/0601-edge-baseline.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from oiradar.errors import ConfigError
from oiradar.evidence.study import BASELINES, StudyResult
from oiradar.model import Side


class Verdict(StrEnum):
    SUPPORTED = "supported"
    NOT_SUPPORTED = "not supported"
    INSUFFICIENT = "insufficient data"


METRICS = ("rate", "lift")


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
        if self.baseline not in BASELINES:
            raise ConfigError(
                f"claim {self.name!r}: baseline must be one of {BASELINES}, got {self.baseline!r}"
            )
        if self.side not in tuple(Side):
            raise ConfigError(
                f"claim {self.name!r}: side must be 'short' or 'long', got {self.side!r}"
            )
        object.__setattr__(self, "side", Side(self.side))

    @property
    def stated(self) -> str:
        what = (
            "reversal rate" if self.metric == "rate" else f"lift over the {self.baseline} baseline"
        )
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
)


@dataclass(frozen=True)
class Judgement:
    claim: Claim
    measured: str
    baseline: str
    verdict: Verdict
    n_events: int


def judge(claim: Claim, res: StudyResult, alpha: float | None = None) -> Judgement:
    """Apply the module's rules to one claim and the study of its signal."""
    alpha = res.config.alpha if alpha is None else alpha
    base = res.baselines.get(claim.baseline)
    base_txt = "n/a" if base is None else f"{base.rate:.3f} ({claim.baseline}, {base.n} bars)"
    if claim.metric == "rate":
        measured = f"{res.rate.interval} ({res.n_events} events)"
        ok = res.rate.interval.low > claim.value
    else:
        lift = res.lift.get(claim.baseline)
        p = res.p_value.get(claim.baseline, math.nan)
        measured = "n/a" if lift is None else f"lift {lift}, p={p:.3g} ({res.n_events} events)"
        ok = lift is not None and lift.low > claim.value and p < alpha
    if not res.sufficient:
        verdict = Verdict.INSUFFICIENT
    else:
        verdict = Verdict.SUPPORTED if ok else Verdict.NOT_SUPPORTED
    return Judgement(claim, measured, base_txt, verdict, res.n_events)


def verdict_table(judgements: list[Judgement]) -> pl.DataFrame:
    """The verdict table: claim, as stated | measured, with interval | baseline | verdict."""
    return pl.DataFrame(
        {
            "claim": [j.claim.name for j in judgements],
            "as stated": [j.claim.stated for j in judgements],
            "measured": [j.measured for j in judgements],
            "baseline": [j.baseline for j in judgements],
            "verdict": [j.verdict.value for j in judgements],
        },
        schema={c: pl.String for c in ("claim", "as stated", "measured", "baseline", "verdict")},
    )


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
