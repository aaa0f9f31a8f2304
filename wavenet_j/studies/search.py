"""Architecture search with J twins: rank U variants by their cheap random-encoder twins and train
only the best."""

import json
import os

import numpy as np

from wavenet_j.atomic import write_text
from wavenet_j.studies.correlation import StudyError
from wavenet_j.studies.study import Study


def _twin(name):
    """The J model of U model ``name``: the same architecture with a random frozen encoder."""
    return "J" + name[1:]


def _validation_loss(study, name):
    with open(os.path.join(os.path.dirname(study.trained(name)), "result.json"), encoding="utf-8") as handle:
        return json.load(handle)["best_validation_loss"]


def _search_study(candidates, out_dir, **options):
    if not candidates or any(not name.startswith("U") for name in candidates):
        raise StudyError(f"candidates must be U models (their J twins are derived): {candidates}")
    study = Study(out_dir, **options)
    study.check(list(candidates) + [_twin(name) for name in candidates])  # an unknown name as it was typed
    return study


def plan_search(candidates, out_dir, *, base=("tiny",), study_id="search", overrides=None):
    """``Study.plan`` rows for a search: every J twin, then every candidate (trained only if in the top k)."""
    study = _search_study(candidates, out_dir, base=base, study_id=study_id, overrides=overrides)
    return study.plan([(_twin(name), 1) for name in candidates] + [(name, 1) for name in candidates])


def search(candidates, out_dir, *, base=("tiny",), top_k=2, study_id="search", overrides=None):
    """Rank U variants by their cheap J twins (random frozen encoder), train only the top ``top_k`` as U.

    Ranking uses the validation loss, so the test set stays untouched by the choice. The time
    saved is estimated from the U runs that were trained: their mean time for each U left out.
    """
    study = _search_study(candidates, out_dir, base=base, study_id=study_id, overrides=overrides)
    ranking = sorted(((_validation_loss(study, _twin(name)), name) for name in candidates))
    finalists = [(_validation_loss(study, name), name) for _, name in ranking[:top_k]]
    trained = [_twin(name) for name in candidates] + [name for _, name in finalists]
    seconds = {name: study.record(name)["train_seconds"] for name in trained}
    u_times = [seconds[name] for _, name in finalists]
    result = {
        "ranking_by_j_validation_loss": [
            {"model": name, "j_validation_loss": loss} for loss, name in ranking
        ],
        "finalists_u_validation_loss": {name: loss for loss, name in finalists},
        "chosen": min(finalists)[1],
        "train_seconds": seconds,
        "estimated_seconds_saved": round(float(np.mean(u_times)) * (len(candidates) - len(finalists)), 1),
    }
    write_text(os.path.join(out_dir, "search.json"), json.dumps(result, indent=1))
    return result
