"""The decoded, resampled corpus on disk, so training never decodes or resamples.

One ``.npy`` per track (``[sources, samples, channels]`` float32, memory-mappable), in a folder
keyed by (dataset, sample rate, channels); changing the rate or channels builds another folder,
never mixes. Each file is written under a temporary name and renamed when complete, and the
manifest lists only finished tracks, so a run killed at any point resumes: finished tracks are
kept, a partial file is never trusted. Each manifest entry records the size and mtime of the
source files its track was read from; a track whose files differ is cached again.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import soxr
from tqdm import tqdm

from wavenet_j.atomic import atomic_path, write_text
from wavenet_j.audio import to_model_channels
from wavenet_j.configs import corpus_root
from wavenet_j.data.tracks import (
    CCMIXTER_FILES,
    MUSDB_STEMS,
    ccmixter_track_files,
    ccmixter_tracks,
    musdb_track_files,
    musdb_tracks,
    read_ccmixter_track,
    read_musdb_track,
)

MANIFEST = "manifest.json"


@dataclasses.dataclass(frozen=True)
class CachedTrack:
    name: str
    path: str
    sources: tuple  # what the first axis of the array holds: "mixture", then stems
    samples: int

    def load(self):
        """``[sources, samples, channels]``, memory-mapped: only what is read is paged in."""
        return np.load(self.path, mmap_mode="r")


def cache_folder(model_config, dataset, root):
    """Where one dataset's tracks live at the config's rate and channel count."""
    root = os.path.abspath(root)
    tag = hashlib.sha1(root.encode()).hexdigest()[:8]
    name = f"{dataset}-{os.path.basename(root.rstrip(os.sep)) or 'root'}-{tag}"
    rate_channels = f"{model_config['expected_sr']}hz-{model_config['num_channels']}ch"
    return os.path.join(model_config["data_path"], "cache", name, rate_channels)


def convert(audio, rate, model_config):
    """``[sources, samples, channels]`` at any rate -> the model's rate and channels, float32.

    The channels follow ``to_model_channels``; resampling uses soxr's high quality setting.
    """
    audio = to_model_channels(audio, model_config["num_channels"])
    target = model_config["expected_sr"]
    if rate != target:
        audio = np.stack([soxr.resample(source, rate, target, quality="HQ") for source in audio])
    return np.ascontiguousarray(audio, dtype=np.float32)


def _load_manifest(folder):
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["tracks"]


def _save_manifest(folder, tracks):
    write_text(os.path.join(folder, MANIFEST), json.dumps({"tracks": tracks}, indent=1, sort_keys=True))


class SourceTrack(NamedTuple):
    """One track to cache: its name, the files it is read from, and ``read() -> (rate, audio, sources)``."""

    name: str
    files: list
    read: Callable


def _file_record(paths):
    """``{path: [size, st_mtime_ns]}`` of the files that exist: what a cached track is checked against."""
    record = {}
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            stat = os.stat(path)
            record[os.path.abspath(path)] = [stat.st_size, stat.st_mtime_ns]
    return record


def _stale(name, entry, record):
    """Why a manifest entry no longer holds its track's audio (one line), or None when it does."""
    if "files" not in entry:
        return f"track {name!r}: its cache entry has no record of its source files; caching it again"
    cached = entry["files"]
    for path in sorted(set(cached) | set(record)):
        file = os.path.basename(path)
        if path not in record:
            what = f"{file} is missing"
        elif path not in cached:
            what = f"{file} is not among the files it was cached from"
        elif cached[path] != record[path]:
            what = f"{file} changed since it was cached"
        else:
            continue
        return f"track {name!r}: {what}; caching it again"
    return None


def _cached(folder, tracks, model_config, description):
    """Cache every SourceTrack not cached yet or whose files differ from those it was cached from
    (size or mtime), so an edited source file never leaves its old audio in training."""
    os.makedirs(folder, exist_ok=True)
    done = {
        name: entry
        for name, entry in _load_manifest(folder).items()
        if os.path.exists(os.path.join(folder, entry["file"]))
    }
    todo = []
    for track in tracks:
        record = _file_record(track.files)  # taken before reading: a file edited meanwhile differs next time
        if track.name not in done:
            todo.append((track, record, None))
        elif reason := _stale(track.name, done[track.name], record):
            todo.append((track, record, reason))
    for track, record, reason in tqdm(todo, desc=description, unit="track", disable=not todo):
        if reason:
            tqdm.write(reason)
        rate, audio, sources = track.read()
        audio = convert(audio, rate, model_config)
        file = hashlib.sha1(track.name.encode()).hexdigest()[:16] + ".npy"
        with atomic_path(os.path.join(folder, file)) as temporary:
            np.save(temporary, audio)
        done[track.name] = {
            "file": file,
            "sources": list(sources),
            "samples": int(audio.shape[1]),
            "files": record,
        }
        _save_manifest(folder, done)
    return [
        CachedTrack(
            track.name,
            os.path.join(folder, done[track.name]["file"]),
            tuple(done[track.name]["sources"]),
            done[track.name]["samples"],
        )
        for track in tracks
    ]


def musdb_cache(model_config, subset):
    """The cached tracks of MUSDB18 / MUSDB18-HQ's ``subset`` ("train" or "test"), building what is
    missing."""
    root = corpus_root(model_config)
    sources = [
        SourceTrack(
            track.name,
            musdb_track_files(track),
            lambda track=track: (*read_musdb_track(track), ("mixture",) + MUSDB_STEMS),
        )
        for track in musdb_tracks(root, subset, model_config["musdb_is_wav"])
    ]
    return _cached(
        os.path.join(cache_folder(model_config, "musdb", root), subset),
        sources,
        model_config,
        f"caching MUSDB {subset}",
    )


def ccmixter_cache(model_config):
    """The cached CCMixter songs (voice task, training only), building what is missing."""
    root = model_config["ccmixter_path"]
    sources = [
        SourceTrack(
            os.path.basename(folder),
            ccmixter_track_files(folder),
            lambda folder=folder: (*read_ccmixter_track(folder), tuple(CCMIXTER_FILES)),
        )
        for folder in ccmixter_tracks(root)
    ]
    return _cached(cache_folder(model_config, "ccmixter", root), sources, model_config, "caching CCMixter")
