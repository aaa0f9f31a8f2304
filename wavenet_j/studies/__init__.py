"""The J-Net study: do random-encoder (J) models rank architectures as their trained (U) twins do?"""

from wavenet_j.studies.correlation import StudyError, correlate, quadrant_share
from wavenet_j.studies.paper import PAIRS, TABLES
from wavenet_j.studies.search import plan_search, search
from wavenet_j.studies.study import Study, plan_study, run_study, schedule_steps, study_models

__all__ = [
    "PAIRS",
    "TABLES",
    "Study",
    "StudyError",
    "correlate",
    "plan_search",
    "plan_study",
    "quadrant_share",
    "run_study",
    "schedule_steps",
    "search",
    "study_models",
]
