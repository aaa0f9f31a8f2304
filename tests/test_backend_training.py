"""Training on every Keras backend: the same step, the same run, resume after kill -9, and the whole
workflow (train, separate, evaluate, study, the Sacred script) under JAX and PyTorch with TensorFlow
unimportable. Each backend runs in its own process, as Keras picks its backend once per process."""

import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import test_training

pytestmark = pytest.mark.slow  # trains in subprocesses

tiny, toy_root = test_training.tiny, test_training.toy_root  # the training tests' corpus and configs
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OTHER_BACKENDS = [
    pytest.param("jax", marks=pytest.mark.skipif(not importlib.util.find_spec("jax"), reason="no JAX")),
    pytest.param(
        "torch",
        marks=[
            pytest.mark.torch,
            pytest.mark.skipif(not importlib.util.find_spec("torch"), reason="no PyTorch"),
        ],
    ),
]
# Run under a backend; TensorFlow is made unimportable under the others, as where it is not installed.
PRELUDE = """
import os, sys
if os.environ["KERAS_BACKEND"] != "tensorflow":
    sys.modules["tensorflow"] = None
from wavenet_j.configs import complete_config
from wavenet_j.startup import start_backend
start_backend()
"""


def python(backend, code, *args, timeout=900):
    """Run ``code`` (after ``PRELUDE``) under ``backend``; its stdout, after checking it succeeded."""
    environment = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"{backend}: {result.stdout[-3000:]}{result.stderr[-5000:]}"
    return result.stdout


INITIAL = """
import json, keras, numpy as np
from wavenet_j.models import build_separator
model = build_separator(complete_config(json.loads(sys.argv[1])))
np.savez(sys.argv[2], *[keras.ops.convert_to_numpy(w) for w in model.weights])
"""


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_a_seed_builds_the_same_weights_on_every_backend(backend, tmp_path):
    from wavenet_j.configs import resolve_config

    config = json.dumps(resolve_config(["J1", "tiny"]))  # a J model: its random encoder stays as built
    for run in ("tensorflow", backend):
        python(run, INITIAL, config, str(tmp_path / f"{run}.npz"))
    reference, other = np.load(tmp_path / "tensorflow.npz"), np.load(tmp_path / f"{backend}.npz")
    assert reference.files == other.files and len(reference.files) > 10
    for key in reference.files:
        np.testing.assert_array_equal(other[key], reference[key])


ONE_STEP = """
import json, keras, numpy as np
from wavenet_j.models import get_padding
from wavenet_j.training.loop import model_and_optimizer, train_step_fn
config, weights, out = complete_config(json.loads(sys.argv[1])), sys.argv[2], sys.argv[3]
model, optimizer = model_and_optimizer(config)
if os.path.exists(weights):
    model.load_weights(weights)
else:
    model.save_weights(weights)
inputs, outputs = get_padding(config)
random = np.random.default_rng(0)
def audio(frames):
    return random.uniform(-0.5, 0.5, (4, frames, config["num_channels"])).astype(np.float32)
mix, targets = audio(inputs), {s: audio(outputs) for s in config["source_names"]}
step = train_step_fn(model, optimizer, config, 4)
losses = [float(step(mix, targets))]
step.sync()
np.savez(out, losses=losses, *[keras.ops.convert_to_numpy(w) for w in model.weights])
"""


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
@pytest.mark.parametrize(
    "name, extra",
    [
        ("U1", {}),
        ("J1", {"identity_loss_weight": 0.5, "num_stages": 2}),  # frozen groups, identity loss, stages
    ],
)
def test_a_training_step_from_the_same_weights_gives_the_same_loss_and_weights(
    backend, name, extra, tmp_path
):
    from wavenet_j.configs import resolve_config

    config = resolve_config([name, "tiny"], dict(extra, num_frames=1024, batch_size=4))
    weights = str(tmp_path / "start.weights.h5")
    results = {}
    for run in ("tensorflow", backend):
        python(run, ONE_STEP, json.dumps(config), weights, str(tmp_path / f"{run}.npz"))
        results[run] = np.load(tmp_path / f"{run}.npz")
    reference, other = results["tensorflow"], results[backend]
    np.testing.assert_allclose(other["losses"], reference["losses"], rtol=1e-5)
    names = [key for key in reference.files if key != "losses"]
    gap = max(np.abs(other[key] - reference[key]).max() for key in names)
    print(
        f"{name}, {backend}: loss gap {np.abs(other['losses'] / reference['losses'] - 1).max():.1e}, "
        f"largest weight difference {gap:.1e}"
    )
    assert gap <= 1e-5  # Adam's first steps move a weight by about the learning rate whatever its gradient
    if name == "J1":  # the frozen groups come out of the step as they went in
        from wavenet_j.training.loop import model_and_optimizer

        model, _ = model_and_optimizer(config)
        model.load_weights(weights)
        frozen = [i for i, w in enumerate(model.weights) if not w.trainable]
        assert frozen
        for i in frozen:
            np.testing.assert_array_equal(other[f"arr_{i}"], model.weights[i].numpy())


