"""``batches``: NumPy batches of ``(mix, {source: target})`` for training, validation and testing;
``get_dataset``: the same batches as a ``tf.data.Dataset``.

Snippets are cut from the memory-mapped cache with NumPy in worker threads (NumPy's copies and sums
release the GIL), each training worker drawing from its own generator seeded from the config's
seed, the epoch and the worker, so a given seed and epoch always give the same batches.
"""

import contextlib
import itertools
import os
import queue
import threading

import numpy as np

from wavenet_j.configs import TOY, corpus_root
from wavenet_j.data.cache import ccmixter_cache, musdb_cache
from wavenet_j.data.tracks import ACCOMPANIMENT, DataError
from wavenet_j.models import get_padding

PARTITIONS = ("train", "valid", "test")


def ensure_toy_corpus(config):
    """Generate the toy corpus's missing tracks when the config reads it, so every command has data
    offline; for any other corpus it does nothing."""
    if config["musdb_path"] == TOY:
        from wavenet_j.data.toy import make_toy_corpus

        make_toy_corpus(config["corpus_root"])


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


def partition_tracks(config, partition):
    """The cached tracks of a partition: train (MUSDB train minus validation, plus CCMixter), valid, test."""
    if partition not in PARTITIONS:
        raise ValueError(f"partition {partition!r} is not one of {list(PARTITIONS)}")
    ensure_toy_corpus(config)
    if partition == "test":
        return musdb_cache(config, "test")
    tracks = musdb_cache(config, "train")
    train, valid = split_train_valid(
        [t.name for t in tracks],
        config["valid_fraction"],
        config["seed"],
        os.path.join(corpus_root(config), "train"),
    )
    chosen = set(valid if partition == "valid" else train)
    selected = [t for t in tracks if t.name in chosen]
    if partition == "train" and config["ccmixter_path"] and config["task"] == "voice":
        selected += ccmixter_cache(config)
    return selected


AHEAD = 2  # batches each worker cuts ahead of the consumer: memory stays a few batches


def _source_indices(track, source_names):
    """For each task source, the cached rows that sum to it (MUSDB's accompaniment: its ``ACCOMPANIMENT``)."""
    rows = {name: [i] for i, name in enumerate(track.sources)}
    rows.setdefault("accompaniment", [rows[s][0] for s in ACCOMPANIMENT if s in rows])
    missing = [s for s in source_names if not rows.get(s)]
    if missing:
        raise ValueError(f"track {track.name!r} has no {missing} (it holds {list(track.sources)})")
    return [rows[s] for s in source_names]


def _load(track, channels):
    """The track's memory-mapped array, checked against its manifest entry here, so that a damaged
    cache file is one line naming it rather than a shape error in a worker thread."""
    audio = track.load()
    expected = (len(track.sources), track.samples, channels)
    if audio.shape != expected or audio.dtype != np.float32:
        raise DataError(
            f"track {track.name!r}: its cache file {track.path} holds {audio.dtype} {audio.shape}, its "
            f"manifest records float32 {expected}; delete the file and it is cached again"
        )
    return np.asarray(audio)  # a plain view of the map: slicing a np.memmap costs a tenth of the cutting


def _sum_rows(audio, rows, start, out):
    """``out[:] = audio[rows].sum(axis=0)[start:start+len(out)]`` in that order of addition, zero
    where the window leaves the track, computed in ``out`` without temporary arrays."""
    length, samples = len(out), audio.shape[1]
    lo, hi = min(max(start, 0), samples), max(min(start + length, samples), 0)
    if hi <= lo:
        out[:] = 0
        return
    out[: lo - start] = 0
    out[hi - start :] = 0
    inside = out[lo - start : hi - start]
    if len(rows) == 1:
        np.copyto(inside, audio[rows[0], lo:hi])
        return
    np.add(audio[rows[0], lo:hi], audio[rows[1], lo:hi], out=inside)
    for row in rows[2:]:
        np.add(inside, audio[row, lo:hi], out=inside)


class _Cutter:
    """Cuts batches of examples: the input window of the mix and the output window of each source."""

    def __init__(self, tracks, config):
        self.tracks = tracks
        self.names = list(config["source_names"])
        self.channels = config["num_channels"]
        self.indices = [_source_indices(track, self.names) for track in tracks]
        self.arrays = [_load(track, self.channels) for track in tracks]
        self.input_frames, self.output_frames = get_padding(config)
        self.offset = (self.input_frames - self.output_frames) // 2
        self.augment = config["augmentation"]

    def draw(self, rng, batch_size):
        """The random choices of one training batch, ``(picks, gains)``: each song equally likely,
        each output start uniform, and with augmentation a gain in [0.7, 1) per source. The same
        numbers are drawn whether or not the batch is cut, which is how a resumed epoch skips."""
        tracks = rng.integers(0, len(self.tracks), size=batch_size)
        ends = [max(1, self.tracks[t].samples - self.output_frames + 1) for t in tracks]
        picks = [(int(t), int(rng.integers(0, end))) for t, end in zip(tracks, ends)]
        if not self.augment:
            return picks, None
        return picks, rng.uniform(0.7, 1.0, size=(batch_size, len(self.names))).astype(np.float32)

    def cut(self, picks, gains=None):
        """``(mix [B, input_frames, C], {source: [B, output_frames, C]})`` of ``picks``, a list of
        ``(track, output start)``; the input window is centred on the output window. ``gains``
        ``[B, sources]`` scales the sources, and the mix is then their sum."""
        size, sources = len(picks), len(self.names)
        mix = np.empty((size, self.input_frames, self.channels), np.float32)
        targets = np.empty((sources, size, self.output_frames, self.channels), np.float32)
        context = self.input_frames != self.output_frames
        scaled = np.empty((sources, self.input_frames, self.channels), np.float32) if context else None
        for b, (t, start) in enumerate(picks):
            audio, rows = self.arrays[t], self.indices[t]
            if gains is None:
                _sum_rows(audio, [0], start - self.offset, mix[b])
                for s, source_rows in enumerate(rows):
                    _sum_rows(audio, source_rows, start, targets[s, b])
                continue
            window = scaled if context else targets[:, b]
            for s, source_rows in enumerate(rows):
                _sum_rows(audio, source_rows, start - self.offset, window[s])
                window[s] *= gains[b, s]
            np.copyto(mix[b], window[0])
            for source in window[1:]:
                mix[b] += source
            if context:
                targets[:, b] = scaled[:, self.offset : self.offset + self.output_frames]
        return mix, dict(zip(self.names, targets))


