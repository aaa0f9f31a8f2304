"""Which keys a run may be resumed with other values of, checked against the run's records.

A run continues only what it trained: its checkpoint holds weights, optimizer and schedule state
of one model on one split, so another value of a key that changes what is trained is refused.
"""

import json
import os

from wavenet_j.configs import BASE_CONFIG, upgrade_saved_config
from wavenet_j.data.pipeline import partition_tracks
from wavenet_j.training.errors import TrainingError

STOPPING_KEYS = ("max_epochs", "worse_epochs")  # the run continues under the given limits, and says so
# musdb_path and data_path are said through the corpus_root they give
QUIET_KEYS = (
    "model_base_dir",
    "log_dir",
    "data_path",
    "musdb_path",
    "musdb_is_wav",
    "checkpoint_steps",
    "jit_compile",
)
CORPUS_KEYS = ("corpus_root", "ccmixter_path")  # a moved corpus: allowed while it gives the same split
_MAY_DIFFER = STOPPING_KEYS + QUIET_KEYS + CORPUS_KEYS
_ADVICE = "use another --id (experiment_id) for a new run, or the recorded values to continue this one"


def track_split(config):
    """``{"valid": track names, "train": track names}`` of a config."""
    return {
        partition: [t.name for t in partition_tracks(config, partition)] for partition in ("valid", "train")
    }


def read_record(path):
    """A run's JSON record, or None where the run has none."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def config_changes(recorded, config):
    """``{key: (recorded value, given value)}`` of the keys whose values differ; a key the record
    lacks has its default."""
    recorded = dict(BASE_CONFIG, **upgrade_saved_config(recorded))
    given = json.loads(json.dumps(config))  # as the record holds it: lists, not tuples
    return {
        key: (recorded.get(key), given.get(key))
        for key in sorted(set(recorded) | set(given))
        if recorded.get(key) != given.get(key)
    }


def check_resumable(run_dir, config):
    """Raise TrainingError unless ``config`` continues what ``run_dir`` records; returns the line
    saying which stopping limits or corpus paths differ, or None."""
    recorded = read_record(os.path.join(run_dir, "model_config.json"))
    if recorded is None:
        return None
    changes = config_changes(recorded, config)
    trained = {key: values for key, values in changes.items() if key not in _MAY_DIFFER}
    if trained:
        listing = ", ".join(f"{key} {old!r} (given {new!r})" for key, (old, new) in trained.items())
        raise TrainingError(f"run {run_dir} was trained with {listing}; {_ADVICE}")
    moved = {key: values for key, values in changes.items() if key in CORPUS_KEYS}
    if moved:
        _check_split(run_dir, config, moved)
    said = {key: values for key, values in changes.items() if key in STOPPING_KEYS + CORPUS_KEYS}
    if not said:
        return None
    return f"run {run_dir} continues with " + ", ".join(
        f"{key} {new!r} (recorded {old!r})" for key, (old, new) in said.items()
    )


def _check_split(run_dir, config, moved):
    """A moved corpus must give the tracks the run was trained and validated on."""
    paths = ", ".join(f"{key} {new!r} (recorded {old!r})" for key, (old, new) in moved.items())
    recorded = read_record(os.path.join(run_dir, "split.json"))
    if recorded is None:
        raise TrainingError(
            f"run {run_dir} has no split.json to compare the tracks of {paths} with; {_ADVICE}"
        )
    given = track_split(config)
    differing = [
        _track_changes(partition, recorded.get(partition, []), names)
        for partition, names in given.items()
        if recorded.get(partition) != names
    ]
    if differing:
        tracks = "; ".join(differing)
        raise TrainingError(
            f"run {run_dir} was trained on other tracks than {paths} gives ({tracks}); {_ADVICE}"
        )


def _track_changes(partition, recorded, given):
    lost, added = sorted(set(recorded) - set(given)), sorted(set(given) - set(recorded))
    if not lost and not added:
        return f"{partition}: the same tracks in another order"
    return f"{partition}: {_names(lost)} recorded, {_names(added)} given"


def _names(names, shown=3):
    if not names:
        return "none"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(repr(name) for name in names[:shown]) + more
