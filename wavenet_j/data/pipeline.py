"""``get_dataset``: batches of ``(mix, {source: target})`` for training, validation and testing.

Snippets are cut from the memory-mapped cache with NumPy, several generators in parallel, each
seeded from the config's seed, so a given seed and epoch always give the same batches.
"""

import os

import numpy as np
import tensorflow as tf

from wavenet_j.configs import ConfigError, complete_config
from wavenet_j.data.cache import ccmixter_cache, musdb_cache
from wavenet_j.data.tracks import ACCOMPANIMENT, DataError
from wavenet_j.models import get_padding

PARTITIONS = ("train", "valid", "test")
TOY = "toy"  # musdb_path value: the generated toy corpus under data_path


def corpus_root(model_config):
    """The MUSDB root a config reads: its ``musdb_path``, or for ``"toy"`` the toy corpus's folder
    under ``data_path``. It touches no file: ``ensure_toy_corpus`` is what generates the toy corpus."""
    root = model_config["musdb_path"]
    if root is None:
        raise ConfigError(
            "model_config['musdb_path'] is not set: point it at MUSDB18 or MUSDB18-HQ, "
            "or use 'toy' for the generated toy corpus"
        )
    return os.path.join(model_config["data_path"], "toy_musdb") if root == TOY else root


def ensure_toy_corpus(model_config):
    """Generate the toy corpus's missing tracks when the config reads it, so every command has data
    offline; for any other corpus it does nothing."""
    if model_config["musdb_path"] == TOY:
        from wavenet_j.data.toy import make_toy_corpus

        make_toy_corpus(corpus_root(model_config))


def split_train_valid(names, fraction, seed, corpus):
    """The seeded validation draw over sorted track names (25 of MUSDB's 100 at fraction 0.25); both
    parts are non-empty, since training stops early on the validation loss. ``corpus`` is the folder
    the names come from, which a split that cannot be made names."""
    names = sorted(names)
    if len(names) < 2:
        raise DataError(
            f"training needs at least 2 tracks in {corpus!r}, one to train on and one to validate; "
            f"it holds {len(names)}"
        )
    count = max(1, round(len(names) * fraction))
    if count >= len(names):
        raise DataError(
            f"valid_fraction {fraction} draws all {len(names)} training tracks of {corpus!r} for "
            f"validation: lower it so that at least one is left to train on"
        )
    valid = set(np.random.default_rng(seed).choice(len(names), size=count, replace=False).tolist())
    return [n for i, n in enumerate(names) if i not in valid], [n for i, n in enumerate(names) if i in valid]


def partition_tracks(model_config, partition):
    """The cached tracks of a partition: train (MUSDB train minus validation, plus CCMixter), valid, test."""
    config = complete_config(model_config)
    if partition not in PARTITIONS:
        raise ValueError(f"partition {partition!r} is not one of {list(PARTITIONS)}")
    ensure_toy_corpus(config)
    config = dict(config, musdb_path=corpus_root(config))
    if partition == "test":
        return musdb_cache(config, "test")
    tracks = musdb_cache(config, "train")
    train, valid = split_train_valid(
        [t.name for t in tracks],
        config["valid_fraction"],
        config["seed"],
        os.path.join(config["musdb_path"], "train"),
    )
    chosen = set(valid if partition == "valid" else train)
    selected = [t for t in tracks if t.name in chosen]
    if partition == "train" and config["ccmixter_path"] and config["task"] == "voice":
        selected += ccmixter_cache(config)
    return selected


def _source_indices(track, source_names):
    """For each task source, the cached rows that sum to it (MUSDB's accompaniment: its ``ACCOMPANIMENT``)."""
    rows = {name: [i] for i, name in enumerate(track.sources)}
    rows.setdefault("accompaniment", [rows[s][0] for s in ACCOMPANIMENT if s in rows])
    missing = [s for s in source_names if not rows.get(s)]
    if missing:
        raise ValueError(f"track {track.name!r} has no {missing} (it holds {list(track.sources)})")
    return [rows[s] for s in source_names]


