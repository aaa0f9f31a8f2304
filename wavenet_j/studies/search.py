"""Architecture search: rank U variants by their cheap random-encoder (J) twins and train only the best,
or rank them in seconds by a training-free proxy."""

import json
import os

import numpy as np

from wavenet_j.atomic import write_text
from wavenet_j.configs import ConfigError, resolve_config
from wavenet_j.studies.correlation import StudyError
from wavenet_j.studies.paper import j_twin
from wavenet_j.studies.proxies import PROXIES, VOTE, compute_proxies, vote
from wavenet_j.studies.study import Study


def _validation_loss(study, name):
    return study.result(name)["best_validation_loss"]


def _search_study(candidates, out_dir, **options):
    if not candidates or any(not name.startswith("U") for name in candidates):
        raise StudyError(f"candidates must be U models (their J twins are derived): {candidates}")
    study = Study(out_dir, **options)
    study.check(list(candidates) + [j_twin(name) for name in candidates])  # an unknown name as it was typed
    return study


def plan_search(candidates, out_dir, *, base=("tiny",), study_id="search", overrides=None):
    """``Study.plan`` rows for a search: every J twin, then every candidate (trained only if in the top k)."""
    study = _search_study(candidates, out_dir, base=base, study_id=study_id, overrides=overrides)
    return study.plan([(j_twin(name), 1) for name in candidates] + [(name, 1) for name in candidates])


def search(candidates, out_dir, *, base=("tiny",), top_k=2, study_id="search", overrides=None):
    """Rank U variants by their cheap J twins (random frozen encoder), train only the top ``top_k`` as U.

    Ranking uses the validation loss, so the test set stays untouched by the choice. The time
    saved is estimated from the U runs that were trained: their mean time for each U left out.
    """
    study = _search_study(candidates, out_dir, base=base, study_id=study_id, overrides=overrides)
    ranking = sorted(((_validation_loss(study, j_twin(name)), name) for name in candidates))
    finalists = [(_validation_loss(study, name), name) for _, name in ranking[:top_k]]
    trained = [j_twin(name) for name in candidates] + [name for _, name in finalists]
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


def rank_by_proxy(candidates, proxy, *, base=("tiny",), overrides=None):
    """Rank candidates by a training-free proxy (``proxies.PROXIES`` or ``vote``) at their initial
    weights, best first; nothing trains, so the ranking takes seconds a candidate."""
    if proxy not in (*PROXIES, "vote"):
        raise StudyError(f"unknown proxy {proxy!r}; known: J, {', '.join(PROXIES)}, vote")
    names = list(dict.fromkeys(candidates))
    try:
        configs = {name: resolve_config([name, *base], overrides) for name in names}
    except ConfigError as error:
        raise StudyError(str(error)) from error
    measured = {name: compute_proxies(configs[name], VOTE if proxy == "vote" else (proxy,)) for name in names}
    if proxy == "vote":
        values = dict(zip(names, vote({p: [measured[n][p]["value"] for n in names] for p in VOTE})))
        seconds = {n: sum(r["seconds"] for r in measured[n].values()) for n in names}
    else:
        values = {n: measured[n][proxy]["value"] for n in names}
        seconds = {n: measured[n][proxy]["seconds"] for n in names}
    ranking = sorted(names, key=lambda n: -values[n])
    return {
        f"ranking_by_{proxy}": [{"model": n, proxy: values[n], "seconds": seconds[n]} for n in ranking],
        "chosen": ranking[0],
        "seconds": round(sum(seconds.values()), 1),
    }
