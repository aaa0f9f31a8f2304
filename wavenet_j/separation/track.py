"""Separating a whole track: in memory (``separate_track``) or from a file to stem files
(``separate_file``), both through ``separate_blocks`` so memory holds a segment, not the song."""
import contextlib
import os

import numpy as np
import soundfile

from wavenet_j.atomic import atomic_path
from wavenet_j.audio import AudioError, read_audio
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
    for out in separate_blocks(model, _array_blocks(mix), sr, model_config,
                               stages, batch_windows, precision, windows, segment_seconds, jit_compile):
        count = len(next(iter(out.values())))
        for name, block in out.items():
            results[name][position:position + count] = block
        position += count
    return results


def separate_file(model, path, folder, model_config, **options):
    """Write the stems of the audio file ``path`` to ``folder/<source>.wav`` (16-bit, the file's
    rate and channels) and return their paths; ``options`` as for ``separate_track``.

    Reads, separates and writes as it goes, so a long song needs little memory. Formats
    libsndfile cannot read (m4a, ...) are decoded whole by ffmpeg first. The stems appear
    only when complete; an error leaves no partial file.
    """
    path = os.fspath(path)
    try:
        info = soundfile.info(path)
        rate, channels = info.samplerate, info.channels
        blocks = _file_blocks(path)
    except (RuntimeError, soundfile.LibsndfileError):
        mix, rate = read_audio(path)
        channels = mix.shape[1]
        blocks = _array_blocks(mix)
    targets = {name: os.path.join(folder, f"{name}.wav") for name in model.output}
    os.makedirs(folder, exist_ok=True)
    with contextlib.ExitStack() as stack:
        writers = {name: stack.enter_context(soundfile.SoundFile(
            stack.enter_context(atomic_path(target)), "w", rate, channels, subtype="PCM_16", format="WAV"))
            for name, target in targets.items()}
        try:
            for out in separate_blocks(model, blocks, rate, model_config, **options):
                for name, block in out.items():
                    writers[name].write(block)
        except AudioError:
            raise
        except ValueError as error:  # a mix this model cannot take: name the file
            raise AudioError(f"cannot separate {path!r}: {error}") from error
    return targets


def _array_blocks(mix):
    return (mix[i:i + BLOCK] for i in range(0, len(mix), BLOCK))


def _file_blocks(path):
    try:
        with soundfile.SoundFile(path) as sound:
            if not sound.frames:
                raise AudioError(f"audio file {path!r} holds no samples")
            yield from sound.blocks(BLOCK, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise AudioError(f"cannot read audio file {path!r}: {error}") from error
