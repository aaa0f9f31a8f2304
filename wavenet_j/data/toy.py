"""A toy corpus in MUSDB18-HQ layout, generated from a seed, so every command has data offline.

Each track is a little song: a tempo, a key and a four-chord progression; a bass line on the
chord roots; sustained chords ("other"); drums with kick, snare and hi-hat transients; and a
sung melody: a harmonic voice with vibrato, shaped by vowel formants, in phrases separated by
rests, so the vocals have the near-silent stretches real vocals have. Separation is learnable
(the sources differ in pitch range, timbre and rhythm) and measurable with museval. The corpus
root's toy_corpus.json records the parameters, so a folder is never silently left holding a corpus
made with other ones.

    python -m wavenet_j.data.toy -o data/toy_musdb [--train 6 --test 3 --seconds 10 --seed 0]
"""

import argparse
import json
import os
import shutil
from typing import NamedTuple

import numpy as np
import soundfile

from wavenet_j.atomic import write_text
from wavenet_j.data.tracks import MUSDB_STEMS, DataError

RATE = 44100
RECORD = "toy_corpus.json"  # the parameters the corpus in a folder is made with
_NAMES = (
    "Amber",
    "Basalt",
    "Cinder",
    "Dune",
    "Ember",
    "Fjord",
    "Grove",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meadow",
    "Nimbus",
    "Orchid",
    "Pebble",
    "Quartz",
    "Raven",
    "Saffron",
    "Tundra",
)
_VOWELS = (
    (730, 1090, 2440),
    (270, 2290, 3010),
    (300, 870, 2240),
    (530, 1840, 2480),
    (570, 840, 2410),
)  # a i u e o
_PROGRESSIONS = ((0, 7, 9, 5), (0, 5, 7, 5), (9, 5, 0, 7), (0, 9, 5, 7))  # chord roots in semitones
_PENTATONIC = (0, 2, 4, 7, 9)


class _Song(NamedTuple):
    """What every part of one toy song plays along to."""

    samples: int
    rate: int
    beat: float  # seconds per beat
    key: int  # MIDI note the progression's roots are counted from
    progression: tuple  # chord roots, in semitones above the key


def _hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69) / 12)


def _harmonic(f0, amplitudes, rate):
    """A tone of time-varying pitch ``f0`` (Hz per sample) with harmonic ``k`` at ``amplitudes[k-1]``."""
    phase = 2 * np.pi * np.cumsum(f0) / rate
    out = np.zeros_like(f0)
    for k, amplitude in enumerate(amplitudes, start=1):
        audible = f0 * k < rate / 2 - 1000  # no aliasing
        out += np.where(audible, amplitude, 0.0) * np.sin(k * phase)
    return out


def _envelope(length, rate, attack, decay):
    t = np.arange(length) / rate
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def _place(signal, start, piece):
    end = min(len(signal), start + len(piece))
    if end > start:
        signal[start:end] += piece[: end - start]


def _drums(rng, song):
    n, rate, beat = song.samples, song.rate, song.beat
    out = np.zeros(n)
    t = np.arange(int(0.3 * rate)) / rate
    kick = np.sin(2 * np.pi * np.cumsum(45 + 90 * np.exp(-t / 0.03)) / rate) * np.exp(-t / 0.12)
    noise = rng.standard_normal(len(t))
    snare = (np.diff(noise, prepend=0.0) * 0.5 + 0.3 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.07)
    hat = np.diff(np.diff(noise, prepend=0.0), prepend=0.0) * 0.15 * np.exp(-t / 0.02)
    for i in range(int(n / rate / (beat / 2)) + 1):  # eighth notes
        start = int(i * beat / 2 * rate)
        if i % 4 == 0:
            _place(out, start, kick * rng.uniform(0.8, 1.0))
        if i % 4 == 2:
            _place(out, start, snare * rng.uniform(0.7, 1.0))
        _place(out, start, hat * rng.uniform(0.5, 1.0))
    return out