MIXED = """
import json, numpy as np
from wavenet_j.models import get_padding
from wavenet_j.training.loop import model_and_optimizer, train_step_fn
config = complete_config(json.loads(sys.argv[1]))
model, optimizer = model_and_optimizer(config)
inputs, outputs = get_padding(config)
random = np.random.default_rng(0)
mix = random.uniform(-0.5, 0.5, (4, inputs, 2)).astype(np.float32)
targets = {s: random.uniform(-0.5, 0.5, (4, outputs, 2)).astype(np.float32) for s in config["source_names"]}
step = train_step_fn(model, optimizer, config, 4)
losses = [float(step(mix, targets)) for _ in range(4)]
print("MIXED", json.dumps({"losses": losses, "optimizer": type(optimizer).__name__}))
"""


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains(backend, precision):
    from wavenet_j.configs import resolve_config

    config = resolve_config(["J1", "tiny"], {"batch_size": 4, "mixed_precision": precision})
    output = python(backend, MIXED, json.dumps(config))
    (line,) = [line for line in output.splitlines() if line.startswith("MIXED ")]
    result = json.loads(line[len("MIXED ") :])
    losses = result["losses"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert result["optimizer"] == ("LossScaleOptimizer" if precision == "mixed_float16" else "Adam")


RUN = """
import json
from wavenet_j.training import train
print("RESULT", json.dumps(train(complete_config(json.loads(sys.argv[1])), sys.argv[2])), flush=True)
"""


def result_of(output):
    (line,) = [line for line in output.splitlines() if line.startswith("RESULT ")]
    return json.loads(line[len("RESULT ") :])


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_a_hundred_step_run_ends_at_the_same_validation_loss(backend, toy_root, tmp_path):
    config = tiny("J1", toy_root, tmp_path, epoch_it=50, max_epochs=2, worse_epochs=2)
    config = config.replace(schedule=config["schedule"][:1])  # one stage of two epochs
    results = {run: result_of(python(run, RUN, json.dumps(config), run)) for run in ("tensorflow", backend)}
    assert results["tensorflow"]["steps"] == results[backend]["steps"] == 100
    ours, reference = results[backend]["best_validation_loss"], results["tensorflow"]["best_validation_loss"]
    gap = abs(ours - reference) / reference
    print(f"validation loss after 100 steps: tensorflow {reference:.6f}, {backend} {ours:.6f}, gap {gap:.2%}")
    assert gap <= 0.05


FINAL_WEIGHTS = """
import json, keras, numpy as np
from wavenet_j.training.checkpoints import checkpoints_for
from wavenet_j.training.loop import model_and_optimizer
config, folder = complete_config(json.loads(sys.argv[1])), sys.argv[2]
model, optimizer = model_and_optimizer(config)
checkpoints = checkpoints_for(folder, model, optimizer, 2)
state = checkpoints.restore(checkpoints.prefixes[-1])
weights = [keras.ops.convert_to_numpy(w).tolist() for w in model.weights]
print("WEIGHTS", json.dumps({"step": state["step"], "weights": weights}))
"""


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_kill_and_rerun_ends_like_an_uninterrupted_run(backend, toy_root, tmp_path):
    config = tiny("U1", toy_root, tmp_path, epoch_it=6, checkpoint_steps=2, num_initial_filters=4)
    python(backend, RUN, json.dumps(config), "straight")
    environment = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT)
    process = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + RUN, json.dumps(config), "killed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
        cwd=ROOT,
    )
    folder = os.path.join(config["model_base_dir"], "killed", "checkpoints")
    while len(glob.glob(os.path.join(folder, "ckpt-*.weights.h5"))) < 2:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    python(backend, RUN, json.dumps(config), "killed")
    weights = {}
    for run in ("straight", "killed"):
        folder = os.path.join(config["model_base_dir"], run, "checkpoints")
        output = python(backend, FINAL_WEIGHTS, json.dumps(config), folder)
        (line,) = [line for line in output.splitlines() if line.startswith("WEIGHTS ")]
        weights[run] = json.loads(line[len("WEIGHTS ") :])
    assert weights["straight"]["step"] == weights["killed"]["step"] == 18
    for straight, resumed in zip(weights["straight"]["weights"], weights["killed"]["weights"]):
        np.testing.assert_allclose(resumed, straight, rtol=1e-5, atol=1e-6)
    runs = config["model_base_dir"]
    first, second = (
        json.load(open(os.path.join(runs, run, "result.json"))) for run in ("straight", "killed")
    )
    assert first["best_validation_loss"] == pytest.approx(second["best_validation_loss"], rel=1e-5)
    # TensorFlow reads tf.train checkpoints only: it names the run's checkpoint and trains nothing.
    refused = subprocess.run(
        [sys.executable, "-c", PRELUDE + RUN, json.dumps(dict(config, max_epochs=2)), "straight"],
        capture_output=True,
        text=True,
        env=dict(environment, KERAS_BACKEND="tensorflow"),
        cwd=ROOT,
    )
    assert refused.returncode and "ckpt-18.weights.h5), which tensorflow cannot resume" in refused.stderr


