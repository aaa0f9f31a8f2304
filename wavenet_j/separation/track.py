"""Separating a whole track in memory, through ``separate_blocks`` (as ``separate_file`` does from
a file), so the work holds a segment at a time."""
import numpy as np

from wavenet_j.separation.segments import separate_blocks

BLOCK = 2 ** 17  # samples read or handed over at a time


def separate_track(model, mix, sr, model_config, stages=1, batch_windows=8, precision=None, windows="shared",
                   segment_seconds=30.0, jit_compile=False):
    """``{source: [samples, channels]}`` with exactly the shape and rate of ``mix``.

    The mix is resampled to the model's rate (soxr, high quality), converted to its channels,
    separated window by window (``separate_signal``), optionally through ``stages`` progressive
    passes, then brought back to ``sr``, the mix's length and its channel count (a mono
    model's estimate is duplicated; a stereo model's is averaged for a mono mix). It runs in
    segments of about ``segment_seconds``, which changes no number; each segment recomputes a
    context model's context at its ends (M4: about 15% more work at 30 s), so longer segments
    are faster and take more memory.

    ``windows`` picks a context model's window grid: ``"shared"`` shares the context of
    neighbouring windows (``shared_context``), several times faster, with windows starting at
    multiples of ``2**num_layers``; ``"original"`` runs the original's ``predict_track`` windows
    (multiples of the output length) exactly, so scores compare with the original's. Models
    without context give the same numbers on both. ``precision="mixed_bfloat16"`` computes in bf16
    (opt-in: faster where the processor has bf16 arithmetic, with slightly different numbers).
    ``jit_compile=True`` compiles the model's pass with XLA (opt-in; the same numbers within
    float rounding).
    """
    mix = np.asarray(mix, dtype=np.float32)
    if mix.ndim != 2 or mix.shape[0] == 0:
        raise ValueError(f"mix must be [samples, channels] with samples > 0, got shape {mix.shape}")
    results = {name: np.empty_like(mix) for name in model.output}
    position = 0
    for out in separate_blocks(model, array_blocks(mix), sr, model_config,
                               stages, batch_windows, precision, windows, segment_seconds, jit_compile):
        count = len(next(iter(out.values())))
        for name, block in out.items():
            results[name][position:position + count] = block
        position += count
    return results


def array_blocks(mix):
    return (mix[i:i + BLOCK] for i in range(0, len(mix), BLOCK))
