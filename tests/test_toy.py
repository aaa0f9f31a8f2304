"""The toy corpus: MUSDB18-HQ layout that musdb reads, mixture = sum of stems, reproducible, musical."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from wavenet_j.data.toy import make_toy_corpus, synthesize_track

STEMS = ("bass", "drums", "other", "vocals")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy") / "musdb", train=2, test=1, seconds=3.0, seed=0)


def read(folder, name):
    audio, rate = soundfile.read(os.path.join(folder, f"{name}.wav"), dtype="float32")
    return audio, rate


def test_musdb_reads_the_corpus(corpus):
    import musdb

    assert len(musdb.DB(root=corpus, is_wav=True, subsets="train").tracks) == 2
    (track,) = musdb.DB(root=corpus, is_wav=True, subsets="test").tracks
    assert track.rate == 44100 and track.audio.shape == (3 * 44100, 2)
    assert set(track.sources) == set(STEMS)


def test_mixture_is_the_sum_of_the_stems_and_never_clips(corpus):
    for folder in sorted(os.scandir(os.path.join(corpus, "train")), key=lambda e: e.name):
        mixture, rate = read(folder.path, "mixture")
        stems = [read(folder.path, s)[0] for s in STEMS]
        assert rate == 44100 and mixture.shape[1] == 2
        np.testing.assert_allclose(mixture, np.sum(stems, axis=0), atol=1e-6)
        assert np.abs(mixture).max() < 1.0
        assert all(np.sqrt(np.mean(s**2)) > 1e-3 for s in stems)  # no silent stem


def test_same_seed_same_song_other_seed_other_song():
    a, b, c = (
        synthesize_track([0, 0, 1], 1.0),
        synthesize_track([0, 0, 1], 1.0),
        synthesize_track([1, 0, 1], 1.0),
    )
    for stem in STEMS:
        np.testing.assert_array_equal(a[stem], b[stem])
    assert not np.allclose(a["vocals"], c["vocals"])
    assert not np.allclose(
        synthesize_track([0, 1, 0], 1.0)["other"], synthesize_track([0, 0, 0], 1.0)["other"]
    )


def test_vocals_are_sung_phrases_with_rests():
    vocals = synthesize_track([0, 0, 0], 12.0)["vocals"][:, 0]
    windows = vocals[: len(vocals) // 4410 * 4410].reshape(-1, 4410)
    rms = np.sqrt(np.mean(windows**2, axis=1))
    assert np.mean(rms < 1e-3) > 0.1 and np.mean(rms > 1e-2) > 0.3  # rests and singing
    # A voiced window has a clear fundamental between 80 and 1000 Hz (autocorrelation peak).
    voiced = windows[np.argmax(rms)]
    voiced = voiced - voiced.mean()
    correlation = np.correlate(voiced, voiced, mode="full")[len(voiced) - 1 :]
    lags = np.arange(44, 552)  # 1000 Hz .. 80 Hz
    best = lags[np.argmax(correlation[lags])]
    assert correlation[best] > 0.5 * correlation[0]


def test_rerun_keeps_finished_tracks(corpus):
    folder = os.path.join(corpus, "train", sorted(os.listdir(os.path.join(corpus, "train")))[0])
    before = os.path.getmtime(os.path.join(folder, "vocals.wav"))
    make_toy_corpus(corpus, train=2, test=1, seconds=3.0, seed=0)
    assert os.path.getmtime(os.path.join(folder, "vocals.wav")) == before
    assert not any(name.endswith(".partial") for name in os.listdir(os.path.join(corpus, "train")))


def test_command_line(tmp_path):
    out = tmp_path / "toy"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wavenet_j.data.toy",
            "--output",
            str(out),
            "--train",
            "1",
            "--test",
            "1",
            "--seconds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(os.listdir(out / "train")) == 1 and len(os.listdir(out / "test")) == 1
    bad = subprocess.run(
        [sys.executable, "-m", "wavenet_j.data.toy", "--output", str(out), "--train", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "train=0" in bad.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "wavenet_j.data.toy", "--output", str(out), "--seconds", "-1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "seconds must be positive" in bad.stderr