WORKFLOW = """
import glob, json, runpy
from wavenet_j.cli import main
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

root, work = sys.argv[1], sys.argv[2]
os.chdir(work)
small = ["num_initial_filters=2", "num_frames=1024", "batch_size=2", "epoch_it=2", "max_epochs=1"]
sets = [f"--set=musdb_path={root}", *(f"--set={s}" for s in small)]
main(["train", "J1", "tiny", *sets, "--id", "j1"])
model = "checkpoints/j1/best.keras"
song = sorted(glob.glob(os.path.join(root, "test", "*", "mixture.wav")))[0]
main(["separate", song, "--model", model, "-o", "separated"])
main(["evaluate", "--musdb", root, "--model", model, "-o", "results"])
main(["study", "--with", "tiny", *sets, "--pairs", "U1/J1", "--no-tables", "-o", "study"])
# Sacred seeds TensorFlow wherever "tensorflow" is in sys.modules, even as None: for it TensorFlow is
# missing the way it is from a virtual environment without it, a finder that finds nothing.
class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NoTensorFlow())
del sys.modules["tensorflow"]
configs = [f"cfg.model_config.musdb_path={root}", *(f"cfg.model_config.{s}" for s in small)]
sys.argv = ["train.py", "-l", "WARNING", "with", "cfg.U1", "cfg.tiny", *configs, "cfg.experiment_id=sacred"]
try:
    runpy.run_path(os.path.join(os.environ["PYTHONPATH"], "experiments", "train.py"), run_name="__main__")
except SystemExit as error:
    assert not error.code, error.code
assert "tensorflow" not in sys.modules
tags = {}
for run in ("j1", "sacred"):
    events = EventAccumulator(os.path.join("logs", run), size_guidance={"tensors": 0})
    events.Reload()
    tags[run] = sorted(events.Tags()["tensors"])
print("TAGS", json.dumps(tags))
written = glob.glob("separated/*/*") + glob.glob("results/**/*.json", recursive=True) + glob.glob("study/*")
print("FILES", json.dumps(sorted(written)))
"""


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_the_whole_workflow_runs_without_tensorflow(backend, tmp_path):
    from wavenet_j.data.toy import make_toy_corpus

    root = make_toy_corpus(tmp_path / "musdb", train=3, test=1, seconds=3.0)
    work = tmp_path / "work"
    work.mkdir()
    output = python(backend, WORKFLOW, str(root), str(work), timeout=1800)
    (tags,) = [json.loads(line[5:]) for line in output.splitlines() if line.startswith("TAGS ")]
    (files,) = [json.loads(line[6:]) for line in output.splitlines() if line.startswith("FILES ")]
    for run in ("j1", "sacred"):
        assert {"train/loss", "validation/loss", "validation/vocals_estimate"} <= set(tags[run]), tags
    assert any(path.endswith("vocals.wav") for path in files), files
    assert any(path.startswith("results/") for path in files), files
    assert any(path.startswith("study/") for path in files), files


TWO_DEVICES = """
import json, jax, keras
from wavenet_j.training import Trainer
trainer = Trainer(complete_config(json.loads(sys.argv[1])), sys.argv[2])
result = trainer.fit()
distribution = keras.distribution.distribution()
print("RESULT", json.dumps(dict(result, devices=len(jax.devices()), parallel=type(distribution).__name__)))
"""


@pytest.mark.skipif(not importlib.util.find_spec("jax"), reason="no JAX")
def test_two_logical_devices_train_like_one_under_jax(toy_root, tmp_path, monkeypatch):
    config = json.dumps(tiny("U1", toy_root, tmp_path, epoch_it=4, num_initial_filters=4))
    one = result_of(python("jax", TWO_DEVICES, config, "one"))
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    two = result_of(python("jax", TWO_DEVICES, config, "two"))
    assert (one["devices"], one["parallel"]) == (1, "NoneType")
    assert (two["devices"], two["parallel"]) == (2, "DataParallel")  # each device takes half of each batch
    assert two["steps"] == one["steps"]
    assert two["best_validation_loss"] == pytest.approx(one["best_validation_loss"], rel=1e-4)
