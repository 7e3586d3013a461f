"""Evidence: the event study and verdicts on claims (SPEC section 5); the statistics are
:mod:`oiradar.stats`."""

from oiradar.evidence.claims import (
    SEED_CLAIMS,
    Claim,
    Judgement,
    Verdict,
    judge,
    verdict_table,
)
from oiradar.evidence.pipeline import (
    Prepared,
    all_claims,
    judge_claims,
    prepare,
    run_signal_study,
    signal_mask,
    study_config,
)
from oiradar.evidence.study import (
    BASELINES,
    StudyArrays,
    StudyConfig,
    StudyResult,
    run_study,
    study_frame,
)

__all__ = [
    "BASELINES",
    "SEED_CLAIMS",
    "Claim",
    "Judgement",
    "Prepared",
    "StudyArrays",
    "StudyConfig",
    "StudyResult",
    "Verdict",
    "all_claims",
    "judge",
    "judge_claims",
    "prepare",
    "run_signal_study",
    "run_study",
    "signal_mask",
    "study_config",
    "study_frame",
    "verdict_table",
]
