"""Finding and reading songs: MUSDB18 (.stem.mp4), MUSDB18-HQ (wav) and CCMixter.

``musdb`` finds the tracks (its layout, names and subsets); the audio is then read here: wav with
soundfile (exact float samples, where musdb would round through 16-bit ffmpeg output) and stem
files with stempeg in float32. Every problem becomes a DataError naming the track or file.
"""

import glob
import os
import shutil

import numpy as np
import soundfile

MUSDB_STEMS = ("bass", "drums", "other", "vocals")
ACCOMPANIMENT = ("bass", "drums", "other")  # the stems a MUSDB track's accompaniment is the sum of
# Files and stem indices of one MUSDB track: the mixture, then the stems above.
_HQ_FILES = ("mixture.wav",) + tuple(f"{stem}.wav" for stem in MUSDB_STEMS)
_STEM_IDS = (0, 2, 1, 3, 4)  # .stem.mp4 order: mixture, drums, bass, other, vocals
CCMIXTER_FILES = {"mixture": "mix.wav", "accompaniment": "source-01.wav", "vocals": "source-02.wav"}


class DataError(ValueError):
    """Audio that cannot be used; the message names the track or file and what is wrong."""


def detect_is_wav(root):
    """MUSDB18-HQ (``train/<track>/mixture.wav``) or MUSDB18 (``train/<track>.stem.mp4``)."""
    if not os.path.isdir(root):
        raise DataError(f"MUSDB root {root!r} does not exist (set model_config['musdb_path'])")
    if glob.glob(os.path.join(root, "*", "*.stem.mp4")):
        return False
    if glob.glob(os.path.join(root, "*", "*", "mixture.wav")):
        return True
    raise DataError(
        f"no MUSDB tracks under {root!r}: expected train/ and test/ holding <track>.stem.mp4 files (MUSDB18) "
        f"or <track>/mixture.wav with bass, drums, other, vocals .wav beside it (MUSDB18-HQ)"
    )


def musdb_tracks(root, subset, is_wav=None):
    """The musdb Track objects of one subset ("train" or "test"), sorted by name."""
    import musdb

    is_wav = detect_is_wav(root) if is_wav is None else is_wav
    if not is_wav and shutil.which("ffmpeg") is None:
        raise DataError(
            f"reading MUSDB18 stem files under {root!r} needs ffmpeg, which is not installed "
            f"(Debian/Ubuntu: apt-get install ffmpeg), or convert them to MUSDB18-HQ wav"
        )
    tracks = musdb.DB(root=root, is_wav=is_wav, subsets=subset).tracks
    if not tracks:
        raise DataError(f"no {subset} tracks under {os.path.join(root, subset)!r}")
    return sorted(tracks, key=lambda track: track.name)


def musdb_track_files(track):
    """The files a MUSDB track is read from: its five wavs (MUSDB18-HQ) or its stem file (MUSDB18)."""
    if track.is_wav:
        return [os.path.join(os.path.dirname(track.path), name) for name in _HQ_FILES]
    return [track.path]


def read_musdb_track(track):
    """``(rate, audio [5, samples, channels])``: mixture, bass, drums, other, vocals."""
    if track.is_wav:
        return _read_wavs(track.name, musdb_track_files(track))
    import stempeg

    try:
        audio, rate = stempeg.read_stems(track.path, dtype=np.float32, ffmpeg_format="f32le")
    except Exception as error:  # stempeg reports ffmpeg failures as assorted exception types
        raise DataError(f"track {track.name!r}: cannot read stem file {track.path!r}: {error}") from error
    if audio.ndim != 3 or audio.shape[0] < 5:
        raise DataError(
            f"track {track.name!r}: {track.path!r} holds {audio.shape[0] if audio.ndim == 3 else 1} "
            f"stream(s), MUSDB18 stem files hold 5 (mixture, drums, bass, other, vocals)"
        )
    return _nonempty_and_finite(track.name, int(rate), audio[list(_STEM_IDS)])


def ccmixter_tracks(root):
    """CCMixter song folders (``<root>/<song>/mix.wav, source-01.wav, source-02.wav``), sorted."""
    if not os.path.isdir(root):
        raise DataError(f"CCMixter root {root!r} does not exist (set model_config['ccmixter_path'] or None)")
    songs = sorted(
        os.path.dirname(path) for path in glob.glob(os.path.join(root, "*", CCMIXTER_FILES["mixture"]))
    )
    if not songs:
        raise DataError(
            f"no CCMixter songs under {root!r}: expected <song>/mix.wav, source-01.wav, source-02.wav"
        )
    return songs


def ccmixter_track_files(folder):
    """The files a CCMixter song is read from: mixture, accompaniment, vocals."""
    return [os.path.join(folder, name) for name in CCMIXTER_FILES.values()]


def read_ccmixter_track(folder):
    """``(rate, audio [3, samples, channels])``: mixture, accompaniment, vocals."""
    return _read_wavs(os.path.basename(folder), ccmixter_track_files(folder))


def _read_wavs(name, paths):
    arrays, rates = [], set()
    for path in paths:
        if not os.path.exists(path):
            raise DataError(f"track {name!r}: missing file {path!r}")
        try:
            audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        except (RuntimeError, soundfile.LibsndfileError) as error:
            raise DataError(f"track {name!r}: cannot read {path!r}: {error}") from error
        arrays.append(audio)
        rates.add(rate)
    if len(rates) > 1:
        raise DataError(
            f"track {name!r}: its files have different sample rates {sorted(rates)}: "
            + ", ".join(f"{os.path.basename(p)}" for p in paths)
        )
    lengths = {os.path.basename(path): len(audio) for path, audio in zip(paths, arrays)}
    if len(set(lengths.values())) > 1 or len({audio.shape[1] for audio in arrays}) > 1:
        raise DataError(
            f"track {name!r}: its files differ in length or channels: "
            + ", ".join(f"{file} {audio.shape}" for file, audio in zip(lengths, arrays))
        )
    return _nonempty_and_finite(name, rates.pop(), np.stack(arrays))


def _nonempty_and_finite(name, rate, audio):
    """``(rate, audio)`` once the samples are known usable: training and scoring fail later, and less
    clearly, on an empty track or a NaN sample."""
    if audio.shape[1] == 0:
        raise DataError(f"track {name!r} is empty")
    if not np.all(np.isfinite(audio)):
        raise DataError(f"track {name!r} has NaN or infinite samples")
    return rate, audio