def _work(cutter, jobs, out, stop):
    """Cut ``jobs`` (``(picks, gains)``) into ``out`` until they end or ``stop`` is set; the end is
    ``(None, None)``, a failure ``(None, exception)``."""
    try:
        for picks, gains in jobs:
            if stop.is_set():
                return
            out.put((cutter.cut(picks, gains), None))
        out.put((None, None))
    except BaseException as error:  # handed to the consumer, which raises it
        out.put((None, error))


def _prefetched(cutter, jobs, first):
    """Batches cut by one thread per worker (``jobs[w]`` is worker ``w``'s batches), taken from the
    workers in turn from worker ``first`` on. The threads stop when the consumer stops, early or
    not, or drops the iterator."""
    stop = threading.Event()
    queues = [queue.Queue(AHEAD) for _ in jobs]
    threads = [
        threading.Thread(target=_work, args=(cutter, job, out, stop), daemon=True)
        for job, out in zip(jobs, queues)
    ]
    for thread in threads:
        thread.start()
    try:
        for out in itertools.islice(itertools.cycle(queues), first, None):
            batch, error = out.get()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch
    finally:
        stop.set()
        for thread, out in zip(threads, queues):
            while thread.is_alive():  # what it puts is taken, so a worker waiting on a full queue ends
                with contextlib.suppress(queue.Empty):
                    out.get(timeout=0.01)


def _source(config, partition, batch_size, epoch, start, workers):
    """``(config, cutter, iterate)``: the tracks read and checked once; each ``iterate()`` starts a
    fresh pass over the batches after the first ``start``, batch ``i`` cut by worker ``i % workers``."""
    batch_size = batch_size or config["batch_size"]
    cutter = _Cutter(partition_tracks(config, partition), config)

    def skipped(worker):
        """How many of the first ``start`` batches are the worker's."""
        return len(range(worker, start, workers))

    if partition == "train":

        def jobs(worker):
            rng = np.random.default_rng([config["seed"], epoch, worker])
            for _ in range(skipped(worker)):
                cutter.draw(rng, batch_size)
            while True:
                yield cutter.draw(rng, batch_size)

    else:
        snippets = [
            (t, begin)
            for t, track in enumerate(cutter.tracks)
            for begin in range(0, max(track.samples, 1), cutter.output_frames)
        ]
        count = -(-len(snippets) // batch_size)

        def jobs(worker):
            for i in range(worker + workers * skipped(worker), count, workers):
                yield snippets[i * batch_size : (i + 1) * batch_size], None

    def iterate():
        return _prefetched(cutter, [jobs(worker) for worker in range(workers)], start % workers)

    return config, cutter, iterate


def batches(model_config, partition, batch_size=None, epoch=0, start=0, workers=2):
    """Iterator of NumPy ``(mix [B, input_frames, C], {source: [B, output_frames, C]})``, float32.

    train: endless random snippets across all training songs (each song equally likely, each
    start uniform), augmented when the config says so, deterministic from (seed, epoch); batch
    ``i`` comes from the generator of worker ``i % workers``, seeded ``[seed, epoch, worker]``.
    valid / test: every snippet of every song in order, hop = output length, the last one
    zero-padded, the last batch smaller. Songs shorter than a snippet are zero-padded too.
    ``start`` skips the first batches (a resumed epoch) by drawing their random numbers only.
    """
    return _source(model_config, partition, batch_size, epoch, start, workers)[2]()


def get_dataset(model_config, partition, batch_size=None, epoch=0, start=0, workers=2):
    """``tf.data.Dataset`` of the batches of ``batches`` (the same arguments), for ``tf.distribute``;
    each pass over it starts the workers afresh. Train batches have a static batch size."""
    import tensorflow as tf

    config, cutter, iterate = _source(model_config, partition, batch_size, epoch, start, workers)
    size = (batch_size or config["batch_size"]) if partition == "train" else None
    channels = config["num_channels"]
    signature = (
        tf.TensorSpec([size, cutter.input_frames, channels], tf.float32),
        {name: tf.TensorSpec([size, cutter.output_frames, channels], tf.float32) for name in cutter.names},
    )
    return tf.data.Dataset.from_generator(iterate, output_signature=signature).prefetch(tf.data.AUTOTUNE)
