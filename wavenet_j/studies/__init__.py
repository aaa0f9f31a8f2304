"""The J-Net study: do random-encoder (J) models rank architectures as their trained (U) twins do?"""

from wavenet_j.studies.correlation import StudyError, correlate, quadrant_share
from wavenet_j.studies.paper import PAIRS, TABLES
from wavenet_j.studies.bench import Benchmark, plan_bench, run_bench
from wavenet_j.studies.proxies import PROXIES, compute_proxies
from wavenet_j.studies.scoring import score_proxies
from wavenet_j.studies.search import plan_search, rank_by_proxy, search
from wavenet_j.studies.study import Study, plan_study, run_study, schedule_steps, study_models

__all__ = [
    "PAIRS",
    "PROXIES",
    "Benchmark",
    "TABLES",
    "Study",
    "StudyError",
    "compute_proxies",
    "correlate",
    "plan_bench",
    "plan_search",
    "plan_study",
    "quadrant_share",
    "rank_by_proxy",
    "run_bench",
    "run_study",
    "schedule_steps",
    "score_proxies",
    "search",
    "study_models",
]