def _window(audio, start, length):
    """``audio[..., start:start+length, :]`` with zeros where the window leaves the track."""
    samples = audio.shape[-2]
    lo, hi = max(start, 0), min(start + length, samples)
    out = np.zeros(audio.shape[:-2] + (length, audio.shape[-1]), np.float32)
    if hi > lo:
        out[..., lo - start : hi - start, :] = audio[..., lo:hi, :]
    return out


class _Snippets:
    """Cuts one example: the input window of the mix and the output window of each source."""

    def __init__(self, tracks, config):
        self.tracks = tracks
        self.indices = [_source_indices(track, config["source_names"]) for track in tracks]
        self.arrays = [track.load() for track in tracks]
        self.input_frames, self.output_frames = get_padding(config)
        self.offset = (self.input_frames - self.output_frames) // 2
        self.augment = config["augmentation"]

    def cut(self, track, start, rng=None):
        """Output window at ``start``; the input window around it, zero-padded past the song's edges."""
        audio, rows = self.arrays[track], self.indices[track]
        window = _window(audio, start - self.offset, self.input_frames)
        sources = np.stack([window[r].sum(axis=0) for r in rows])
        if rng is not None and self.augment:
            sources *= rng.uniform(0.7, 1.0, size=(len(rows), 1, 1)).astype(np.float32)
            mix = sources.sum(axis=0)
        else:
            mix = window[0]
        targets = sources[:, self.offset : self.offset + self.output_frames]
        return mix, targets


def _signature(config, batch=None):
    """Specs of ``(mix, targets)``; targets stack the sources on axis 1 until split into a dict."""
    input_frames, output_frames = get_padding(config)
    channels, sources = config["num_channels"], len(config["source_names"])
    shape = [] if batch is None else [batch]
    return (
        tf.TensorSpec(shape + [input_frames, channels], tf.float32),
        tf.TensorSpec(shape + [sources, output_frames, channels], tf.float32),
    )


def get_dataset(model_config, partition, batch_size=None, epoch=0, workers=2):
    """``tf.data.Dataset`` of ``(mix [B, input_frames, C], {source: [B, output_frames, C]})``.

    train: endless random snippets across all training songs (each song equally likely, each
    start uniform), augmented when the config says so, deterministic from (seed, epoch);
    valid / test: every snippet of every song in order, hop = output length, the last one
    zero-padded. Songs shorter than a snippet are zero-padded too.
    """
    config = complete_config(model_config)
    batch_size = batch_size or config["batch_size"]
    snippets = _Snippets(partition_tracks(config, partition), config)
    output_frames = snippets.output_frames

    if partition == "train":

        def generate(worker):
            rng = np.random.default_rng([config["seed"], epoch, int(worker)])
            while True:
                picks = [
                    (t, int(rng.integers(0, max(1, snippets.tracks[t].samples - output_frames + 1))))
                    for t in rng.integers(0, len(snippets.tracks), size=batch_size)
                ]
                mixes, targets = zip(*(snippets.cut(t, start, rng) for t, start in picks))
                yield np.stack(mixes), np.stack(targets)

        dataset = tf.data.Dataset.range(workers).interleave(
            lambda worker: tf.data.Dataset.from_generator(
                generate, args=(worker,), output_signature=_signature(config, batch_size)
            ),
            cycle_length=workers,
            num_parallel_calls=workers,
            deterministic=True,
        )
    else:
        starts = [
            (t, start)
            for t, track in enumerate(snippets.tracks)
            for start in range(0, max(track.samples, 1), output_frames)
        ]

        def generate():
            for t, start in starts:
                yield snippets.cut(t, start)

        dataset = tf.data.Dataset.from_generator(generate, output_signature=_signature(config)).batch(
            batch_size
        )

    names = config["source_names"]
    dataset = dataset.map(
        lambda mix, targets: (mix, {name: targets[:, i] for i, name in enumerate(names)}),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
