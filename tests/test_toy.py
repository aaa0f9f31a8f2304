"""The toy corpus: MUSDB18-HQ layout that musdb reads, mixture = sum of stems, reproducible, musical."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from wavenet_j.data.toy import RECORD, make_toy_corpus, synthesize_track
from wavenet_j.data.tracks import DataError

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


def contents(root):
    """Every file under ``root`` with its mtime: what a refused call must leave as it is."""
    return {
        os.path.join(folder, file): os.stat(os.path.join(folder, file)).st_mtime_ns
        for folder, _, files in os.walk(root)
        for file in files
    }


SMALL = {"train": 1, "test": 1, "seconds": 1.0, "seed": 0, "sr": 44100}


@pytest.mark.parametrize(
    "other, requested",
    [
        ({"train": 2}, "train=2, test=1, seconds=1.0, seed=0, sr=44100"),
        ({"test": 2}, "train=1, test=2, seconds=1.0, seed=0, sr=44100"),
        ({"seconds": 2}, "train=1, test=1, seconds=2.0, seed=0, sr=44100"),
        ({"seed": 20}, "train=1, test=1, seconds=1.0, seed=20, sr=44100"),  # the same track names
        ({"sr": 22050}, "train=1, test=1, seconds=1.0, seed=0, sr=22050"),
    ],
)
def test_a_folder_made_with_other_parameters_is_refused(tmp_path, other, requested):
    root = make_toy_corpus(tmp_path / "toy", **SMALL)
    with open(os.path.join(root, RECORD)) as handle:
        assert json.load(handle) == SMALL
    before = contents(root)
    message = (
        f"{str(root)!r} holds a toy corpus made with train=1, test=1, seconds=1.0, seed=0, sr=44100, "
        f"not {requested}: remove the folder or give another one"
    )
    with pytest.raises(DataError) as error:
        make_toy_corpus(root, **dict(SMALL, **other))
    assert str(error.value) == message
    assert contents(root) == before


def test_a_folder_without_a_record_is_taken_when_its_tracks_are_those_asked_for(tmp_path):
    root = make_toy_corpus(tmp_path / "toy", **SMALL)
    os.remove(os.path.join(root, RECORD))  # a corpus with tracks and no record of its parameters
    before = contents(root)
    for other, difference in [
        ({"train": 2}, "train/Toy Train 001 - Harbor is missing"),
        ({"seed": 1}, "test/Toy Test 000 - Dune is not one of its tracks"),
        ({"seconds": 2.0}, "test/Toy Test 000 - Dune/mixture.wav is not 88200 samples at 44100 Hz"),
        ({"sr": 22050}, "test/Toy Test 000 - Dune/mixture.wav is not 22050 samples at 22050 Hz"),
    ]:
        requested = ", ".join(f"{key}={value}" for key, value in {**SMALL, **other}.items())
        with pytest.raises(DataError) as error:
            make_toy_corpus(root, **dict(SMALL, **other))
        assert str(error.value) == (
            f"{str(root)!r} holds tracks other than those of the toy corpus with {requested} "
            f"({difference}): remove the folder or give another one"
        )
    assert contents(root) == before
    make_toy_corpus(root, **SMALL)
    with open(os.path.join(root, RECORD)) as handle:
        assert json.load(handle) == SMALL
    after = contents(root)
    del after[os.path.join(root, RECORD)]
    assert after == before  # the tracks kept
    musdb = tmp_path / "musdb"
    (musdb / "train" / "Artist - Song").mkdir(parents=True)
    with pytest.raises(DataError, match=r"\(train/Artist - Song is not one of its tracks\)"):
        make_toy_corpus(musdb, **SMALL)


GENERATE_WITH_KILL = """
import sys, time
from wavenet_j.data import toy
real_write = toy._write_track
def write_and_stop(folder, stems, rate):
    real_write(folder, stems, rate)
    print("first track written", flush=True)
    time.sleep(60)
toy._write_track = write_and_stop
toy.make_toy_corpus(sys.argv[1], train=2, test=1, seconds=1.0)
"""


@pytest.mark.slow
def test_a_killed_generation_resumes_keeping_its_tracks(tmp_path):
    root = tmp_path / "toy"
    process = subprocess.Popen(
        [sys.executable, "-c", GENERATE_WITH_KILL, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "first track written"
    process.send_signal(signal.SIGKILL)
    process.wait()
    (first,) = os.listdir(root / "train")
    kept = os.stat(root / "train" / first / "vocals.wav").st_mtime_ns
    make_toy_corpus(root, train=2, test=1, seconds=1.0)
    assert len(os.listdir(root / "train")) == 2 and len(os.listdir(root / "test")) == 1
    assert os.stat(root / "train" / first / "vocals.wav").st_mtime_ns == kept


@pytest.mark.slow
def test_command_line_refuses_a_folder_made_with_other_parameters(tmp_path):
    out = tmp_path / "toy"
    make_toy_corpus(out, **SMALL)
    result = subprocess.run(
        [sys.executable, "-m", "wavenet_j.data.toy", "-o", str(out), "--train", "1", "--test", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"python -m wavenet_j.data.toy: error: {str(out)!r} holds a toy corpus made with train=1, test=1, "
        f"seconds=1.0, seed=0, sr=44100, not train=1, test=1, seconds=10.0, seed=0, sr=44100: "
        f"remove the folder or give another one"
    )
