"""Is a J model's score a guide to its U twin's? Correlations with bootstrap intervals, and quadrants."""

import numpy as np
from scipy import stats


class StudyError(ValueError):
    """Results that cannot be compared as asked (too few pairs, different test sets, missing runs)."""


MEASURES = {
    "pearson": lambda a, b: stats.pearsonr(a, b)[0],
    "spearman": lambda a, b: stats.spearmanr(a, b)[0],
    "kendall": lambda a, b: stats.kendalltau(a, b)[0],
}


def correlate(u_scores, j_scores, bootstrap=2000, seed=0, measures=("pearson", "spearman")):
    """Correlations of paired scores (``MEASURES``), each with a 95% percentile bootstrap interval."""
    u, j = np.asarray(u_scores, dtype=float), np.asarray(j_scores, dtype=float)
    if len(u) != len(j):
        raise StudyError(f"{len(u)} U scores but {len(j)} J scores: they must be pairs")
    if len(u) < 3:
        raise StudyError(f"a correlation needs at least three (U, J) pairs; there are {len(u)}")
    result = {"pairs": len(u)}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(u), size=(bootstrap, len(u)))
    for name in measures:
        function = MEASURES[name]
        result[name] = float(function(u, j))
        samples = [function(u[d], j[d]) for d in draws if np.ptp(u[d]) > 0 and np.ptp(j[d]) > 0]
        result[f"{name}_ci95"] = [
            float(np.nanpercentile(samples, 2.5)),
            float(np.nanpercentile(samples, 97.5)),
        ]
    return result


def quadrant_share(points, origin):
    """Share of pairs (origin excluded) in the first or third quadrant around the origin pair:
    a better (worse) J goes with a better (worse) U."""
    u0, j0 = points[origin]
    others = [(u - u0, j - j0) for label, (u, j) in points.items() if label != origin]
    if not others:
        raise StudyError("quadrants need pairs besides the origin pair")
    return float(np.mean([du * dj > 0 for du, dj in others]))
