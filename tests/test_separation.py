"""Windowed separation of whole signals gives the original predict_track's numbers."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from networks import SMALL_NET, small_net
from wavenet_j.audio import AudioError
from wavenet_j.backend import predict_fn
from wavenet_j.models import build_separator, rebuild
from wavenet_j.separation import (
    SeparationOptions,
    separate_signal,
    separate_track,
    separate_windows,
    shared_context,
    window_starts,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def original_predict_track(model, mix):
    """The original's loop: zero-padded context, windows from the start, the last moved back to end at
    the end."""
    input_frames, output_frames = model.input_shape[1], model.outputs[0].shape[1]
    length = max(len(mix), output_frames)  # our documented rule for signals shorter than one window
    context = (input_frames - output_frames) // 2
    padded = np.pad(mix, [(context, context + length - len(mix)), (0, 0)])
    estimates = {name: np.zeros((length, mix.shape[1]), np.float32) for name in model.output}
    for start in range(0, length, output_frames):
        start = min(start, length - output_frames)
        window = model(padded[None, start : start + input_frames])
        for name in estimates:
            estimates[name][start : start + output_frames] = window[name][0]
    return {name: value[: len(mix)] for name, value in estimates.items()}


@pytest.mark.parametrize("context, frames", [(True, 40), (False, 64)])
@pytest.mark.parametrize("length", [10, 43, 64, 129, 250])
def test_separate_signal_equals_the_original_loop(context, frames, length):
    model = build_separator(small_net(context=context, num_frames=frames))
    mix = np.random.default_rng(length).uniform(-0.5, 0.5, (length, 2)).astype(np.float32)
    ours = separate_signal(model, tf.constant(mix), batch_windows=3)
    expected = original_predict_track(model, mix)
    for name in expected:
        assert ours[name].shape == mix.shape
        np.testing.assert_allclose(ours[name].numpy(), expected[name], atol=1e-6)


def test_window_starts():
    np.testing.assert_array_equal(window_starts(250, 64), [0, 64, 128, 186])
    np.testing.assert_array_equal(window_starts(128, 64), [0, 64])
    np.testing.assert_array_equal(window_starts(10, 64), [0])
    np.testing.assert_array_equal(window_starts(250, 64, hop=56), [0, 56, 112, 168, 224])
    np.testing.assert_array_equal(window_starts(10, 64, hop=56), [0])


@pytest.mark.parametrize("length", [10, 200, 1001])
def test_shared_context_pass_equals_separate_windows(length):
    model = build_separator(small_net(context=True, num_frames=40))
    long_model, hop = shared_context(model, windows=4)
    assert hop % 2 ** SMALL_NET["num_layers"] == 0 and hop <= model.outputs[0].shape[1]
    assert long_model.input_shape[1] - model.input_shape[1] == 3 * hop
    mix = np.random.default_rng(length).uniform(-0.5, 0.5, (length, 2)).astype(np.float32)
    windowed = separate_signal(model, tf.constant(mix), batch_windows=3, hop=hop)
    shared = separate_signal(long_model, tf.constant(mix), batch_windows=2, hop=4 * hop)
    for name in windowed:
        assert shared[name].shape == mix.shape
        np.testing.assert_allclose(shared[name].numpy(), windowed[name].numpy(), atol=1e-6)


def test_separate_track_shares_context_or_runs_the_original_windows():
    config = small_net(context=True, num_frames=40, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(3).uniform(-0.5, 0.5, (2000, 2)).astype(np.float32)
    original = original_predict_track(model, mix)
    exact = separate_track(model, mix, 8000, SeparationOptions(windows="original"))
    shared = separate_track(model, mix, 8000)
    for name in original:
        np.testing.assert_allclose(exact[name], original[name], atol=1e-6)
        # another window grid: the same model, slightly different numbers near window edges
        assert np.abs(shared[name] - original[name]).max() > 0
        assert np.corrcoef(shared[name].ravel(), original[name].ravel())[0, 1] > 0.9


def test_cached_separation_follows_weight_changes():
    config = small_net(context=True, num_frames=40, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(4).uniform(-0.5, 0.5, (700, 2)).astype(np.float32)
    separate_track(model, mix, 8000)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    again = separate_track(model, mix, 8000)
    fresh = separate_track(rebuild(model), mix, 8000)  # a new model: nothing cached
    for name in again:
        np.testing.assert_allclose(again[name], fresh[name], atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("seconds", [0.01, 2.5])
def test_separate_track_returns_the_mix_shape_and_rate(rate, channels, seconds):
    from wavenet_j.separation import separate_track

    config = small_net(num_frames=64, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(0).uniform(-0.5, 0.5, (int(rate * seconds), channels)).astype(np.float32)
    estimates = separate_track(model, mix, rate)
    assert sorted(estimates) == ["accompaniment", "vocals"]
    assert all(e.shape == mix.shape and e.dtype == np.float32 for e in estimates.values())


def test_difference_output_sums_to_the_mix_at_the_models_rate():
    from wavenet_j.separation import separate_track

    config = small_net(num_frames=64, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(1).uniform(-0.4, 0.4, (1000, 2)).astype(np.float32)  # no clipping needed
    estimates = separate_track(model, mix, 8000)
    np.testing.assert_allclose(estimates["accompaniment"] + estimates["vocals"], mix, atol=1e-5)


def test_separate_track_rejects_what_it_cannot_use():
    from wavenet_j.separation import separate_track

    config = small_net(num_frames=64)
    model = build_separator(config)
    with pytest.raises(ValueError, match="cannot separate a mix with 4 channels"):
        separate_track(model, np.zeros((100, 4), np.float32), 22050)
    with pytest.raises(ValueError, match=r"\[samples, channels\]"):
        separate_track(model, np.zeros(100, np.float32), 22050)
    silence = separate_track(model, np.zeros((500, 2), np.float32), 22050)
    assert all(np.all(np.isfinite(e)) for e in silence.values())


def test_bf16_separation_is_close_to_float32():
    from wavenet_j.separation import separate_track

    config = small_net(num_frames=64, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(2).uniform(-0.5, 0.5, (3000, 2)).astype(np.float32)
    exact = separate_track(model, mix, 8000)
    fast = separate_track(model, mix, 8000, SeparationOptions(precision="mixed_bfloat16"))
    for name in exact:
        assert fast[name].dtype == np.float32
        difference = np.abs(fast[name] - exact[name]).max()
        assert 0 < difference < 0.05  # bf16 keeps 8 bits of mantissa: close, not equal


@pytest.mark.parametrize("context, windows", [(False, "shared"), (True, "original"), (True, "shared")])
@pytest.mark.parametrize("rate, channels", [(8000, 2), (11025, 1)])
def test_segments_change_no_number(context, windows, rate, channels):
    config = small_net(context=context, num_frames=40 if context else 64, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(5).uniform(-0.5, 0.5, (5000, channels)).astype(np.float32)
    whole = separate_track(model, mix, rate, SeparationOptions(windows=windows))
    for seconds in (0.01, 0.07):  # segments of one grid unit, and of several
        pieces = separate_track(model, mix, rate, SeparationOptions(windows=windows, segment_seconds=seconds))
        for name in whole:
            np.testing.assert_allclose(pieces[name], whole[name], atol=1e-6)
    if rate == 8000 and channels == 2 and windows == "original":  # and both are the original's predict_track
        for name, expected in original_predict_track(model, mix).items():
            np.testing.assert_allclose(whole[name], expected, atol=1e-6)


def test_separate_file_streams_stems_equal_to_separate_track(tmp_path):
    import soundfile

    from wavenet_j.separation import separate_file

    config = small_net(context=True, num_frames=40, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(6).uniform(-0.5, 0.5, (30000, 2)).astype(np.float32)
    soundfile.write(tmp_path / "song.flac", mix, 16000)
    mix = soundfile.read(tmp_path / "song.flac", dtype="float32")[0]  # as 16-bit samples
    stems = separate_file(
        model, tmp_path / "song.flac", tmp_path / "stems", options=SeparationOptions(segment_seconds=0.5)
    )
    expected = separate_track(model, mix, 16000)
    for name, path in stems.items():
        stem, rate = soundfile.read(path, dtype="float32")
        assert rate == 16000 and stem.shape == mix.shape
        np.testing.assert_allclose(stem, expected[name], atol=1.5 / 2**15)  # 16-bit wav
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    with pytest.raises(AudioError, match="bad.wav"):
        separate_file(model, tmp_path / "bad.wav", tmp_path / "bad")
    assert not list((tmp_path / "bad").rglob("*.wav"))
    soundfile.write(tmp_path / "surround.wav", np.zeros((100, 4), np.float32), 8000)
    with pytest.raises(AudioError, match="surround.wav.*4 channels"):
        separate_file(model, tmp_path / "surround.wav", tmp_path / "surround")
    assert not list((tmp_path / "surround").rglob("*.wav"))


@pytest.mark.parametrize("context, stages", [(True, 1), (False, 2)])
@pytest.mark.slow
def test_xla_separation_gives_the_same_numbers(context, stages):
    config = small_net(context=context, num_frames=40 if context else 64, expected_sr=8000)
    model = build_separator(config)
    mix = np.random.default_rng(7).uniform(-0.5, 0.5, (3000, 2)).astype(np.float32)
    plain = separate_track(model, mix, 8000, SeparationOptions(stages=stages))
    compiled = separate_track(model, mix, 8000, SeparationOptions(stages=stages, jit_compile=True))
    for name in plain:
        np.testing.assert_allclose(compiled[name], plain[name], atol=1e-5)


def small_model():
    config = small_net(expected_sr=8000)
    return build_separator(config), config


def test_a_truncated_mp3_gives_stems_as_long_as_its_audio_with_a_warning(tmp_path):
    import subprocess

    import soundfile

    from wavenet_j.separation import separate_file

    model, config = small_model()
    t = np.arange(20 * 8000) / 8000
    soundfile.write(tmp_path / "long.wav", 0.3 * np.sin(2 * np.pi * 440 * t)[:, None].repeat(2, 1), 8000)
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-i",
            str(tmp_path / "long.wav"),
            "-b:a",
            "64k",
            str(tmp_path / "long.mp3"),
        ],
        check=True,
        timeout=120,
    )
    data = (tmp_path / "long.mp3").read_bytes()
    (tmp_path / "cut.mp3").write_bytes(data[: len(data) // 3])  # the header still claims 20 s
    decoded = len(soundfile.read(tmp_path / "cut.mp3")[0])
    assert soundfile.info(tmp_path / "cut.mp3").frames > 2 * decoded
    with pytest.warns(
        UserWarning, match=r"cut.mp3' decodes to \d+.\d+ s, less than the 20.\d+ s its header claims"
    ):
        stems = separate_file(model, tmp_path / "cut.mp3", tmp_path / "out")
    for path in stems.values():
        assert len(soundfile.read(path)[0]) == decoded
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(AudioError, match="empty.mp3': the file is empty"):
        separate_file(model, tmp_path / "empty.mp3", tmp_path / "out")


def test_stem_encodings_and_clipping_are_never_silent(tmp_path):
    import soundfile

    from wavenet_j.separation import separate_file

    model, config = small_model()
    model.get_layer("output_accompaniment").bias.assign([2.0, 2.0])  # tanh near 1, vocals = mix - that:
    mix = np.random.default_rng(8).uniform(-0.9, 0.9, (4000, 2)).astype(np.float32)  # clipped at -1 often
    soundfile.write(tmp_path / "float.wav", mix, 16000, subtype="FLOAT")  # resampled back: overshoots ±1
    stems = separate_file(model, tmp_path / "float.wav", tmp_path / "f")  # float in: float out, unclipped
    vocals, _ = soundfile.read(stems["vocals"], dtype="float32")
    assert soundfile.info(stems["vocals"]).subtype == "FLOAT" and np.abs(vocals).max() > 1.0
    with pytest.warns(UserWarning, match=r"clamped to \[-1, 1\] \(accompaniment \d+, vocals \d+\)"):
        clamped = separate_file(model, tmp_path / "float.wav", tmp_path / "c", encoding="int16")
    assert soundfile.info(clamped["vocals"]).subtype == "PCM_16"
    with pytest.warns(UserWarning, match=r"all stems scaled by 0\.\d+"):
        scaled = separate_file(
            model, tmp_path / "float.wav", tmp_path / "s", encoding="int24", ext="flac", clipping="rescale"
        )
    rescaled, _ = soundfile.read(scaled["vocals"], dtype="float32")
    peak = max(np.abs(soundfile.read(stems[name], dtype="float32")[0]).max() for name in stems)
    np.testing.assert_allclose(rescaled, vocals / peak, atol=1e-5)
    with pytest.raises(ValueError, match="FLAC holds integer samples only"):
        separate_file(model, tmp_path / "float.wav", tmp_path / "x", encoding="float32", ext="flac")


def test_a_killed_run_leaves_nothing_a_rerun_keeps_and_an_unwritable_folder_is_named(tmp_path):
    import soundfile

    from wavenet_j.separation import separate_file

    model, config = small_model()
    soundfile.write(tmp_path / "song.wav", np.zeros((3000, 2), np.float32), 8000)
    left = tmp_path / "out" / "song" / ".vocals.wav.partial-abc123"
    left.mkdir(parents=True)
    (left / "vocals.wav").write_bytes(b"half a song")
    separate_file(model, tmp_path / "song.wav", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out" / "song").iterdir()) == [
        "accompaniment.wav",
        "vocals.wav",
    ]
    blocked = tmp_path / "a file"  # an output folder that cannot be made, as a read-only or full disk
    blocked.write_text("not a folder")
    with pytest.raises(AudioError, match="cannot write the stems of .*song.wav' to .*a file"):
        separate_file(model, tmp_path / "song.wav", blocked)
    assert not list(tmp_path.glob(".*partial*"))


def test_a_nan_in_the_mix_is_reported_where_it_is():
    model, config = small_model()
    mix = np.zeros((3000, 2), np.float32)
    mix[1000, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite sample at sample 1000 \(second 0.12\)"):
        separate_track(model, mix, 8000)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("length, given", [(10, (0, 0)), (251, (0, 0)), (1001, (37, 53))])
@pytest.mark.parametrize("grid", ["original", "shared"])
def test_numpy_windows_equal_the_tensorflow_graph(grid, length, given, jit_compile):
    model = build_separator(small_net(context=True, num_frames=40))
    network, hop, batch_windows = model, None, 3
    if grid == "shared":
        network, hop = shared_context(model, windows=4)
        hop, batch_windows = 4 * hop, 2
    mix = np.random.default_rng(length).uniform(-0.5, 0.5, (length, 2)).astype(np.float32)
    predict, batches = predict_fn(network, jit_compile), []

    def recorded(windows):
        batches.append(len(windows))
        return predict(windows)

    frames = network.input_shape[1], network.outputs[0].shape[1]
    ours = separate_windows(recorded, mix, *frames, batch_windows, hop, given, whole_batches=jit_compile)
    graph = separate_signal(network, tf.constant(mix), batch_windows, hop, jit_compile, given)
    windows = len(window_starts(length - sum(given), frames[1], hop))
    assert sum(batches) == (-(-windows // batch_windows) * batch_windows if jit_compile else windows)
    for name in graph:
        assert ours[name].shape == (length - sum(given), 2)
        np.testing.assert_allclose(ours[name], graph[name].numpy(), atol=1e-6)


BACKEND_SEPARATION = """
import sys

