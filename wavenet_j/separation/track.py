"""Separating a whole track in memory, through ``separate_blocks`` (as ``separate_file`` does from
a file), so the work holds a segment at a time."""

import numpy as np

from wavenet_j.separation.segments import separate_blocks

BLOCK = 2**17  # samples read or handed over at a time


def separate_track(model, mix, sr, **options):
    """``{source: [samples, channels]}`` with exactly the shape and rate of ``mix``.

    The mix is resampled to the model's rate (soxr, high quality), converted to its channels,
    separated window by window (``separate_windows``), optionally through ``stages`` progressive
    passes, then brought back to ``sr``, the mix's length and its channel count (a mono
    model's estimate is duplicated; a stereo model's is averaged for a mono mix). It runs in
    segments of about ``segment_seconds``, which changes no number: a segment reads its
    neighbours' samples as context and computes no output twice.

    Options (keyword-only; ``separate_blocks`` reads them):
        stages: progressive passes through the model (1).
        windows: a context model's window grid. ``"shared"`` (default) shares the context of
            neighbouring windows (``shared_context``), several times faster, with windows starting
            at multiples of ``2**num_layers``; ``"original"`` runs the original's ``predict_track``
            windows (multiples of the output length) exactly, so scores compare with the
            original's. Models without context give the same numbers on both.
        batch_windows: windows per model call on the original grid (8).
        segment_seconds: the length of a segment (30.0): memory, not numbers.
        precision: ``"mixed_bfloat16"`` computes in bf16 (opt-in: faster where the processor has
            bf16 arithmetic, with slightly different numbers); ``None`` (default) is float32.
        jit_compile: compile the model's pass with XLA (opt-in; the same numbers within float
            rounding; compiling costs seconds before the first samples).
    """
    mix = np.asarray(mix, dtype=np.float32)
    if mix.ndim != 2 or mix.shape[0] == 0:
        raise ValueError(f"mix must be [samples, channels] with samples > 0, got shape {mix.shape}")
    results = {name: np.empty_like(mix) for name in model.output}
    position = 0
    for out in separate_blocks(model, array_blocks(mix), sr, **options):
        count = len(next(iter(out.values())))
        for name, block in out.items():
            results[name][position : position + count] = block
        position += count
    return results


def array_blocks(mix):
    return (mix[i : i + BLOCK] for i in range(0, len(mix), BLOCK))
