"""Reading any audio file ffmpeg can decode, and fitting audio to a model's channels."""

import os
import warnings

import numpy as np
import soundfile


# What a folder given as songs is searched for: libsndfile's formats and ffmpeg's common ones.
AUDIO_EXTENSIONS = (
    ".aac .aif .aifc .aiff .caf .flac .m4a .mka .mp2 .mp3 .mp4 .oga .ogg .opus .w64 .wav .webm .wma"
).split()


class AudioError(ValueError):
    """An audio file that cannot be read; the message names it."""


def audio_files(paths):
    """``paths`` with each folder among them replaced by the audio files directly in it (by their
    extension, sorted), each once; a folder with none raises AudioError. Files are kept as given:
    reading them says whether they are audio."""
    files = []
    for path in map(os.fspath, paths):
        if not os.path.isdir(path):
            files.append(path)
            continue
        found = sorted(
            entry.path
            for entry in os.scandir(path)
            if entry.is_file()
            and not entry.name.startswith(".")
            and os.path.splitext(entry.name)[1].lower() in AUDIO_EXTENSIONS
        )
        if not found:
            raise AudioError(
                f"{path!r} is a folder without audio files ({', '.join(AUDIO_EXTENSIONS)}); "
                f"give audio files, or a folder that holds some"
            )
        files += found
    return list(dict.fromkeys(files))


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
            with (
                warnings.catch_warnings()
            ):  # librosa announces its fallback to audioread, which is the plan here
                warnings.simplefilter("ignore")
                audio, rate = librosa.load(path, sr=None, mono=False, dtype=np.float32)
        except Exception as error:  # audioread raises backend-specific types, often without a message
            reason = (
                "the file is empty"
                if not os.path.getsize(path)
                else str(error)
                or ("neither libsndfile nor ffmpeg can decode it: not audio, or a format they do not know")
            )
            raise AudioError(f"cannot read audio file {path!r}: {reason}") from error
        audio = np.atleast_2d(audio).T
    if audio.size == 0:
        raise AudioError(f"audio file {path!r} holds no samples")
    return np.ascontiguousarray(audio), int(rate)


def to_model_channels(audio, channels):
    """``audio`` (channels on its last axis) as a model with ``channels`` channels hears it, by the
    original's rule: mono models take the channel mean; stereo models duplicate a mono mix.

    Raises ValueError for a stereo model and audio of more than two channels: which two of them
    to keep, or how to mix them down, is the caller's to choose.
    """
    if channels == 1:
        return audio.mean(axis=-1, keepdims=True)
    if audio.shape[-1] == 1:
        return np.repeat(audio, channels, axis=-1)
    if audio.shape[-1] != channels:
        raise ValueError(
            f"a stereo model cannot separate a mix with {audio.shape[-1]} channels; "
            f"downmix it to stereo or mono first"
        )
    return audio