sys.modules["tensorflow"] = None  # nothing TensorFlow may be imported
import keras
import numpy as np

from wavenet_j.separation import SeparationOptions, separate_track

model = keras.saving.load_model(sys.argv[1])
expected = np.load(sys.argv[2])
difference = 0.0
for windows in ("shared", "original"):
    estimates = separate_track(model, expected["mix"], 8000, SeparationOptions(windows=windows))
    for name, estimate in estimates.items():
        difference = max(difference, float(np.abs(estimate - expected[windows + "/" + name]).max()))
print(f"{keras.backend.backend()}: max difference from TensorFlow {difference:.3g}")
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_separation_on_another_backend_equals_tensorflow(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    model = build_separator(small_net(context=True, num_frames=40, expected_sr=8000))
    model.save(tmp_path / "model.keras")
    mix = np.random.default_rng(9).uniform(-0.5, 0.5, (3000, 2)).astype(np.float32)
    expected = {"mix": mix}
    for windows in ("shared", "original"):
        for name, estimate in separate_track(model, mix, 8000, SeparationOptions(windows=windows)).items():
            expected[windows + "/" + name] = estimate
    np.savez(tmp_path / "expected.npz", **expected)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            BACKEND_SEPARATION,
            str(tmp_path / "model.keras"),
            str(tmp_path / "expected.npz"),
        ],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND=backend),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    difference = float(result.stdout.split()[-1])
    assert difference <= 1e-5
