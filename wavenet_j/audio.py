"""Reading any audio file ffmpeg can decode, and writing wav files atomically."""
import os

import numpy as np
import soundfile

from wavenet_j.atomic import atomic_path


class AudioError(ValueError):
    """An audio file that cannot be read; the message names it."""


def read_audio(path):
    """``(audio [samples, channels] float32, rate)`` of a wav, flac, mp3, m4a ... file.

    soundfile reads what libsndfile knows (wav, flac, ogg, mp3); everything else goes through
    ffmpeg (via librosa's audioread backend).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioError(f"no audio file at {path!r}")
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError):
        import librosa

        try:
            audio, rate = librosa.load(path, sr=None, mono=False, dtype=np.float32)
        except Exception as error:  # audioread raises backend-specific types
            raise AudioError(f"cannot read audio file {path!r}: {error}") from error
        audio = np.atleast_2d(audio).T
    if audio.size == 0:
        raise AudioError(f"audio file {path!r} holds no samples")
    return np.ascontiguousarray(audio), int(rate)


def write_audio(path, audio, rate):
    """Write ``[samples, channels]`` as 16-bit wav, atomically."""
    with atomic_path(path) as temporary:
        soundfile.write(temporary, audio, rate, subtype="PCM_16", format="WAV")
