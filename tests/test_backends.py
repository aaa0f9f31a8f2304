"""``wavenet-j`` on JAX and PyTorch: the same numbers as TensorFlow, and one line where TensorFlow is needed.

Each backend runs in a subprocess with TensorFlow unimportable (``sys.modules["tensorflow"] = None``),
as on a machine without it. Tests marked ``torch`` run where PyTorch is installed (``make test-torch``).
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from wavenet_j.configs import resolve_config
from wavenet_j.models.summary import models_table

BACKENDS = [
    pytest.param(
        name,
        marks=[
            *([pytest.mark.torch] if name == "torch" else []),
            pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"{name} is not installed"),
        ],
    )
    for name in ("jax", "torch")
]

# Runs ``main(argv)`` for each argv in sys.argv[1] (JSON) without TensorFlow; prints how each ended.
WITHOUT_TENSORFLOW = """
import json, sys
sys.modules["tensorflow"] = None
from wavenet_j.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
        print("exit: 0")
    except SystemExit as end:
        print(f"exit: {end.code}")
"""


def without_tensorflow(script, *args, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def cli_without_tensorflow(*argvs, env=None):
    result = without_tensorflow(WITHOUT_TENSORFLOW, json.dumps(argvs), env=env)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_models_prints_the_tensorflow_table(backend):
    # The context model M5 (learned upsampling) and J1, whose field outgrows its input.
    names = ["J1+tiny", "M5+tiny"]
    # --backend wins over KERAS_BACKEND=tensorflow, which could not start here.
    result = cli_without_tensorflow(
        ["--backend", backend, "models", *names], env={"KERAS_BACKEND": "tensorflow"}
    )
    assert result.stdout == models_table(names) + "\nexit: 0\n", result.stderr


@pytest.fixture
def tiny_model(tmp_path):
    from wavenet_j.models import build_separator

    path = tmp_path / "m.keras"
    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_exports_and_tf1_checkpoints_say_in_one_line_that_they_need_tensorflow(backend, tiny_model, tmp_path):
    checkpoint = str(tmp_path / "full_44KHz-236118")
    song = str(tmp_path / "song.wav")
    result = cli_without_tensorflow(
        ["export", str(tiny_model), "-o", str(tmp_path / "saved")],
        ["import-original", checkpoint, "--config", "M5", "-o", str(tmp_path / "m5.keras")],
        ["separate", song, "--original-ckpt", checkpoint, "--config", "M5"],
        env={"KERAS_BACKEND": backend},
    )
    ends = (
        "needs TensorFlow: run it with KERAS_BACKEND=tensorflow (or --backend tensorflow); "
        f"this process runs on {backend}"
    )
    assert result.stdout.splitlines() == [
        f"exit: wavenet-j export: exporting a SavedModel or TFLite file {ends}",
        f"exit: wavenet-j import-original: reading an original TF1 checkpoint {ends}",
        f"exit: wavenet-j separate: reading an original TF1 checkpoint {ends}",
    ]
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_interop_functions_raise_a_backend_error_without_tensorflow(backend, tiny_model, tmp_path):
    script = """
import sys
sys.modules["tensorflow"] = None
from wavenet_j.backend import BackendError
from wavenet_j.interop import export_model, load_separator
model = load_separator(sys.argv[1])
calls = (lambda: load_separator(sys.argv[2], model.model_config), lambda: export_model(model, sys.argv[3]))
for call in calls:
    try:
        call()
    except BackendError as error:
        print(error)
"""
    paths = [str(tiny_model), str(tmp_path / "ckpt"), str(tmp_path / "saved")]
    result = without_tensorflow(script, *paths, env={"KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all("needs TensorFlow" in line and backend in line for line in lines), lines


def test_an_unknown_backend_is_a_usage_error():
    from wavenet_j.cli import main

    with pytest.raises(SystemExit) as end:
        main(["--backend", "nosuch", "models"])
    assert "wavenet-j: argument --backend: invalid choice: 'nosuch'" in end.value.code
    result = subprocess.run(
        [sys.executable, "-m", "wavenet_j.cli", "models"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KERAS_BACKEND": "nosuch"},
    )
    assert result.returncode == 1
    assert result.stderr == (
        "wavenet-j: KERAS_BACKEND: backend 'nosuch' is not one of ['tensorflow', 'jax', 'torch']\n"
    )


def test_help_under_another_backend_imports_no_backend():
    script = """
import sys, time
start = time.perf_counter()
from wavenet_j.cli import main
for argv in (["--backend", "jax", "--help"], ["--backend", "torch", "export", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
print(time.perf_counter() - start, *(name in sys.modules for name in ("keras", "tensorflow", "jax", "torch")))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    seconds, *imported = result.stdout.split()[-5:]
    assert imported == ["False"] * 4 and "--backend {tensorflow,jax,torch}" in result.stdout, result.stdout
    assert float(seconds) < 2, seconds
