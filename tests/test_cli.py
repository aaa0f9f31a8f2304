"""The ``wavenet-j`` command, run as a user runs it."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from wavenet_j.configs import resolve_config
from wavenet_j.models.summary import describe

pytestmark = pytest.mark.slow  # trains, runs studies or starts processes

CLI = [os.path.join(os.path.dirname(sys.executable), "wavenet-j")]


def run(*args):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=300)


def test_models_prints_a_row_per_model_with_the_described_numbers():
    result = run("models", "U1+tiny", "J1+tiny", "M4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == [
        "model",
        "params",
        "trainable",
        "frozen",
        "input",
        "output",
        "receptive",
        "field",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(rows) == {"U1+tiny", "J1+tiny", "M4"}
    j1 = describe(resolve_config(["J1", "tiny"]))
    expected = [f"{j1[k]:,}" for k in ("params", "trainable", "frozen")] + [
        str(j1[k]) for k in ("input_frames", "output_frames", "receptive_field")
    ]
    assert rows["J1+tiny"] == expected
    assert rows["U1+tiny"][2] == "0" and rows["U1+tiny"][0] == rows["J1+tiny"][0]
    assert rows["M4"][3:5] == ["147443", "16389"]


def test_models_with_an_unknown_name_fails_and_lists_the_known_ones():
    result = run("models", "J7")
    assert result.returncode != 0
    assert re.search(r"unknown named config 'J7'; known: .*J1.*U1", result.stderr)


def test_separate_an_mp3_into_stems(tmp_path):
    import soundfile

    from wavenet_j.models import build_separator

    model = tmp_path / "model.keras"
    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save(model)
    wav, mp3 = tmp_path / "song.wav", tmp_path / "My Song.mp3"
    t = np.arange(3 * 44100) / 44100
    soundfile.write(
        wav, 0.3 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1), 44100
    )
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), str(mp3)], check=True, timeout=120)
    result = run("separate", str(mp3), "--model", str(model), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    mix, rate = soundfile.read(mp3)
    for source in ("accompaniment", "vocals"):
        stem, stem_rate = soundfile.read(tmp_path / "out" / "My Song" / f"{source}.wav")
        assert stem_rate == rate and stem.shape == mix.shape
    fast = run(
        "separate",
        str(mp3),
        "--model",
        str(model),
        "-o",
        str(tmp_path / "bf16"),
        "--bf16",
        "--windows",
        "original",
    )
    assert fast.returncode == 0, fast.stderr[-2000:]
    exact, rounded = (soundfile.read(tmp_path / out / "My Song" / "vocals.wav")[0] for out in ("out", "bf16"))
    assert 0 < np.abs(exact - rounded).max() < 0.05
    missing = run("separate", str(tmp_path / "nope.mp3"), "--model", str(model))
    assert missing.returncode != 0 and "no audio file at" in missing.stderr
    assert run("separate", str(mp3)).returncode != 0  # no model given


def test_evaluate_scores_on_the_original_windows_unless_told_otherwise(tmp_path):
    import json

    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.models import build_separator

    root = make_toy_corpus(tmp_path / "toy", train=1, test=1, seconds=3.0)
    model = tmp_path / "context.keras"
    build_separator(
        resolve_config(["U1", "tiny"], {"context": True, "num_layers": 4, "num_frames": 1024})
    ).save(model)
    sdr = {}
    for grid in ("default", "original", "shared"):
        out = tmp_path / grid
        flags = [] if grid == "default" else ["--windows", grid]
        result = run("evaluate", "--musdb", str(root), "--model", str(model), "-o", str(out), *flags)
        assert result.returncode == 0, result.stderr[-2000:]
        (scores,) = (out / "context" / "test").glob("*.json")
        frames = json.loads(scores.read_text())["targets"][0]["frames"]
        sdr[grid] = np.array([frame["metrics"]["SDR"] for frame in frames])
    np.testing.assert_array_equal(sdr["default"], sdr["original"])
    # the same model on two window grids: close, not identical
    assert not np.array_equal(sdr["original"], sdr["shared"]) and np.allclose(
        sdr["original"], sdr["shared"], atol=1.0
    )


def test_evaluate_keeps_estimates_that_museval_scores_to_the_same_numbers(tmp_path):
    import json

    import musdb
    import museval
    import soundfile

    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.models import build_separator

    root = make_toy_corpus(tmp_path / "toy", train=1, test=1, seconds=3.0)
    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save(tmp_path / "u1.keras")
    result = run(
        "evaluate",
        "--musdb",
        str(root),
        "--model",
        str(tmp_path / "u1.keras"),
        "-o",
        str(tmp_path / "results"),
        "--estimates",
        str(tmp_path / "estimates"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "results" / "sdr_violins.png").exists() and (
        tmp_path / "results" / "sdr_violins.svg"
    ).exists()
    (track,) = (tmp_path / "estimates" / "u1" / "test").iterdir()
    mix = soundfile.info(tmp_path / "toy" / "test" / track.name / "mixture.wav")
    for source in ("accompaniment", "vocals"):
        stem = soundfile.info(track / f"{source}.wav")
        assert (stem.samplerate, stem.frames, stem.channels) == (mix.samplerate, mix.frames, mix.channels)
    museval.eval_mus_dir(
        musdb.DB(root=str(root), is_wav=True, subsets="test"),
        str(tmp_path / "estimates" / "u1"),
        output_dir=str(tmp_path / "museval"),
    )

    def sdr(path):
        targets = json.loads(path.read_text())["targets"]
        return {
            t["name"]: np.array([frame["metrics"]["SDR"] for frame in t["frames"]], dtype=float)
            for t in targets
        }

    # SDR only: ISR, SIR and SAR rest on filters fitted to the toy's synthetic stems, whose Gram matrix is
    # singular to rounding (bss.py), so they move with the last bit of a reference; SDR uses no filter.
    ours, theirs = (
        sdr(folder / "test" / f"{track.name}.json")
        for folder in (tmp_path / "results" / "u1", tmp_path / "museval")
    )
    assert set(ours) == set(theirs) == {"accompaniment", "vocals"}
    for source in ours:
        np.testing.assert_allclose(ours[source], theirs[source], atol=0.01)


def error_line(argv, tmp_path, monkeypatch):
    """The one line ``wavenet-j`` exits with on bad input (status 1: ``sys.exit`` with a message)."""
    from wavenet_j.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert isinstance(exit_.value.code, str) and "\n" not in exit_.value.code, exit_.value.code
    return exit_.value.code


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["evaluate", "--musdb", "x", "--model", "a.keras", "--shard", "1"],
            "wavenet-j evaluate: argument --shard: shard '1' must be i/n with 0 <= i < n",
        ),
        (["search", "J1"], "wavenet-j search: candidates must be U models"),
        (
            ["separate", "song.mp3", "--model", "m.keras", "--stages", "0"],
            "wavenet-j separate: argument --stages: '0' must be a whole number >= 1",
        ),
        (
            ["separate", "song.mp3", "--original-ckpt", "ckpt"],
            "wavenet-j separate: --original-ckpt needs --config",
        ),
        (
            ["separate", "song.mp3", "--model", "m.keras", "--original-ckpt", "ckpt"],
            "wavenet-j separate: argument --original-ckpt: not allowed with argument --model",
        ),
        (["evaluate", "--musdb", "x"], "wavenet-j evaluate: give --model"),
        (["train", "J9"], "wavenet-j train: unknown named config 'J9'"),
        (
            ["train", "J1", "--set", "musdb_pth=/data"],
            "wavenet-j train: unknown model_config key(s) ['musdb_pth']",
        ),
        (
            ["evaluate", "--musdb", "nowhere", "--model", "m.keras"],
            "wavenet-j evaluate: MUSDB root 'nowhere' does not exist",
        ),
        (
            ["train", "J1", "--set", "epoch_it"],
            "wavenet-j train: override 'epoch_it' must be written key=value",
        ),
        (["export", "missing.keras", "-o", "out"], "wavenet-j export: no model at 'missing.keras'"),
        (
            ["study", "--with", "", "--pairs", "U1/J1", "--no-tables", "-o", "study"],
            "wavenet-j study: U1: model_config['musdb_path'] is not set",
        ),
        (
            ["study", "--set", "musdb_path=/nowhere", "--pairs", "U1/J1", "-o", "study"],
            "wavenet-j study: U1: MUSDB root '/nowhere' does not exist",
        ),
        (
            ["study", "--set", "epoch_itt=5", "-o", "study"],
            "wavenet-j study: U1: unknown model_config key(s) ['epoch_itt']",
        ),
        (["study", "--pairs", "U1/J9", "-o", "study"], "wavenet-j study: J9: unknown named config 'J9'"),
        (
            ["search", "U1", "--with", "", "-o", "search"],
            "wavenet-j search: U1: model_config['musdb_path'] is not set",
        ),
        (["search", "UNOPE", "-o", "search"], "wavenet-j search: UNOPE: unknown named config 'UNOPE'"),
        (
            ["plot", "results"],
            "wavenet-j plot: no museval scores (test/*.json) in 'results' or its subfolders",
        ),
        (["plot"], "wavenet-j plot: give result folders and/or --spectrogram"),
        (["plot", "--spectrogram", "mix.wav"], "wavenet-j plot: no audio file at 'mix.wav'"),
    ],
)
def test_user_errors_end_in_one_line_naming_the_command(argv, message, tmp_path, monkeypatch):
    assert error_line(argv, tmp_path, monkeypatch).startswith(message)
    assert (
        not (tmp_path / "checkpoints").exists() and not (tmp_path / "logs").exists()
    )  # failed before any work


def test_study_through_the_command_on_a_corpus_at_any_path(tmp_path, monkeypatch, capsys):
    import json

    from wavenet_j.cli import main
    from wavenet_j.data.toy import make_toy_corpus

    root = make_toy_corpus(tmp_path / "somewhere" / "my musdb", train=3, test=1, seconds=3.0)
    monkeypatch.chdir(tmp_path)
    small = ["num_initial_filters=2", "num_frames=1024", "batch_size=2", "epoch_it=2", "max_epochs=1"]
    argv = [
        "study",
        "--with",
        "tiny",
        "--set",
        f"musdb_path={root}",
        *(f"--set={s}" for s in small),
        "--pairs",
        "U1/J1",
        "--no-tables",
        "-o",
        "study",
    ]
    main(argv + ["--plan"])
    plan = capsys.readouterr().out
    assert re.search(r"\| U1 \| train, then evaluate \| [\d.]+ \(2\) \| 6 \| \d+ s \|", plan), plan
    assert re.search(r"J/U time per step: J1/U1 [\d.]+", plan) and not (tmp_path / "checkpoints").exists()
    main(argv)
    main(argv + ["--plan"])
    assert "| J1 | reuse its scores |" in capsys.readouterr().out
    main(
        [
            "search",
            "U1",
            "U5",
            "--plan",
            "--top-k",
            "1",
            "--set",
            f"musdb_path={root}",
            *(f"--set={s}" for s in small),
        ]
    )
    plan = capsys.readouterr().out
    assert (
        [
            line.split("|")[1].strip()
            for line in plan.splitlines()
            if line.startswith("| ") and "|---" not in line
        ][1:]
        == ["J1", "J5", "U1", "U5"]
        and "top 1" in plan
        and not (tmp_path / "search").exists()
    )
    study = tmp_path / "study"
    assert {"fig2_vocals.png", "fig3_accompaniment.svg", "report.md", "report.json", "study.json"} <= {
        p.name for p in study.iterdir()
    }
    manifest = json.loads((study / "study.json").read_text())
    assert manifest["overrides"]["musdb_path"] == str(root) and not manifest["gaps"]
    assert set(manifest["models"]) == {"U1", "J1"}
    assert (tmp_path / "checkpoints" / "study-J1" / "best.keras").exists()


def test_separate_refuses_colliding_names_keeps_going_past_a_bad_song_and_skips_finished_ones(
    tmp_path, monkeypatch
):
    import soundfile

    from wavenet_j.cli import main
    from wavenet_j.models import build_separator

    monkeypatch.chdir(tmp_path)
    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save("m.keras")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        soundfile.write(tmp_path / folder / "mixture.wav", np.zeros((3000, 2), np.float32), 22050)
    message = error_line(
        ["separate", "a/mixture.wav", "b/mixture.wav", "--model", "m.keras"], tmp_path, monkeypatch
    )
    assert "'a/mixture.wav' and 'b/mixture.wav' would both write 'separated/mixture/" in message
    assert not (tmp_path / "separated").exists()  # refused before separating anything
    (tmp_path / "broken.mp3").write_text("not audio")
    message = error_line(
        [
            "separate",
            "broken.mp3",
            "a/mixture.wav",
            "b/mixture.wav",
            "--model",
            "m.keras",
            "--filename",
            "{parent}-{track}/{source}.{ext}",
        ],
        tmp_path,
        monkeypatch,
    )
    assert message == "wavenet-j separate: 1 of 3 songs failed: 'broken.mp3'"
    written = sorted(
        str(p.relative_to(tmp_path / "separated")) for p in (tmp_path / "separated").rglob("*.wav")
    )
    assert written == [
        "a-mixture/accompaniment.wav",
        "a-mixture/vocals.wav",
        "b-mixture/accompaniment.wav",
        "b-mixture/vocals.wav",
    ]
    stamp = (tmp_path / "separated" / "a-mixture" / "vocals.wav").stat().st_mtime_ns
    again = [
        "separate",
        "a/mixture.wav",
        "--model",
        "m.keras",
        "--filename",
        "{parent}-{track}/{source}.{ext}",
    ]
    main(again)
    assert (tmp_path / "separated" / "a-mixture" / "vocals.wav").stat().st_mtime_ns == stamp  # skipped
    main(again + ["--overwrite", "--encoding", "int24"])
    assert soundfile.info(tmp_path / "separated" / "a-mixture" / "vocals.wav").subtype == "PCM_24"


def test_help_answers_without_tensorflow():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom wavenet_j.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\nprint('tensorflow' in sys.modules, 'keras' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip().endswith("False False") and "separate" in result.stdout


def digests(folder):
    """``{relative path: sha256}`` of every file below ``folder``."""
    import hashlib

    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def tiny_model(tmp_path):
    from wavenet_j.models import build_separator

    path = tmp_path / "m.keras"
    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save(path)
    return path


def write_song(path, samples=3000, rate=22050, subtype="PCM_16", amplitude=0.3):
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(samples) / rate
    audio = amplitude * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1)
    soundfile.write(path, audio.astype(np.float32), rate, subtype=subtype)


def test_separate_never_writes_over_a_file_it_did_not_write(tmp_path, monkeypatch, tiny_model):
    hq = tmp_path / "hq" / "test" / "Song"
    for stem in ("mixture", "bass", "drums", "other", "vocals"):
        write_song(hq / f"{stem}.wav", amplitude=0.1 + 0.1 * len(stem) % 0.5)
    write_song(tmp_path / "inp" / "vocals.wav")
    before = digests(tmp_path)
    model = ["--model", str(tiny_model)]
    # Some stems' paths hold the corpus's own files: the song is refused, nothing is written.
    message = error_line(
        ["separate", "hq/test/Song/mixture.wav", "-o", "hq/test", "--filename", "{parent}/{source}.{ext}"]
        + model,
        tmp_path,
        monkeypatch,
    )
    assert message == "wavenet-j separate: 1 of 1 songs failed: 'hq/test/Song/mixture.wav'"
    # A stem that would be the song itself is refused, with --overwrite too.
    for overwrite in ([], ["--overwrite"]):
        message = error_line(
            ["separate", "inp/vocals.wav", "-o", "inp", "--filename", "{source}.{ext}", *overwrite] + model,
            tmp_path,
            monkeypatch,
        )
        assert "the stem 'inp/vocals.wav' of 'inp/vocals.wav' would replace the song" in message
    # A name whose ending is no format written here.
    message = error_line(
        ["separate", "inp/vocals.wav", "--filename", "{track}/{source}.mp3"] + model, tmp_path, monkeypatch
    )
    assert "gives 'accompaniment.mp3', but the stems are wav or flac files" in message
    message = error_line(
        ["separate", "inp/vocals.wav", "--flac", "--filename", "{track}/{source}.wav"] + model,
        tmp_path,
        monkeypatch,
    )
    assert "the names must end in .flac" in message
    message = error_line(
        ["separate", "inp/vocals.wav", "--flac", "--encoding", "float32"] + model, tmp_path, monkeypatch
    )
    assert message == (
        "wavenet-j separate: FLAC holds integer samples only: choose int16 or int24, or wav for float32"
    )
    message = error_line(["separate", "inp/vocals.wav", "--config", "M4"] + model, tmp_path, monkeypatch)
    assert message == (
        "wavenet-j separate: --config goes with --original-ckpt: a .keras model carries its own config"
    )
    assert digests(tmp_path) == before


def test_separate_takes_folders_and_flac_of_float_songs(tmp_path, monkeypatch, tiny_model):
    import soundfile

    from wavenet_j.cli import main

    write_song(tmp_path / "songs" / "a.wav", subtype="FLOAT")
    write_song(tmp_path / "songs" / "b.flac")
    (tmp_path / "songs" / "notes.txt").write_text("not a song")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    main(["separate", "songs", "--flac", "--model", str(tiny_model)])
    assert sorted(digests(tmp_path / "separated")) == [
        "a/accompaniment.flac",
        "a/vocals.flac",
        "b/accompaniment.flac",
        "b/vocals.flac",
    ]
    assert soundfile.info("separated/a/vocals.flac").subtype == "PCM_24"  # float input, integer FLAC
    assert soundfile.info("separated/b/vocals.flac").subtype == "PCM_16"
    main(["separate", "songs/a.wav", "--filename", "named/{source}.flac", "--model", str(tiny_model)])
    assert soundfile.info("separated/named/vocals.flac").format == "FLAC"  # the name chose the format
    message = error_line(["separate", "empty", "--model", str(tiny_model)], tmp_path, monkeypatch)
    assert message.startswith("wavenet-j separate: 'empty' is a folder without audio files (.aac, ")


def test_warnings_during_a_progress_bar_get_lines_of_their_own(tmp_path, monkeypatch, tiny_model, capsys):
    from wavenet_j.cli import main

    import soundfile

    # Outputs saturate at ±1 at the model's rate; resampled back to 16 kHz they overshoot full scale.
    noise = np.random.default_rng(0).uniform(-3, 3, (30000, 2)).astype(np.float32)
    soundfile.write(tmp_path / "loud.wav", noise, 16000, subtype="FLOAT")
    monkeypatch.chdir(tmp_path)
    main(["separate", "loud.wav", "--encoding", "int16", "--model", str(tiny_model)])
    lines = capsys.readouterr().err.split("\n")
    warning = next(line for line in lines if "wavenet-j: warning:" in line)
    assert warning.split("\r")[-1].startswith("wavenet-j: warning: 'loud.wav': samples beyond full scale")


def test_evaluations_into_one_folder_are_compared_together(tmp_path, monkeypatch, capsys):
    from wavenet_j.cli import main
    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.models import build_separator

    root = make_toy_corpus(tmp_path / "toy", train=1, test=1, seconds=2.0)
    config = resolve_config(["U1", "tiny"], {"num_frames": 1024})
    build_separator(config).save(tmp_path / "first.keras")
    build_separator(config.replace(seed=1)).save(tmp_path / "second.keras")
    monkeypatch.chdir(tmp_path)
    main(["evaluate", "--musdb", str(root), "--model", "first.keras", "-o", "results"])
    main(["evaluate", "--musdb", str(root), "--model", "second.keras", "-o", "results"])
    comparison = (tmp_path / "results" / "comparison.md").read_text()
    assert comparison.splitlines()[0] == "| | | first | second |"
    assert "test tracks scored: first 1, second 1" in comparison
    assert comparison in capsys.readouterr().out
    svg = (tmp_path / "results" / "sdr_violins.svg").read_text()
    assert "<!-- first -->" in svg and "<!-- second -->" in svg
