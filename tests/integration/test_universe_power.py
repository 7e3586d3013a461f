"""The pooled study where the truth is known: simulated universes with a planted reversal rate after
``divergence`` (0.65: an edge) or 0.5 (a coin: no edge), studied by ``oiradar study --pooled``.

- **Power**: each group of symbols is one repetition (its own seeds, its own pooled study). A
  planted 0.65 is detected (the pooled test of "rate > 0.5" at the 5 % level) about as often as
  the method promises for the events the group has (the normal approximation behind
  :func:`oiradar.stats.events_needed`: 80 % at the events it says are needed); and the pooled
  rate's interval covers 0.65 about 95 % of the time.
- **Null**: with 0.5 planted, the same test rejects in at most about 5 % of the groups, and across
  every series of the universe the Benjamini-Hochberg discoveries among claims known to be false
  stay within the false-discovery rate.

The checks are tolerance bands of the binomial (Poisson-binomial) distribution of the counts
over a handful of repetitions: wide, as a handful allows, but two-sided where they can be.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from oiradar.app.session import Session
from oiradar.app.study import StudyOptions, pooled_study, run_studies
from oiradar.config import Settings
from oiradar.model import Timeframe
from oiradar.sim import UniverseSpec, universe_markets
from oiradar.stats import events_needed, norm_cdf, norm_ppf

pytestmark = pytest.mark.slow

GROUPS, PER_GROUP, DAYS = 10, 3, 20  # 10 repetitions of 3 symbols x 20 days of 5m bars
EDGE, COIN, ALPHA, POWER = 0.65, 0.5, 0.05, 0.8
CLAIM = "planted.above_coin"
TAIL = 0.005  # a count whose probability in either tail is below this fails the test
# A one-day peak window and a 5 % OI drawdown make divergence frequent (about one event per
# symbol-day), so that a repetition holds the events of a real study in a few symbol-weeks. The
# universe plants its edge with the same settings the study reads.
SETTINGS = Settings.model_validate({
    "features": {"peak_window": "1d"}, "signals": {"divergence_dd": 0.05},
    "evidence": {"claims": [{
        "name": CLAIM, "text": "after divergence the price reverses more often than a coin says",
        "signal": "divergence", "metric": "rate", "value": COIN}]},
})  # fmt: skip


def promised_power(n: int, p1: float = EDGE, p0: float = COIN, alpha: float = ALPHA) -> float:
    """The power the method promises at ``n`` events: the normal approximation that
    :func:`~oiradar.stats.events_needed` inverts (Lachin 1981)."""
    z = (abs(p1 - p0) * math.sqrt(n) - norm_ppf(1 - alpha) * math.sqrt(p0 * (1 - p0)))
    return norm_cdf(z / math.sqrt(p1 * (1 - p1)))


def poisson_binomial(ps: list[float]) -> np.ndarray:
    """P(X = k), k = 0..len(ps), for a sum of independent Bernoulli(p_i)."""
    dist = np.array([1.0])
    for p in ps:
        dist = np.convolve(dist, [1 - p, p])
    return dist


def in_band(count: int, ps: list[float]) -> bool:
    dist = poisson_binomial(ps)
    return dist[: count + 1].sum() >= TAIL and dist[count:].sum() >= TAIL


def universe(home: Path, edge: float, seed: int) -> Session:
    """``GROUPS x PER_GROUP`` symbols with ``edge`` planted, group ``g`` on exchange ``g<g>``."""
    session = Session(SETTINGS, home)
    spec = UniverseSpec(symbols=GROUPS * PER_GROUP, days=DAYS, seed=seed, timeframe=Timeframe.M5,
                        edge=edge)  # fmt: skip
    for m in universe_markets(spec, SETTINGS, workers=2):
        m.result.write(session.catalog, f"g{m.index % GROUPS}", m.symbol)
    return session


def claim_rows(session: Session, exchange: str | None) -> dict[str, object]:
    opts = StudyOptions(timeframe=Timeframe.M5, exchange=exchange, signals=("divergence",),
                        reps=400)  # fmt: skip
    table = pooled_study(session, opts).verdicts
    return table.filter(table["claim"] == CLAIM).row(0, named=True)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return universe(tmp_path_factory.mktemp("edge"), EDGE, seed=21)


@pytest.fixture(scope="module")
def null(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return universe(tmp_path_factory.mktemp("null"), COIN, seed=22)


def test_the_promise_is_the_methods_events_needed() -> None:
    needed = events_needed(EDGE, COIN, ALPHA, POWER)
    assert promised_power(needed) >= POWER > promised_power(needed - 1)


def test_planted_edge_is_found_with_the_promised_power(planted: Session) -> None:
    rows = [claim_rows(planted, f"g{g}") for g in range(GROUPS)]
    events = [int(r["events"]) for r in rows]  # type: ignore[call-overload]
    detected = sum(r["p"] is not None and r["p"] <= ALPHA for r in rows)  # type: ignore[operator]
    covered = sum(r["rate_low"] <= EDGE <= r["rate_high"] for r in rows)  # type: ignore[operator]
    power = [promised_power(n) for n in events]
    assert min(events) >= 15, events
    assert in_band(detected, power), (detected, [round(p, 2) for p in power], events)
    assert in_band(covered, [0.95] * GROUPS), (covered, rows)
    whole = claim_rows(planted, None)  # every group pooled: one universe of 40 symbols
    assert whole["series"] == GROUPS * PER_GROUP
    assert whole["rate_low"] <= EDGE <= whole["rate_high"], whole  # type: ignore[operator]
    assert whole["p"] <= ALPHA and whole["events"] == sum(events), whole  # type: ignore[operator]


def test_no_edge_gives_no_discovery_beyond_the_false_discovery_rate(null: Session) -> None:
    rows = [claim_rows(null, f"g{g}") for g in range(GROUPS)]
    false_hits = sum(r["p"] is not None and r["p"] <= ALPHA for r in rows)  # type: ignore[operator]
    assert in_band(false_hits, [ALPHA] * GROUPS) and false_hits <= 3, rows
    # every series alone, Benjamini-Hochberg over the whole table
    opts = StudyOptions(timeframe=Timeframe.M5, signals=("divergence",), reps=200)
    table = run_studies(null, opts).verdicts
    known_false = table.filter(table["claim"].is_in([CLAIM, "seed.divergence_reversal_70"]))
    assert known_false.height == 2 * GROUPS * PER_GROUP
    found = table.filter(table["q"] <= ALPHA)
    wrong = found.filter(found["claim"].is_in([CLAIM, "seed.divergence_reversal_70"])).height
    assert wrong <= max(1, round(ALPHA * found.height)), found
