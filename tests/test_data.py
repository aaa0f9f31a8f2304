"""Readers, the cache (resumable after kill -9) and the data pipeline, on corpora made here."""

import gc
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile

from networks import SMALL_NET
from wavenet_j.configs import complete_config
from wavenet_j.data.cache import MANIFEST, convert, musdb_cache
from wavenet_j.data import pipeline
from wavenet_j.data.pipeline import batches, get_dataset, partition_tracks, split_train_valid
from wavenet_j.data.tracks import DataError, musdb_tracks
from wavenet_j.models import build_separator, get_padding

STEMS = ("bass", "drums", "other", "vocals")
NET = dict(SMALL_NET, batch_size=4, expected_sr=22050)


def write_track(folder, seconds=1.0, rate=44100, seed=0, channels=2):
    """A MUSDB18-HQ track: four stems of tones and noise, the mixture their exact sum."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    stems = [
        0.2 * np.sin(2 * np.pi * rng.uniform(50, 800) * t)[:, None] * np.ones(channels)
        + 0.02 * rng.standard_normal((n, channels))
        for _ in STEMS
    ]
    os.makedirs(folder, exist_ok=True)
    for name, audio in zip(STEMS, stems):
        soundfile.write(os.path.join(folder, f"{name}.wav"), audio.astype(np.float32), rate, subtype="FLOAT")
    soundfile.write(
        os.path.join(folder, "mixture.wav"), np.sum(stems, axis=0).astype(np.float32), rate, subtype="FLOAT"
    )


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "musdb"
    for i in range(8):
        write_track(root / "train" / f"Artist {i} - Song", seconds=1.0 + 0.25 * i, seed=i)
    for i in range(2):
        write_track(root / "test" / f"Tester {i} - Song", seconds=1.5, seed=100 + i)
    return root


def config_for(corpus, tmp_path, **extra):
    return complete_config(
        {**NET, "num_frames": 64, "musdb_path": str(corpus), "data_path": str(tmp_path / "data"), **extra}
    )


def test_musdb_reads_the_corpus(corpus):
    import musdb

    db = musdb.DB(root=str(corpus), is_wav=True, subsets="train")
    assert len(db.tracks) == 8 and db.tracks[0].rate == 44100
    assert [t.name for t in musdb_tracks(str(corpus), "test")] == ["Tester 0 - Song", "Tester 1 - Song"]


def test_cache_holds_the_right_rates_lengths_and_channels(corpus, tmp_path):
    stereo = musdb_cache(config_for(corpus, tmp_path), "train")
    assert len(stereo) == 8
    first = stereo[0].load()
    assert first.shape == (5, 22050, 2) and first.dtype == np.float32  # 1 s at 22.05 kHz
    assert stereo[3].samples == -(-int(1.75 * 44100) // 2)  # 77175 samples at 44.1 kHz, rounded up
    np.testing.assert_allclose(first[0], first[1:].sum(axis=0), atol=1e-4)  # resampling is linear
    mono = musdb_cache(config_for(corpus, tmp_path, mono_downmix=True), "train")
    assert mono[0].load().shape == (5, 22050, 1)
    assert os.path.dirname(mono[0].path) != os.path.dirname(stereo[0].path)  # a separate cache, never mixed
    rate_44 = musdb_cache(config_for(corpus, tmp_path, expected_sr=44100), "train")
    assert rate_44[0].samples == 44100 and os.path.dirname(rate_44[0].path) != os.path.dirname(stereo[0].path)


def test_split_is_seeded_and_reproducible():
    names = [f"track {i:03d}" for i in range(100)]
    train, valid = split_train_valid(reversed(names), 0.25, 0, "musdb/train")
    assert len(valid) == 25 and len(train) == 75 and not set(train) & set(valid)
    assert split_train_valid(names, 0.25, 0, "musdb/train") == (train, valid)
    assert split_train_valid(names, 0.25, 1, "musdb/train")[1] != valid
    assert split_train_valid(names[:2], 0.01, 0, "musdb/train")[1] != []  # one track at least


def test_a_split_without_a_track_to_train_on_names_the_corpus():
    with pytest.raises(
        DataError,
        match=r"at least 2 tracks in 'musdb/train', one to train on and one to validate; it holds 1$",
    ):
        split_train_valid(["only"], 0.25, 0, "musdb/train")
    with pytest.raises(DataError, match=r"valid_fraction 0.8 draws all 2 training tracks of 'musdb/train'"):
        split_train_valid(["a", "b"], 0.8, 0, "musdb/train")


@pytest.mark.slow
def test_training_on_a_corpus_of_one_track_is_one_line_naming_it(tmp_path):
    from wavenet_j.data.toy import make_toy_corpus

    root = make_toy_corpus(tmp_path / "one", train=1, test=1, seconds=2)
    cli = os.path.join(os.path.dirname(sys.executable), "wavenet-j")
    paths = {key: tmp_path / key for key in ("data_path", "model_base_dir", "log_dir")}
    sets = [arg for key, path in {"musdb_path": root, **paths}.items() for arg in ("--set", f"{key}={path}")]
    result = subprocess.run([cli, "train", "J1", "tiny", *sets], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    *progress, line = result.stderr.strip().split("\n")
    assert all(bar.startswith("caching MUSDB train:") for bar in progress)
    assert line == (
        f"wavenet-j train: training needs at least 2 tracks in {os.path.join(root, 'train')!r}, "
        f"one to train on and one to validate; it holds 1"
    )


def test_partitions_use_the_split(corpus, tmp_path):
    config = config_for(corpus, tmp_path)
    train, valid = partition_tracks(config, "train"), partition_tracks(config, "valid")
    assert len(valid) == 2 and len(train) == 6
    assert not {t.name for t in train} & {t.name for t in valid}
    assert len(partition_tracks(config, "test")) == 2


@pytest.mark.parametrize("context", [False, True])
def test_batches_have_the_shapes_the_model_needs(corpus, tmp_path, context):
    config = config_for(corpus, tmp_path, context=context, num_frames=64 if not context else 40)
    input_frames, output_frames = get_padding(config)
    model = build_separator(config)
    for partition in ("train", "valid"):
        mix, targets = next(iter(get_dataset(config, partition)))
        assert mix.shape == (4, input_frames, 2) and mix.shape[1:] == model.input_shape[1:]
        assert sorted(targets) == ["accompaniment", "vocals"]
        assert all(t.shape == (4, output_frames, 2) for t in targets.values())
        model(mix)


def test_augmentation_keeps_the_mix_the_sum_of_the_sources(corpus, tmp_path):
    config = config_for(corpus, tmp_path, augmentation=True)
    mix, targets = next(iter(get_dataset(config, "train")))
    np.testing.assert_allclose(mix, targets["accompaniment"] + targets["vocals"], atol=1e-6)
    # Augmentation scales sources: the mix is not the stored one any more, but still their sum.
    context = config_for(corpus, tmp_path, context=True, num_frames=40, task="multi_instrument")
    mix, targets = next(iter(get_dataset(context, "train")))
    offset = (mix.shape[1] - targets["bass"].shape[1]) // 2
    centre = mix[:, offset : offset + targets["bass"].shape[1]]
    np.testing.assert_allclose(centre, sum(targets.values()), atol=1e-6)


def test_validation_covers_every_snippet_in_order(corpus, tmp_path):
    config = config_for(corpus, tmp_path)
    tracks = partition_tracks(config, "valid")
    batches = list(get_dataset(config, "valid"))
    mixes = np.concatenate([mix for mix, _ in batches])
    expected = sum(-(-t.samples // 64) for t in tracks)
    assert len(mixes) == expected
    first = tracks[0].load()
    np.testing.assert_allclose(mixes[0], first[0, :64], atol=0)
    vocals = np.concatenate([targets["vocals"] for _, targets in batches])
    np.testing.assert_allclose(vocals[1], first[4, 64:128], atol=0)


def test_train_batches_are_deterministic_from_seed_and_epoch(corpus, tmp_path):
    config = config_for(corpus, tmp_path)

    def first(**kwargs):
        return next(iter(get_dataset(config, "train", **kwargs)))[0].numpy()

    np.testing.assert_array_equal(first(epoch=0), first(epoch=0))
    assert not np.array_equal(first(epoch=0), first(epoch=1))


def cached_mixture_of(folder, config):
    """The mixture of a MUSDB18-HQ track folder as the cache stores it."""
    audio, rate = soundfile.read(os.path.join(folder, "mixture.wav"), dtype="float32", always_2d=True)
    return convert(audio[None], rate, config)[0]


def test_a_track_whose_files_change_is_cached_again(corpus, tmp_path, capsys):
    config = config_for(corpus, tmp_path)
    written = {t.name: os.stat(t.path).st_mtime_ns for t in musdb_cache(config, "train")}
    capsys.readouterr()
    edited, touched = corpus / "train" / "Artist 2 - Song", corpus / "train" / "Artist 5 - Song"
    write_track(edited, seconds=1.5, seed=42)  # the same length, other audio: the same sizes
    stat = os.stat(touched / "vocals.wav")
    os.utime(touched / "vocals.wav", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    tracks = {t.name: t for t in musdb_cache(config, "train")}
    assert capsys.readouterr().out.splitlines() == [
        "track 'Artist 2 - Song': bass.wav changed since it was cached; caching it again",
        "track 'Artist 5 - Song': vocals.wav changed since it was cached; caching it again",
    ]
    np.testing.assert_array_equal(tracks["Artist 2 - Song"].load()[0], cached_mixture_of(edited, config))
    assert {name for name, t in tracks.items() if os.stat(t.path).st_mtime_ns != written[name]} == {
        "Artist 2 - Song",
        "Artist 5 - Song",
    }
    musdb_cache(config, "train")
    assert capsys.readouterr().out == ""  # cached again once, then trusted
    (edited / "drums.wav").unlink()
    with pytest.raises(DataError, match=r"'Artist 2 - Song': missing file .*drums.wav"):
        musdb_cache(config, "train")
    assert capsys.readouterr().out.splitlines() == [
        "track 'Artist 2 - Song': drums.wav is missing; caching it again"
    ]


def test_cache_entries_without_a_record_of_their_files_are_cached_again_once(corpus, tmp_path, capsys):
    config = config_for(corpus, tmp_path)
    tracks = musdb_cache(config, "train")
    manifest = os.path.join(os.path.dirname(tracks[0].path), MANIFEST)
    with open(manifest) as handle:
        entries = json.load(handle)["tracks"]
    for entry in entries.values():
        del entry["files"]
    with open(manifest, "w") as handle:
        json.dump({"tracks": entries}, handle)
    np.save(tracks[0].path, np.zeros((5, 10, 2), np.float32))  # what the entry holds is not trusted
    capsys.readouterr()
    again = musdb_cache(config, "train")
    assert capsys.readouterr().out.splitlines() == [
        f"track {t.name!r}: its cache entry has no record of its source files; caching it again"
        for t in tracks
    ]
    folder = corpus / "train" / tracks[0].name
    np.testing.assert_array_equal(again[0].load()[0], cached_mixture_of(folder, config))
    musdb_cache(config, "train")
    assert capsys.readouterr().out == ""


def test_short_tracks_are_zero_padded(tmp_path):
    root = tmp_path / "short"
    for i in range(4):
        write_track(root / "train" / f"S{i} - Short", seconds=0.001, seed=i)  # 44 samples: 22 at 22.05 kHz
    write_track(root / "test" / "T - Short", seconds=0.001)
    mix, targets = next(iter(get_dataset(config_for(root, tmp_path), "test")))
    assert mix.shape == (1, 64, 2)
    assert np.all(mix[0, 22:] == 0) and np.any(mix[0, :22] != 0)


CACHE_WITH_KILL = """
import sys, time, numpy
from wavenet_j.data import cache
calls = []
real_save = numpy.save
def slow_save(path, array):
    calls.append(path)
    real_save(path, array)
    if len(calls) == 3:  # two tracks finished; the third's file is written but not yet renamed
        print("writing third", flush=True)
        time.sleep(60)
