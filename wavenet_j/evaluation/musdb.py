"""Scoring models on MUSDB: separate each test track, score it as museval does, pool the paper's statistics.

Each track's scores are written (museval's own JSON, atomically) to ``<out>/<subset>/<track>.json``
as soon as the track is done, so a killed evaluation resumes without redoing a finished track
or trusting a half-written one. Tracks run in parallel processes, and ``shard=(i, n)`` takes
every n-th track from the i-th, so several machines can share a test set; the statistics are
then computed from whatever JSON files the output folder holds (the merge step). ``<out>/fingerprint.json``
says which model and separation options made them, so a resumed evaluation never mixes in, or
reports, another model's scores.

Optionally the estimates are kept too, as ``<estimates_dir>/<subset>/<track>/<source>.wav`` (the
layout of musdb's ``estimates_dir`` and museval's ``eval_mus_dir``), so sigsep's tools can score
them independently.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import warnings
from typing import TYPE_CHECKING

import numpy as np
import soundfile

from wavenet_j.atomic import atomic_path, write_text
from wavenet_j.data.tracks import ACCOMPANIMENT, MUSDB_STEMS, musdb_tracks, read_musdb_track
from wavenet_j.evaluation.bss import METRICS, evaluate_track
from wavenet_j.evaluation.statistics import csv_table, markdown_table, summarize
from wavenet_j.separation.options import SCORING, SeparationOptions
from wavenet_j.shards import shard_of

if TYPE_CHECKING:
    import keras
    from musdb.audio_classes import MultiTrack as MusdbTrack

_worker = {}

# Where the data and the runs live changes no estimate, and may move between a killed evaluation and
# its resumption.
_LOCATIONS = (
    "musdb_path",
    "corpus_root",
    "musdb_is_wav",
    "ccmixter_path",
    "data_path",
    "model_base_dir",
    "log_dir",
)


class EvaluationError(ValueError):
    """A results folder that holds the scores of another model or other separation options."""


def fingerprint(model: keras.Model, options: SeparationOptions) -> str:
    """sha256 of what decides a model's scores: its weights in order, its model_config, the separation
    options that change estimates. The same model loaded again (from its ``.keras`` file or its
    original checkpoint) gives the same fingerprint."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(value.tobytes())
    config = {key: value for key, value in model.model_config.items() if key not in _LOCATIONS}
    digest.update(json.dumps([config, options.estimates()], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def result_name(model_path: str | os.PathLike) -> str:
    """The name a model's results go by (its folder below ``evaluate``'s output, its column): a
    released model's name, the file's stem, or its run folder's name for a run's ``best.keras``."""
    path = os.fspath(model_path)
    stem = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    return os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "best" else stem


def references(audio, source_names):
    """The true sources of a MUSDB track (``[mixture, bass, drums, other, vocals]``) for a task."""
    stems = dict(zip(MUSDB_STEMS, audio[1:]))
    parts = [stems[stem] for stem in ACCOMPANIMENT]
    stems["accompaniment"] = sum(parts[1:], parts[0])
    return {name: stems[name] for name in source_names}


def score_track(
    model: keras.Model,
    track: MusdbTrack,
    *,
    options: SeparationOptions = SCORING,
    estimates_dir: str | None = None,
) -> dict:
    """``{source: {metric: [per-second values]}}`` of one musdb track, separated with ``options``.

    With ``estimates_dir`` the estimates are written there first, unless all of them already are.
    """
    from wavenet_j.separation import separate_track

    rate, audio = read_musdb_track(track)
    estimates = separate_track(model, audio[0], rate, options)
    if estimates_dir is not None:
        folder = _stems_folder(estimates_dir, track.subset, track.name)
        if not _has_stems(folder, estimates):
            _write_stems(folder, estimates, rate)
    return evaluate_track(references(audio, model.model_config["source_names"]), estimates, rate)


def _track_file(out_dir, subset, name):
    return os.path.join(out_dir, subset, f"{name}.json")


def _stems_folder(estimates_dir, subset, name):
    return os.path.join(estimates_dir, subset, name)


def _stem_file(folder, source):
    return os.path.join(folder, f"{source}.wav")


def _has_stems(folder, sources):
    return all(os.path.exists(_stem_file(folder, source)) for source in sources)


def _write_stems(folder, estimates, rate):
    """One wav per source, each atomically; 32-bit float, so whoever scores them scores exactly these
    numbers (16-bit would round them and clip what goes beyond full scale)."""
    for source, audio in estimates.items():
        with atomic_path(_stem_file(folder, source)) as temporary:
            soundfile.write(temporary, audio, rate, subtype="FLOAT", format="WAV")


def _write_scores(path, name, scores):
    import museval

    store = museval.TrackStore(track_name=name, win=1.0, hop=1.0)
    for source, values in scores.items():
        store.add_target(target_name=source, values=values)
    write_text(path, store.json)


def _check_fingerprint(folder, made_by, holds, kind="scores"):
    """Refuse a folder of ``kind`` (scores or estimates) that another model or other options made;
    claim a new one before its first track. ``holds``: whether it has any already."""
    path = os.path.join(folder, "fingerprint.json")
    if not os.path.exists(path):
        if holds:
            raise EvaluationError(
                f"{folder!r} holds {kind} but no fingerprint.json, so which model made them is unknown; "
                f"give another folder, or remove this one to score {made_by['model']!r}"
            )
        write_text(path, json.dumps(made_by, indent=1))
        return
    with open(path, encoding="utf-8") as handle:
        existing = json.load(handle)
    if existing["fingerprint"] != made_by["fingerprint"]:
        raise EvaluationError(
            f"{folder!r} holds the {kind} of model {existing['model']!r} with {existing['separation']} "
            f"(fingerprint {existing['fingerprint'][:12]}), not of {made_by['model']!r} with "
            f"{made_by['separation']} ({made_by['fingerprint'][:12]}); give another folder, or remove "
            f"this one to score again"
        )


def _start_worker(model_path, config, job):
    """A worker process loads the model itself: a Keras model does not cross processes."""
    from wavenet_j.interop import load_separator

    _keep(load_separator(model_path, config), **job)


def _keep(model, *, root, subset, options, estimates_dir):
    """What ``_score_in_worker`` scores with in this process."""
    _worker.update(
        model=model,
        tracks={t.name: t for t in musdb_tracks(root, subset)},
        options=options,
        estimates_dir=estimates_dir,
    )


def _score_in_worker(name, path):
    scores = score_track(
        _worker["model"],
        _worker["tracks"][name],
        options=_worker["options"],
        estimates_dir=_worker["estimates_dir"],
    )
    _write_scores(path, name, scores)
    return name


def evaluate_model(
    model_path,
    out_dir,
    root,
    *,
    config=None,
    subset="test",
    options=SCORING,
    shard=(0, 1),
    workers=1,
    progress=lambda track: None,
    estimates_dir=None,
):
    """Score every not yet scored track of this shard; returns the statistics of all tracks in ``out_dir``.

    Args:
        model_path: a ``.keras`` model, or an original TF1 checkpoint prefix (with ``config``).
        out_dir: the results folder: ``<subset>/<track>.json``, ``fingerprint.json`` and the statistics.
        root: the MUSDB18 or MUSDB18-HQ folder holding ``train/`` and ``test/``.
        config: the ``ModelConfig`` of an original checkpoint; None for ``.keras``.
        subset: ``"test"`` or ``"train"``.
        options: the ``SeparationOptions`` (by default ``SCORING``: the original's window grid).
        shard: ``(i, n)`` scores every n-th track from the i-th; the statistics cover all tracks scored.
        workers: processes scoring tracks in parallel, each loading the model.
        progress: called with each track's name once it is scored.
        estimates_dir: where the estimates are kept as wav; a scored track whose estimates are not all
            there is separated and scored again.

    Raises:
        EvaluationError: ``out_dir`` holds the scores, or ``estimates_dir`` the estimates, of another
            model or other separation options.
    """
    from wavenet_j.interop import load_separator

    names = shard_of([t.name for t in musdb_tracks(root, subset)], shard)
    model = load_separator(model_path, config)
    scored = load_scores(out_dir, subset)
    made_by = {
        "fingerprint": fingerprint(model, options),
        "model": os.fspath(model_path),
        "separation": options.estimates(),
    }
    _check_fingerprint(out_dir, made_by, scored)
    if estimates_dir is not None:
        subset_stems = os.path.join(estimates_dir, subset)
        _check_fingerprint(estimates_dir, made_by, os.path.isdir(subset_stems), "estimates")
    pending = [
        (name, _track_file(out_dir, subset, name))
        for name in names
        if name not in scored
        or (
            estimates_dir is not None
            and not _has_stems(_stems_folder(estimates_dir, subset, name), scored[name])
        )
    ]
    job = {"root": root, "subset": subset, "options": options, "estimates_dir": estimates_dir}
    if workers > 1 and len(pending) > 1:
        context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
        with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(model_path, config, job)
        ) as pool:
            for done in pool.map(_score_in_worker, *zip(*pending)):
                progress(done)
    elif pending:
        _keep(model, **job)
        for name, path in pending:
            progress(_score_in_worker(name, path))
    return write_statistics(out_dir, subset)


def load_scores(out_dir: str, subset: str = "test") -> dict:
    """``{track: {source: {metric: [...]}}}`` from the museval JSON files of a results folder."""
    folder = os.path.join(out_dir, subset)
    scores = {}
    for file in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if file.endswith(".json"):
            with open(os.path.join(folder, file), encoding="utf-8") as handle:
                data = json.load(handle)
            scores[file[: -len(".json")]] = {
                target["name"]: {
                    m: [
                        np.nan if f["metrics"][m] is None else float(f["metrics"][m])
                        for f in target["frames"]
                    ]
                    for m in METRICS
                }
                for target in data["targets"]
            }
    return scores


def write_statistics(out_dir, subset="test", name=None):
    """Pool all tracks' segments into the paper's statistics; write them as CSV and markdown."""
    scores = load_scores(out_dir, subset)
    if not scores:
        raise ValueError(f"no track scores under {os.path.join(out_dir, subset)!r}")
    column = {name or os.path.basename(os.path.normpath(out_dir)): summarize(scores)}
    for file, text in (("statistics.csv", csv_table(column)), ("statistics.md", markdown_table(column))):
        write_text(os.path.join(out_dir, file), text)
    return column


def scored_models(paths, subset="test"):
    """``{model: scores}`` of each folder of ``paths`` that holds ``<subset>/*.json``, or of its
    subfolders that do (``evaluate``'s output folder: one per model), named by folder."""
    results = {}
    for path in map(os.fspath, paths):
        folders = (
            [path] + sorted(entry.path for entry in os.scandir(path) if entry.is_dir())
            if os.path.isdir(path)
            else []
        )
        found = {
            os.path.basename(os.path.normpath(folder)): load_scores(folder, subset) for folder in folders
        }
        found = {name: scores for name, scores in found.items() if scores}
        if not found:
            raise EvaluationError(f"no museval scores ({subset}/*.json) in {path!r} or its subfolders")
        results.update(found)
    return results


def write_comparison(out_dir, subset="test"):
    """``comparison.md`` and the SDR violins of every model scored in ``out_dir``'s subfolders, so a
    second evaluation into one folder compares with the first; returns the markdown. The tracks each
    model was scored on are listed, and a warning says when they differ."""
    from wavenet_j.evaluation.plots import sdr_violins

    results = scored_models([out_dir], subset)
    tracks = {name: sorted(scores) for name, scores in results.items()}
    counts = ", ".join(f"{name} {len(names)}" for name, names in tracks.items())
    text = markdown_table({name: summarize(scores) for name, scores in results.items()})
    text += f"\n{subset} tracks scored: {counts}\n"
    if len({tuple(names) for names in tracks.values()}) > 1:
        warnings.warn(
            f"the models in {out_dir!r} were scored on different {subset} tracks ({counts}): "
            f"their statistics do not compare like for like"
        )
    write_text(os.path.join(out_dir, "comparison.md"), text)
    sdr_violins(results, os.path.join(out_dir, "sdr_violins"))
    return text
