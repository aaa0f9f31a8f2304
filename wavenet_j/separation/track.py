"""Separating a whole track in memory, through ``separate_blocks`` (as ``separate_file`` does from
a file), so the work holds a segment at a time."""

import keras
import numpy as np

from wavenet_j.separation.options import SeparationOptions
from wavenet_j.separation.segments import separate_blocks

BLOCK = 2**17  # samples read or handed over at a time


def separate_track(
    model: keras.Model, mix: np.ndarray, sr: int, options: SeparationOptions = SeparationOptions()
) -> dict[str, np.ndarray]:
    """``{source: [samples, channels]}`` with exactly the shape and rate of ``mix``.

    The mix is resampled to the model's rate (soxr, high quality), converted to its channels,
    separated window by window (``separate_windows``) as ``options`` (``SeparationOptions``) say,
    then brought back to ``sr``, the mix's length and its channel count (a mono model's estimate is
    duplicated; a stereo model's is averaged for a mono mix). It runs in segments of
    ``options.segment_seconds``, which changes no number: a segment reads its neighbours' samples as
    context and computes no output twice.
    """
    mix = np.asarray(mix, dtype=np.float32)
    if mix.ndim != 2 or mix.shape[0] == 0:
        raise ValueError(f"mix must be [samples, channels] with samples > 0, got shape {mix.shape}")
    results = {name: np.empty_like(mix) for name in model.output}
    position = 0
    for out in separate_blocks(model, array_blocks(mix), sr, options):
        count = len(next(iter(out.values())))
        for name, block in out.items():
            results[name][position : position + count] = block
        position += count
    return results


def array_blocks(mix):
    return (mix[i : i + BLOCK] for i in range(0, len(mix), BLOCK))
