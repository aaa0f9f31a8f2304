"""The decoded, resampled corpus on disk, so training never decodes or resamples.

One ``.npy`` per track (``[sources, samples, channels]`` float32, memory-mappable), in a folder
keyed by (dataset, sample rate, channels); changing the rate or channels builds another folder,
never mixes. Each file is written under a temporary name and renamed when complete, and the
manifest lists only finished tracks, so a run killed at any point resumes: finished tracks are
kept, a partial file is never trusted.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np
import soxr
from tqdm import tqdm

from wavenet_j.atomic import atomic_path, write_text
from wavenet_j.audio import to_model_channels
from wavenet_j.data.tracks import (
    CCMIXTER_FILES,
    MUSDB_STEMS,
    ccmixter_tracks,
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


def _cached(folder, items, model_config, description):
    """Cache every ``(name, read)`` item not already done; ``read()`` gives ``(rate, audio, sources)``."""
    os.makedirs(folder, exist_ok=True)
    done = {
        name: entry
        for name, entry in _load_manifest(folder).items()
        if os.path.exists(os.path.join(folder, entry["file"]))
    }
    todo = [(name, read) for name, read in items if name not in done]
    for name, read in tqdm(todo, desc=description, unit="track", disable=not todo):
        rate, audio, sources = read()
        audio = convert(audio, rate, model_config)
        file = hashlib.sha1(name.encode()).hexdigest()[:16] + ".npy"
        with atomic_path(os.path.join(folder, file)) as temporary:
            np.save(temporary, audio)
        done[name] = {"file": file, "sources": list(sources), "samples": int(audio.shape[1])}
        _save_manifest(folder, done)
    return [
        CachedTrack(
            name,
            os.path.join(folder, done[name]["file"]),
            tuple(done[name]["sources"]),
            done[name]["samples"],
        )
        for name, _ in items
    ]


def musdb_cache(model_config, subset):
    """The cached tracks of MUSDB18 / MUSDB18-HQ's ``subset`` ("train" or "test"), building what is
    missing."""
    root = model_config["musdb_path"]
    tracks = musdb_tracks(root, subset, model_config["musdb_is_wav"])
    items = [
        (track.name, lambda track=track: (*read_musdb_track(track), ("mixture",) + MUSDB_STEMS))
        for track in tracks
    ]
    return _cached(
        os.path.join(cache_folder(model_config, "musdb", root), subset),
        items,
        model_config,
        f"caching MUSDB {subset}",
    )


def ccmixter_cache(model_config):
    """The cached CCMixter songs (voice task, training only), building what is missing."""
    root = model_config["ccmixter_path"]
    items = [
        (
            os.path.basename(folder),
            lambda folder=folder: (*read_ccmixter_track(folder), tuple(CCMIXTER_FILES)),
        )
        for folder in ccmixter_tracks(root)
    ]
    return _cached(cache_folder(model_config, "ccmixter", root), items, model_config, "caching CCMixter")
