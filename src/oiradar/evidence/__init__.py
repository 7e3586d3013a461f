"""Evidence: the event study and verdicts on claims (``docs/evidence.md``); the statistics are
:mod:`oiradar.stats`."""

from oiradar.evidence.claims import (
    SEED_CLAIMS,
    Claim,
    Judgement,
    Verdict,
    control_fdr,
    judge,
    verdict_table,
)
from oiradar.evidence.pipeline import (
    Prepared,
    all_claims,
    judge_claims,
    prepare,
    run_signal_study,
    signal_arrays,
    signal_mask,
    study_config,
)
from oiradar.evidence.pooled import (
    PooledResult,
    SeriesPart,
    judge_pooled,
    pool,
    pooled_verdict_table,
    series_part,
)
from oiradar.evidence.study import (
    BASELINES,
    MIN_INTERVAL_EVENTS,
    Outcomes,
    StudyArrays,
    StudyConfig,
    StudyResult,
    run_study,
    study_frame,
)

__all__ = [
    "BASELINES",
    "MIN_INTERVAL_EVENTS",
    "SEED_CLAIMS",
    "Claim",
    "Judgement",
    "Outcomes",
    "PooledResult",
    "Prepared",
    "SeriesPart",
    "StudyArrays",
    "StudyConfig",
    "StudyResult",
    "Verdict",
    "all_claims",
    "control_fdr",
    "judge",
    "judge_claims",
    "judge_pooled",
    "pool",
    "pooled_verdict_table",
    "prepare",
    "run_signal_study",
    "run_study",
    "series_part",
    "signal_arrays",
    "signal_mask",
    "study_config",
    "study_frame",
    "verdict_table",
]