def _bass(rng, song):
    n, rate, beat, key, progression = song
    out = np.zeros(n)
    amplitudes = [1.0, 0.5, 0.3, 0.15, 0.08]
    for i in range(int(n / rate / beat) + 1):
        root = key - 12 + progression[(i // 4) % 4] + (12 if i % 4 == 3 and rng.random() < 0.5 else 0)
        length = int(beat * rate)
        tone = _harmonic(np.full(length, _hz(root)), amplitudes, rate) * _envelope(length, rate, 0.005, 0.35)
        _place(out, int(i * beat * rate), tone)
    return out


def _chords(rng, song):
    n, rate, beat, key, progression = song
    out = np.zeros(n)
    amplitudes = [1.0 / k for k in range(1, 7)]
    bar = int(4 * beat * rate)
    for i in range(n // bar + 1):
        root = key + progression[i % 4]
        third = 3 if progression[i % 4] == 9 else 4  # the vi chord is minor
        for interval in (0, third, 7):
            f0 = np.full(bar, _hz(root + interval)) * (1 + rng.uniform(-0.002, 0.002))
            tone = _harmonic(f0, amplitudes, rate) * _envelope(bar, rate, 0.08, 3.0)
            _place(out, i * bar, tone / 3)
    return out


def _vocals(rng, song):
    """Two-bar phrases of pentatonic notes, each followed by a bar of rest."""
    n, rate, beat, key = song.samples, song.rate, song.beat, song.key
    out = np.zeros(n)
    position = int(rng.integers(0, 4) * beat * rate)
    harmonics = np.arange(1, 41)
    while position < n:
        for _ in range(int(rng.integers(3, 7))):  # notes of one phrase
            length = int(beat * rate * rng.choice([0.5, 1.0, 1.0, 2.0]))
            note = key + 12 + _PENTATONIC[rng.integers(0, 5)] + 12 * int(rng.integers(0, 2))
            t = np.arange(length) / rate
            vibrato = 0.35 * np.sin(2 * np.pi * rng.uniform(5.0, 6.5) * t) * np.minimum(1.0, t / 0.25)
            f0 = _hz(note + vibrato)
            formants = _VOWELS[rng.integers(0, len(_VOWELS))]
            # Source-filter: a 1/k source spectrum shaped by three formant resonances at the mean pitch.
            centre = harmonics * _hz(note)
            gain = sum(
                np.exp(-0.5 * ((centre - f) / (60 + 0.08 * f)) ** 2) * w
                for f, w in zip(formants, (1, 0.6, 0.3))
            )
            tone = _harmonic(f0, (0.05 + gain) / harmonics, rate) * _envelope(length, rate, 0.04, 2.0)
            fade = np.minimum(1.0, (length - np.arange(length)) / (0.03 * rate))
            _place(out, position, tone * fade)
            position += length
        position += int(4 * beat * rate)
    return out


def _pan(mono, angle):
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono], axis=1)


def synthesize_track(seed, seconds, rate=RATE):
    """``{stem: [samples, 2] float32}`` of one toy song; the same seed gives the same song."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / rng.uniform(90, 140)
    key = int(rng.integers(45, 57))
    song = _Song(int(seconds * rate), rate, beat, key, _PROGRESSIONS[rng.integers(0, len(_PROGRESSIONS))])
    stems = {
        "bass": _pan(_bass(rng, song), rng.uniform(0.6, 0.9)),
        "drums": _pan(_drums(rng, song), rng.uniform(0.5, 1.0)),
        "other": _pan(_chords(rng, song), rng.uniform(0.2, 1.3)),
        "vocals": _pan(_vocals(rng, song), rng.uniform(0.7, 0.85)),
    }
    levels = {
        "bass": rng.uniform(0.5, 0.8),
        "drums": rng.uniform(0.4, 0.7),
        "other": rng.uniform(0.3, 0.6),
        "vocals": rng.uniform(0.5, 0.9),
    }
    stems = {name: audio / (np.abs(audio).max() + 1e-9) * levels[name] for name, audio in stems.items()}
    peak = np.abs(sum(stems.values())).max()
    scale = min(1.0, 0.95 / peak)  # one factor for all stems keeps mixture == sum of stems
    return {name: (audio * scale).astype(np.float32) for name, audio in stems.items()}


def _write_track(folder, stems, rate):
    """Write a track into a staging folder and rename it into place, so it is whole or absent."""
    staging = f"{folder}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    mixture = np.sum([stems[name] for name in MUSDB_STEMS], axis=0, dtype=np.float32)
    for name, audio in [*stems.items(), ("mixture", mixture)]:
        soundfile.write(os.path.join(staging, f"{name}.wav"), audio, rate, subtype="FLOAT")
    os.replace(staging, folder)


def _tracks(params):
    """``(subset, stream, index, name)`` of every track of the corpus ``params`` describe."""
    for subset, stream in (("train", 0), ("test", 1)):
        for index in range(params[subset]):
            title = _NAMES[(index * 7 + stream * 3 + params["seed"]) % len(_NAMES)]
            yield subset, stream, index, f"Toy {subset.title()} {index:03d} - {title}"


def _describe(params):
    return ", ".join(f"{key}={value}" for key, value in params.items())


def _found_tracks(root):
    """``(subset, name)`` of the track folders under ``root``, staging folders of a killed write left out."""
    found = set()
    for subset in ("train", "test"):
        folder = os.path.join(root, subset)
        if os.path.isdir(folder):
            found |= {(subset, name) for name in os.listdir(folder) if not name.endswith(".partial")}
    return found


def _unrecorded_difference(root, params):
    """How the tracks of a folder without a record differ from the corpus ``params`` describe (their
    names, rate and length), or None when they do not."""
    found = _found_tracks(root)
    if not found:
        return None
    expected = {(subset, name) for subset, _, _, name in _tracks(params)}
    if found - expected:
        return "{}/{} is not one of its tracks".format(*min(found - expected))
    if expected - found:
        return "{}/{} is missing".format(*min(expected - found))
    samples = int(params["seconds"] * params["sr"])
    for subset, name in sorted(found):
        try:
            info = soundfile.info(os.path.join(root, subset, name, "mixture.wav"))
            shape = (info.frames, info.samplerate)
        except RuntimeError:  # libsndfile's errors: no such file, not audio
            shape = None
        if shape != (samples, params["sr"]):
            return f"{subset}/{name}/mixture.wav is not {samples} samples at {params['sr']} Hz"
    return None


def _claim(root, params):
    """Record ``params`` in ``root`` (before any track, so a killed run resumes), or raise DataError
    where the folder holds a toy corpus made with other parameters."""
    path = os.path.join(root, RECORD)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            recorded = json.load(handle)
        if recorded != params:
            raise DataError(
                f"{root!r} holds a toy corpus made with {_describe(recorded)}, not {_describe(params)}: "
                f"remove the folder or give another one"
            )
        return
    difference = _unrecorded_difference(root, params)
    if difference:
        raise DataError(
            f"{root!r} holds tracks other than those of the toy corpus with {_describe(params)} "
            f"({difference}): remove the folder or give another one"
        )
    write_text(path, json.dumps(params, indent=1))


def make_toy_corpus(root, *, train=6, test=3, seconds=10.0, seed=0, sr=RATE):
    """Write the corpus under ``root`` and return ``root``. Tracks already there are kept, so a killed
    run resumes; a folder holding a toy corpus made with other parameters raises DataError, as its
    tracks are not the ones asked for."""
    if train < 1 or test < 1:
        raise ValueError(
            f"the toy corpus needs at least one train and one test track (train={train}, test={test})"
        )
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    root = os.fspath(root)
    params = {
        "train": int(train),
        "test": int(test),
        "seconds": float(seconds),
        "seed": int(seed),
        "sr": int(sr),
    }
    _claim(root, params)
    for subset, stream, index, name in _tracks(params):
        folder = os.path.join(root, subset, name)
        if not os.path.isdir(folder):
            os.makedirs(os.path.dirname(folder), exist_ok=True)
            _write_track(folder, synthesize_track([seed, stream, index], seconds, sr), sr)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m wavenet_j.data.toy", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "-o", "--output", required=True, help="corpus root (train/ and test/ are created below it)"
    )
    parser.add_argument("--train", type=int, default=6, help="training tracks (default 6)")
    parser.add_argument("--test", type=int, default=3, help="test tracks (default 3)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each track (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        root = make_toy_corpus(
            args.output, train=args.train, test=args.test, seconds=args.seconds, seed=args.seed
        )
    except ValueError as error:
        parser.error(str(error))
    print(f"toy corpus in {root}")


if __name__ == "__main__":
    main()