numpy.save = slow_save
cache.musdb_cache(dict(%r), "train")
"""


def test_a_killed_cache_build_resumes_without_redoing_or_trusting_partial_files(corpus, tmp_path):
    config = config_for(corpus, tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-c", CACHE_WITH_KILL % config], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "writing third"
    process.send_signal(signal.SIGKILL)
    process.wait()
    manifests = [os.path.join(d, MANIFEST) for d, _, files in os.walk(tmp_path / "data") if MANIFEST in files]
    assert len(manifests) == 1
    folder = os.path.dirname(manifests[0])
    with open(manifests[0]) as handle:
        finished = json.load(handle)["tracks"]
    assert len(finished) == 2  # the partial third track is not listed
    mtimes = {name: os.path.getmtime(os.path.join(folder, entry["file"])) for name, entry in finished.items()}
    time.sleep(0.05)
    tracks = musdb_cache(config, "train")
    assert len(tracks) == 8
    for track in tracks:
        if track.name in mtimes:
            assert os.path.getmtime(track.path) == mtimes[track.name]  # not redone
        assert track.load().shape[1] == track.samples  # complete
    with open(manifests[0]) as handle:
        assert len(json.load(handle)["tracks"]) == 8


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing_root", "does not exist"),
        ("empty_root", "no MUSDB tracks under"),
        ("lengths", "'Artist 0 - Song': its files differ in length"),
        ("rates", r"'Artist 0 - Song': its files have different sample rates \[22050, 44100\]"),
        ("corrupt", r"'Artist 0 - Song': cannot read .*vocals.wav"),
        ("nan", "'Artist 0 - Song' has NaN or infinite samples"),
        ("missing_stem", r"'Artist 0 - Song': missing file .*drums.wav"),
    ],
)
def test_bad_input_names_the_track_and_leaves_no_cache_entry(corpus, tmp_path, damage, message):
    track = corpus / "train" / "Artist 0 - Song"
    config = config_for(corpus, tmp_path)
    if damage == "missing_root":
        config = config.replace(musdb_path=str(tmp_path / "nowhere"))
    elif damage == "empty_root":
        (tmp_path / "empty" / "train").mkdir(parents=True)
        config = config.replace(musdb_path=str(tmp_path / "empty"))
    elif damage == "lengths":
        soundfile.write(track / "bass.wav", np.zeros((100, 2), np.float32), 44100, subtype="FLOAT")
    elif damage == "rates":
        audio, _ = soundfile.read(track / "bass.wav")
        soundfile.write(track / "bass.wav", audio, 22050, subtype="FLOAT")
    elif damage == "corrupt":
        (track / "vocals.wav").write_bytes(b"RIFF not really a wav file")
    elif damage == "nan":
        audio, _ = soundfile.read(track / "other.wav")
        audio[10] = np.nan
        soundfile.write(track / "other.wav", audio, 44100, subtype="FLOAT")
    elif damage == "missing_stem":
        (track / "drums.wav").unlink()
    with pytest.raises(DataError, match=message):
        musdb_cache(config, "train")
    for directory, _, files in os.walk(tmp_path / "data"):
        if MANIFEST in files:
            with open(os.path.join(directory, MANIFEST)) as handle:
                assert "Artist 0 - Song" not in json.load(handle)["tracks"]


def test_stem_files_are_read_through_ffmpeg(tmp_path, capsys):
    import stempeg

    root = tmp_path / "musdb18"
    # One tone per stream, in the stem file's order: drums 200 Hz, bass 100 Hz, other 300 Hz, vocals 400 Hz.
    t = np.arange(44100) / 44100
    stems = np.stack(
        [0.2 * np.sin(2 * np.pi * f * t)[:, None].repeat(2, axis=1) for f in (200, 100, 300, 400)]
    )
    audio = np.concatenate([stems.sum(axis=0, keepdims=True), stems]).astype(np.float32)
    for subset, name in (("train", "A - Stems"), ("test", "B - Stems")):
        (root / subset).mkdir(parents=True)
        stempeg.write_stems(
            str(root / subset / f"{name}.stem.mp4"),
            audio,
            sample_rate=44100,
            writer=stempeg.StreamsWriter(codec="aac", bitrate=256000),
        )
    config = config_for(root, tmp_path)
    (track,) = musdb_cache(config, "test")
    cached = track.load()
    assert track.sources == ("mixture", "bass", "drums", "other", "vocals")
    assert (
        cached.shape[0] == 5 and cached.shape[2] == 2 and abs(cached.shape[1] - 22050) < 1100
    )  # aac adds a frame
    peaks = [np.argmax(np.abs(np.fft.rfft(row[:, 0]))) * 22050 / len(row) for row in cached[1:]]
    np.testing.assert_allclose(peaks, [100, 200, 300, 400], atol=2)
    # The mixture stream is the stems' sum, up to the codec (whose onset transient is skipped).
    np.testing.assert_allclose(cached[0, 4096:], cached[1:, 4096:].sum(axis=0), atol=0.02)
    capsys.readouterr()
    stem_file = root / "test" / "B - Stems.stem.mp4"
    with open(stem_file, "ab") as handle:
        handle.write(b"\0")  # one byte more: another size
    musdb_cache(config, "test")
    assert capsys.readouterr().out.splitlines() == [
        "track 'B - Stems': B - Stems.stem.mp4 changed since it was cached; caching it again"
    ]


def test_stem_files_without_ffmpeg_name_what_to_install(tmp_path, monkeypatch):
    root = tmp_path / "musdb18"
    (root / "train").mkdir(parents=True)
    (root / "train" / "A - B.stem.mp4").write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg on it
    with pytest.raises(DataError, match="needs ffmpeg, which is not installed"):
        musdb_tracks(str(root), "train")


def test_ccmixter_songs_join_the_training_set(corpus, tmp_path, capsys):
    root = tmp_path / "ccmixter"
    rng = np.random.default_rng(5)
    for song in ("Song A", "Song B"):
        (root / song).mkdir(parents=True)
        instrumental, voice = rng.uniform(-0.3, 0.3, (2, 30000, 2)).astype(np.float32)
        for name, audio in (("mix", instrumental + voice), ("source-01", instrumental), ("source-02", voice)):
            soundfile.write(root / song / f"{name}.wav", audio, 44100, subtype="FLOAT")
    config = config_for(corpus, tmp_path, ccmixter_path=str(root))
    train = partition_tracks(config, "train")
    ccmixter = [t for t in train if t.name.startswith("Song")]
    assert [t.name for t in ccmixter] == ["Song A", "Song B"] and len(train) == 8
    assert ccmixter[0].sources == ("mixture", "accompaniment", "vocals")
    mix, targets = next(iter(get_dataset(config, "train")))
    assert mix.shape == (4, 64, 2)
    # The multi-instrument task has no use for CCMixter's two stems: it is left out.
    assert len(partition_tracks(config.replace(task="multi_instrument"), "train")) == 6
    capsys.readouterr()
    voice = rng.uniform(-0.3, 0.3, (30000, 2)).astype(np.float32)
    soundfile.write(root / "Song B" / "source-02.wav", voice, 44100, subtype="FLOAT")
    soundfile.write(root / "Song B" / "mix.wav", instrumental + voice, 44100, subtype="FLOAT")
    (song_b,) = [t for t in partition_tracks(config, "train") if t.name == "Song B"]
    assert capsys.readouterr().out.splitlines() == [
        "track 'Song B': mix.wav changed since it was cached; caching it again"
    ]
    np.testing.assert_allclose(song_b.load()[2], convert(voice[None], 44100, config)[0])


def as_numpy(batch):
    mix, targets = batch
    return np.asarray(mix), {name: np.asarray(target) for name, target in targets.items()}


def assert_same_batches(expected, actual):
    expected, actual = list(expected), list(actual)
    assert len(expected) == len(actual)
    for (mix, targets), (other_mix, other_targets) in zip(map(as_numpy, expected), map(as_numpy, actual)):
        assert mix.dtype == other_mix.dtype == np.float32
        np.testing.assert_array_equal(mix, other_mix)
        assert sorted(targets) == sorted(other_targets)
        for name in targets:
            assert targets[name].dtype == np.float32
            np.testing.assert_array_equal(targets[name], other_targets[name])


def plain_train_batch(tracks, rng, size, config):
    """One training batch cut the plain way, from the draws documented by ``batches``: a track index
    per example, then each example's start, then with augmentation each example's source gains."""
    input_frames, output_frames = get_padding(config)
    offset = (input_frames - output_frames) // 2
    picks = [
        (t, rng.integers(0, max(1, tracks[t].samples - output_frames + 1)))
        for t in rng.integers(0, len(tracks), size)
    ]
    mixes, targets = [], []
    for t, start in picks:
        audio = tracks[t].load()
        padded = np.zeros((len(audio), audio.shape[1] + 2 * input_frames, audio.shape[2]), np.float32)
        padded[:, input_frames : input_frames + audio.shape[1]] = audio
        window = padded[:, input_frames + start - offset :][:, :input_frames]
        sources = np.stack([window[1:4].sum(axis=0), window[4]])  # accompaniment: bass + drums + other
        sources *= rng.uniform(0.7, 1.0, size=(2, 1, 1)).astype(np.float32)
        mixes.append(sources.sum(axis=0))
        targets.append(sources[:, offset : offset + output_frames])
    targets = np.stack(targets, axis=1)
    return np.stack(mixes), {"accompaniment": targets[0], "vocals": targets[1]}


def test_train_batches_are_the_drawn_snippets_cut_plainly(corpus, tmp_path):
    config = config_for(corpus, tmp_path, context=True, num_frames=40, augmentation=True, seed=3)
    tracks = partition_tracks(config, "train")
    generators = [np.random.default_rng([3, 2, worker]) for worker in range(2)]
    expected = [plain_train_batch(tracks, generators[i % 2], 4, config) for i in range(5)]
    assert_same_batches(expected, itertools.islice(batches(config, "train", epoch=2), 5))


@pytest.mark.parametrize("context", [False, True])
def test_batches_and_get_dataset_give_the_same_batches(corpus, tmp_path, context):
    config = config_for(
        corpus, tmp_path, augmentation=True, context=context, num_frames=40 if context else 64
    )
    for workers in (1, 3):
        train = itertools.islice(batches(config, "train", epoch=1, workers=workers), 6)
        assert_same_batches(train, get_dataset(config, "train", epoch=1, workers=workers).take(6))
    valid = list(batches(config, "valid"))
    sizes = [len(mix) for mix, _ in valid]
    assert sizes[:-1] == [4] * (len(sizes) - 1) and 0 < sizes[-1] <= 4
    output_frames = get_padding(config)[1]
    assert sum(sizes) == sum(-(-t.samples // output_frames) for t in partition_tracks(config, "valid"))
    assert_same_batches(valid, get_dataset(config, "valid"))


def test_a_resumed_epoch_gives_the_batches_after_the_skipped_ones(corpus, tmp_path):
    config = config_for(corpus, tmp_path, augmentation=True)
    train = list(itertools.islice(batches(config, "train", epoch=4), 8))
    for start in (1, 3, 4):
        assert_same_batches(
            train[start:], itertools.islice(batches(config, "train", epoch=4, start=start), 8 - start)
        )
    assert_same_batches(train[3:], get_dataset(config, "train", epoch=4, start=3).take(5))
    valid = list(batches(config, "valid"))
    assert_same_batches(valid[5:], batches(config, "valid", start=5))
    assert list(batches(config, "valid", start=len(valid))) == []


def test_batches_are_deterministic_from_seed_and_epoch(corpus, tmp_path):
    def first(epoch=0, seed=0):
        return next(batches(config_for(corpus, tmp_path, augmentation=True, seed=seed), "train", epoch=epoch))

    assert_same_batches([first()], [first()])
    assert not np.array_equal(first()[0], first(epoch=1)[0])
    assert not np.array_equal(first()[0], first(seed=1)[0])


def pipeline_threads():
    return sum(thread.name.endswith("(_work)") for thread in threading.enumerate())


def test_workers_stay_a_few_batches_ahead_and_stop_with_the_consumer(corpus, tmp_path, monkeypatch):
    cut, calls = pipeline._Cutter.cut, []
    monkeypatch.setattr(pipeline._Cutter, "cut", lambda self, *args: calls.append(1) or cut(self, *args))
    config = config_for(corpus, tmp_path)
    for stop in ("close", "drop"):
        calls.clear()
        iterator = batches(config, "train", workers=2)
        next(iterator)
        time.sleep(0.5)
        assert pipeline_threads() == 2
        assert len(calls) <= 1 + 2 * (pipeline.AHEAD + 1)  # each worker: its queue, and one batch waiting
        if stop == "close":
            iterator.close()
        else:
            del iterator
            gc.collect()
        assert pipeline_threads() == 0
    assert len(list(itertools.islice(get_dataset(config, "train"), 3))) == 3
    gc.collect()
    assert pipeline_threads() == 0


def test_an_exception_in_a_worker_reaches_the_consumer(corpus, tmp_path, monkeypatch):
    config = config_for(corpus, tmp_path)
    failure = OSError("Input/output error reading the cache")
    cut = pipeline._Cutter.cut

    def failing(self, picks, gains=None):
        if picks == [(0, 2 * 64)]:  # the third batch of one snippet each
            raise failure
        return cut(self, picks, gains)

    monkeypatch.setattr(pipeline._Cutter, "cut", failing)
    iterator = batches(config, "valid", batch_size=1)
    next(iterator), next(iterator)
    with pytest.raises(OSError) as raised:
        next(iterator)
    assert raised.value is failure
    assert pipeline_threads() == 0


def test_a_damaged_cache_file_is_one_line_naming_it(corpus, tmp_path):
    config = config_for(corpus, tmp_path)
    track = partition_tracks(config, "valid")[0]
    np.save(track.path, np.zeros((5, 10, 2), np.float32))
    message = f"{track.name!r}: its cache file {track.path} holds float32 (5, 10, 2), its manifest records"
    with pytest.raises(DataError, match=re.escape(message)):
        batches(config, "valid")
    os.remove(track.path)
    assert_same_batches(batches(config, "valid"), batches(config, "valid"))  # cached again


BATCHES_ON_JAX = """
import sys
sys.modules["tensorflow"] = None
import itertools, numpy
from wavenet_j.data.pipeline import batches
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
arrays = {}
for i, (mix, targets) in enumerate(itertools.islice(batches(%r, "train", start=1), 3)):
    arrays.update({f"{i} mix": mix, **{f"{i} {name}": target for name, target in targets.items()}})
numpy.savez(%r, **arrays)
"""


def test_batches_run_on_jax_without_tensorflow(corpus, tmp_path):
    try:
        import jax  # noqa: F401
    except ImportError:
        pytest.skip("JAX is not installed")
    config = config_for(corpus, tmp_path, augmentation=True)
    expected = list(itertools.islice(batches(config, "train", start=1), 3))
    saved = tmp_path / "batches.npz"
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", BATCHES_ON_JAX % (config, str(saved))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with np.load(saved) as arrays:
        actual = [
            (arrays[f"{i} mix"], {name: arrays[f"{i} {name}"] for name in ("accompaniment", "vocals")})
            for i in range(3)
        ]
    assert_same_batches(expected, actual)
