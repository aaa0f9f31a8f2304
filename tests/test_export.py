"""Exports serve without the package, TFLite matches Keras, and nothing half-written survives."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1_reference import save_original_checkpoint
from networks import small_net
from wavenet_j.atomic import atomic_path
from wavenet_j.configs import BASE_CONFIG
from wavenet_j.interop import export_model
from wavenet_j.models import build_separator
from wavenet_j.separation import separate_signal

CONTEXT = small_net(num_frames=40, context=True, upsampling="learned")

# Runs in a fresh interpreter where wavenet_j cannot be imported.
WITHOUT_PACKAGE = """
import sys, json
sys.modules["wavenet_j"] = None
try:
    import wavenet_j
    raise SystemExit("wavenet_j was importable")
except ImportError:
    pass
import numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
mix = np.load(sys.argv[2])
track = {k: v.numpy() for k, v in loaded.separate_track(mix).items()}
windows = {k: v.numpy() for k, v in loaded.serve(mix[None, :%d]).items()}
arrays = {**{"track_" + k: v for k, v in track.items()}, **{"window_" + k: v for k, v in windows.items()}}
np.savez(sys.argv[3], **arrays)
"""


def run_without_package(saved, mix, tmp_path, input_frames):
    np.save(tmp_path / "mix.npy", mix)
    script = WITHOUT_PACKAGE % input_frames
    result = subprocess.run(
        [sys.executable, "-c", script, str(saved), str(tmp_path / "mix.npy"), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(tmp_path / "out.npz")


@pytest.mark.slow
def test_savedmodel_separates_a_track_without_the_package(tmp_path):
    model = build_separator(CONTEXT)
    saved = export_model(model, tmp_path / "saved")
    mix = np.random.default_rng(0).uniform(-0.8, 0.8, (301, 2)).astype(np.float32)
    served = run_without_package(saved, mix, tmp_path, model.input_shape[1])
    ours = separate_signal(model, tf.constant(mix))
    windows = model(mix[None, : model.input_shape[1]])
    for source in ours:
        np.testing.assert_allclose(served["track_" + source], ours[source].numpy(), atol=1e-6)
        np.testing.assert_allclose(served["window_" + source], windows[source].numpy(), atol=1e-6)


def test_tflite_matches_keras(tmp_path):
    model = build_separator(CONTEXT.replace(output_activation="linear", task="multi_instrument"))
    path = export_model(model, tmp_path / "model.tflite", "tflite")
    runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner("serve")
    window = np.random.default_rng(1).uniform(-1, 1, (1,) + model.input_shape[1:]).astype(np.float32)
    got, expected = runner(windows=window), model(window)
    assert sorted(got) == sorted(expected)
    for source in expected:
        np.testing.assert_allclose(got[source], expected[source].numpy(), atol=1e-4)


def test_unknown_format_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="'onnx' is not one of"):
        export_model(build_separator(CONTEXT), tmp_path / "out", "onnx")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_leaves_nothing_on_failure_and_replaces_folders_on_success(tmp_path):
    target = tmp_path / "export"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            os.makedirs(temporary)
            (open(os.path.join(temporary, "half-written"), "w")).close()
            raise RuntimeError("killed mid-export")
    assert list(tmp_path.iterdir()) == []
    for generation in ("old", "new"):
        with atomic_path(target) as temporary:
            os.makedirs(temporary)
            with open(os.path.join(temporary, generation), "w") as handle:
                handle.write(generation)
    assert sorted(os.listdir(tmp_path)) == ["export"] and os.listdir(target) == ["new"]


@pytest.mark.slow
def test_command_line_round_trip_from_an_original_checkpoint(tmp_path):
    """M4-style config: TF1 checkpoint -> import-original -> export -> fresh Python, same numbers."""
    config = CONTEXT.replace(upsampling="linear")  # M4: context, stereo, difference, linear upsampling
    model = build_separator(config)
    mix = np.random.default_rng(2).uniform(-0.8, 0.8, (500, 2)).astype(np.float32)
    window = mix[None, : model.input_shape[1]]
    prefix, reference = save_original_checkpoint(config, tmp_path, window)
    (tmp_path / "config.json").write_text(
        json.dumps(
            {**{key: config[key] for key in BASE_CONFIG}, "output_type": "difference", "num_layers": 3}
        )
    )
    cli = [sys.executable, "-m", "wavenet_j.cli"]
    steps = [
        cli
        + [
            "import-original",
            prefix,
            "--config",
            str(tmp_path / "config.json"),
            "--output",
            str(tmp_path / "m.keras"),
        ],
        cli
        + [
            "export",
            str(tmp_path / "m.keras"),
            "--format",
            "savedmodel",
            "--output",
            str(tmp_path / "saved"),
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    served = run_without_package(tmp_path / "saved", mix, tmp_path, model.input_shape[1])
    for source in reference:
        np.testing.assert_allclose(served["window_" + source], reference[source], atol=1e-4)
    imported = keras.saving.load_model(tmp_path / "m.keras")
    ours = separate_signal(imported, tf.constant(mix))
    for source in ours:
        np.testing.assert_allclose(served["track_" + source], ours[source].numpy(), atol=1e-6)


@pytest.mark.slow
def test_sacred_export_script_imports_an_original_checkpoint(tmp_path):
    config = CONTEXT.replace(upsampling="linear", num_layers=3)
    model = build_separator(config)
    window = np.random.default_rng(3).uniform(-0.8, 0.8, (1,) + model.input_shape[1:]).astype(np.float32)
    prefix, reference = save_original_checkpoint(config, tmp_path, window)
    script = os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments", "export.py")
    updates = [f"cfg.model_config.{key}={value}" for key, value in config.items() if key != "upsampling"]
    result = subprocess.run(
        [
            sys.executable,
            script,
            "-l",
            "ERROR",
            "with",
            "cfg.M4",
            *updates,
            f"model_path={prefix}",
            f"output={tmp_path / 'saved'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    served = loaded.serve(window)
    for source in reference:
        np.testing.assert_allclose(served[source].numpy(), reference[source], atol=1e-4)
