"""Evidence: the event study, its statistics, and verdicts on claims (SPEC section 5)."""

from oiradar.evidence.claims import SEED_CLAIMS, Claim, Verdict, judge, verdict_table
from oiradar.evidence.study import StudyArrays, StudyConfig, StudyResult, run_study, study_frame

__all__ = [
    "SEED_CLAIMS",
    "Claim",
    "StudyArrays",
    "StudyConfig",
    "StudyResult",
    "Verdict",
    "judge",
    "run_study",
    "study_frame",
    "verdict_table",
]
