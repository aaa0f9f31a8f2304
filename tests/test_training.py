"""Training: loss goes down, frozen stays frozen, the schedule, resume after kill -9 and with other values,
logs once per step, training seconds, devices, NaN, a full disk."""

import glob
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from wavenet_j.configs import resolve_config
from wavenet_j.models import build_separator
from wavenet_j.training import Schedule, Trainer, TrainingError

pytestmark = pytest.mark.slow  # trains, runs studies or starts processes

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    from wavenet_j.data.toy import make_toy_corpus

    return str(
        make_toy_corpus(tmp_path_factory.mktemp("toy") / "musdb", train=4, test=1, seconds=4.0, seed=0)
    )


def tiny(name, toy_root, tmp_path, **extra):
    """``cfg.<name> cfg.tiny`` on a small toy corpus, shortened further for the test suite."""
    return resolve_config(
        [name, "tiny"],
        {
            "num_frames": 1024,
            "batch_size": 4,
            "epoch_it": 6,
            "max_epochs": 1,
            "musdb_path": toy_root,
            "data_path": str(tmp_path / "data"),
            "model_base_dir": str(tmp_path / "runs"),
            "log_dir": str(tmp_path / "logs"),
            **extra,
        },
    )


@pytest.mark.parametrize(
    "name, stages, patience",
    [
        ("M4", [(16, 1e-4), (32, 1e-5)], 20),  # the original Wave-U-Net's Training.py
        ("full_44KHz", [(16, 1e-4), (32, 1e-5)], 20),
        ("J1", [(16, 1e-4), (32, 1e-5), (32, 1e-6)], 15),  # the J-Net paper, section 3.2
        ("U3_10", [(16, 1e-4), (32, 1e-5), (32, 1e-6)], 15),
    ],
)
def test_each_codebase_trains_with_its_own_schedule(name, stages, patience):
    config = resolve_config(name)
    schedule = Schedule.from_config(config)
    seen = []
    while not schedule.done:
        seen.append((schedule.batch_size(config["batch_size"]), schedule.learning_rate))
        schedule.record(1.0)  # the first epoch of a stage: not better than the best so far after stage 1
        epochs = 1
        while schedule.stage == len(seen):
            schedule.record(2.0)
            epochs += 1
        assert epochs == patience + (len(seen) == 1)  # stage 1's first epoch improves on infinity
    assert seen == stages


def test_early_stopping_within_a_stage_and_the_epoch_cap():
    schedule = Schedule([(1, 1e-4), (2, 1e-5), (2, 1e-6)], worse_epochs=2)
    for loss in (1.0, 0.9, 0.95, 0.96):  # two epochs without a better loss end stage 1
        schedule.record(loss)
    assert schedule.stage == 2 and (schedule.batch_size(16), schedule.learning_rate) == (32, 1e-5)
    assert schedule.record(0.8) and not schedule.record(0.85)
    schedule.record(0.86)
    assert schedule.stage == 3 and (schedule.batch_size(16), schedule.learning_rate) == (32, 1e-6)
    schedule.record(0.9)
    schedule.record(0.9)
    assert schedule.done and schedule.best == 0.8
    capped = Schedule([(1, 1e-4), (2, 1e-5)], worse_epochs=15, max_epochs=2)
    capped.record(1.0)
    capped.record(0.5)
    assert capped.stage == 2  # improving, but the cap ends the stage


def fixed_batch(config):
    from wavenet_j.data.pipeline import get_dataset

    return next(iter(get_dataset(config, "valid", batch_size=4)))


@pytest.mark.parametrize("name", ["U1", "J1", "L"])
def test_training_lowers_the_loss_and_leaves_frozen_weights_bit_identical(name, toy_root, tmp_path):
    from wavenet_j.training import example_losses

    config = tiny(name, toy_root, tmp_path, epoch_it=25, schedule=[[1, 1e-3]])
    initial = build_separator(config)
    mix, targets = fixed_batch(config)
    before = float(tf.reduce_mean(example_losses(initial, mix, targets, config, training=False)))
    trainer = Trainer(config, "run")
    trainer.fit()
    after = float(tf.reduce_mean(example_losses(trainer.model, mix, targets, config, training=False)))
    assert after < before
    frozen = {w.path for w in trainer.model.non_trainable_weights}
    assert bool(frozen) == (name != "U1")
    for start, end in zip(initial.weights, trainer.model.weights):
        assert start.path == end.path
        if end.path in frozen:
            np.testing.assert_array_equal(start.numpy(), end.numpy(), err_msg=end.path)
        else:
            assert not np.array_equal(start.numpy(), end.numpy()), end.path


def scalars_and_audio(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(log_dir, size_guidance={"scalars": 0, "tensors": 0, "audio": 0})
    events.Reload()
    tags = events.Tags()
    values = {
        tag: [tf.make_ndarray(e.tensor_proto).item() for e in events.Tensors(tag)]
        for tag in tags["tensors"]
        if not tag.startswith("validation/") or tag.endswith(("loss", "mse"))
    }
    return values, tags["tensors"]


def test_stages_switch_on_schedule_and_everything_is_logged(toy_root, tmp_path):
    config = tiny("J1", toy_root, tmp_path, epoch_it=3)  # max_epochs=1: one epoch per stage
    result = Trainer(config, "schedule").fit()
    assert result["steps"] == 9
    values, tags = scalars_and_audio(os.path.join(config["log_dir"], "schedule"))
    assert values["train/stage"] == [1.0] * 3 + [2.0] * 3 + [3.0] * 3
    np.testing.assert_allclose(values["train/learning_rate"], [1e-4] * 3 + [1e-5] * 3 + [1e-6] * 3, rtol=1e-6)
    assert values["train/batch_size"] == [4.0] * 3 + [8.0] * 6
    assert len(values["train/loss"]) == 9 and len(values["train/steps_per_second"]) == 9
    assert len(values["validation/loss"]) == 3
    assert {"validation/accompaniment_mse", "validation/vocals_mse"} <= set(values)
    assert {"validation/mix", "validation/vocals_target", "validation/vocals_estimate"} <= set(tags)
    best = keras.saving.load_model(result["best_model"])
    assert sum(int(np.prod(w.shape)) for w in best.trainable_weights) < best.count_params()  # J1 stays J1
    with open(os.path.join(config["model_base_dir"], "schedule", "split.json")) as handle:
        split = json.load(handle)
    assert len(split["valid"]) == 1 and len(split["train"]) == 3


class ScriptedValidation(Trainer):
    """A trainer whose validation losses follow a script; it notes the weights and Adam's moments
    at the start of every epoch and at its end (when it is validated)."""

    def __init__(self, losses, *args):
        super().__init__(*args)
        self.losses, self.starts, self.ends = list(losses), [], []

    def _state(self):
        moments = [v for v in self.optimizer.variables if v.path.endswith(("_momentum", "_velocity"))]
        return [w.numpy() for w in self.model.weights], [m.numpy() for m in moments]

    def train_step(self, global_batch):  # asked for at the start of every epoch
        self.starts.append(self._state())
        return super().train_step(global_batch)

    def validate(self, dataset):
        self.ends.append(self._state())
        return self.losses.pop(0), {}


def test_a_new_stage_continues_from_the_latest_weights_and_adam_state(toy_root, tmp_path):
    config = tiny(
        "U1",
        toy_root,
        tmp_path,
        epoch_it=3,
        max_epochs=None,
        worse_epochs=1,
        schedule=[[1, 1e-3], [2, 1e-4]],
        num_initial_filters=4,
    )
    trainer = ScriptedValidation(
        [1.0, 2.0, 3.0], config, "stages"
    )  # epoch 2 is worse: stage 2 starts after it
    trainer.fit()
    assert len(trainer.starts) == len(trainer.ends) == 3
    (best_weights, _), (last_weights, last_moments), (next_weights, next_moments) = (
        trainer.ends[0],
        trainer.ends[1],
        trainer.starts[2],
    )
    assert len(last_moments) == 2 * len(trainer.model.trainable_weights)
    assert all(np.any(m != 0) for m in last_moments)  # Adam has moments to lose
    for last, following in zip(last_weights + last_moments, next_weights + next_moments):
        np.testing.assert_array_equal(following, last)  # nothing reset, nothing restored
    saved_best = keras.saving.load_model(os.path.join(config["model_base_dir"], "stages", "best.keras"))
    for best, saved in zip(best_weights, saved_best.get_weights()):
        np.testing.assert_array_equal(saved, best)  # best.keras is epoch 1's model ...
    assert any(
        not np.array_equal(b, n) for b, n in zip(best_weights, next_weights)
    )  # ... and stage 2 ignores it


RUN = """
import sys, json
from wavenet_j.configs import complete_config
from wavenet_j.training import train
result = train(complete_config(json.loads(sys.argv[1])), sys.argv[2])
print("RESULT", json.dumps(result), flush=True)
"""


def run_training(config, experiment_id, kill_after_checkpoints=None):
    """Train in a subprocess; with ``kill_after_checkpoints``, kill -9 it once that many exist."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, json.dumps(config), experiment_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if kill_after_checkpoints is None:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
        return
    folder = os.path.join(config["model_base_dir"], experiment_id, "checkpoints")
    while len(glob.glob(os.path.join(folder, "ckpt-*.index"))) < kill_after_checkpoints:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


def final_weights(config, experiment_id):
    """The model weights of a run's last checkpoint, restored through the checkpoint's object graph."""
    model = build_separator(config)
    folder = os.path.join(config["model_base_dir"], experiment_id, "checkpoints")
    tf.train.Checkpoint(model=model).restore(tf.train.latest_checkpoint(folder)).expect_partial()
    return {w.path: w.numpy() for w in model.weights}


def test_kill_and_rerun_ends_like_an_uninterrupted_run(toy_root, tmp_path):
    config = tiny("U1", toy_root, tmp_path, epoch_it=6, checkpoint_steps=2, num_initial_filters=4)
    run_training(config, "straight")
    run_training(config, "killed", kill_after_checkpoints=2)
    run_training(config, "killed")
    straight, resumed = final_weights(config, "straight"), final_weights(config, "killed")
    assert straight.keys() == resumed.keys() and straight
    for name in straight:
        np.testing.assert_allclose(resumed[name], straight[name], rtol=1e-5, atol=1e-6, err_msg=name)
    runs = config["model_base_dir"]
    with (
        open(os.path.join(runs, "straight", "result.json")) as a,
        open(os.path.join(runs, "killed", "result.json")) as b,
    ):
        first, second = json.load(a), json.load(b)
    assert first["steps"] == second["steps"] == 18
    assert first["best_validation_loss"] == pytest.approx(second["best_validation_loss"], rel=1e-5)
    # A checkpoint cut short (a disk failing while it was written): the run goes on from the one before.
    run_training(config, "damaged", kill_after_checkpoints=2)
    latest = tf.train.latest_checkpoint(os.path.join(runs, "damaged", "checkpoints"))
    (data,) = glob.glob(latest + ".data-*")
    with open(data, "r+b") as handle:
        handle.truncate(100)
    run_training(config, "damaged")
    damaged = final_weights(config, "damaged")
    for name in straight:
        np.testing.assert_allclose(damaged[name], straight[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_nan_in_the_data_stops_with_a_named_error_and_keeps_the_checkpoint(toy_root, tmp_path):
    config = tiny("U1", toy_root, tmp_path, epoch_it=6, checkpoint_steps=2, num_initial_filters=4)
    run_training(config, "nan", kill_after_checkpoints=1)
    folder = os.path.join(config["model_base_dir"], "nan", "checkpoints")
    saved = {path: os.path.getmtime(path) for path in glob.glob(os.path.join(folder, "*"))}
    for path in glob.glob(os.path.join(config["data_path"], "cache", "*", "*", "train", "*.npy")):
        audio = np.load(path, mmap_mode="r+")
        audio[:] = np.nan  # a corrupted cache: every training snippet is NaN now
        audio.flush()
    with pytest.raises(TrainingError, match=r"training loss is nan at step \d+ \(stage 1, epoch 1\)"):
        Trainer(config, "nan").fit()
    assert {path: os.path.getmtime(path) for path in glob.glob(os.path.join(folder, "*"))} == saved


TWO_DEVICES = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from wavenet_j.training import Trainer
from wavenet_j.configs import complete_config
from wavenet_j.data.pipeline import get_dataset
config = complete_config(json.loads(sys.argv[1]))
results = {}
two_cpus = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
strategies = {"one": tf.distribute.get_strategy(), "two": two_cpus}
for name, strategy in strategies.items():
    trainer = Trainer(config, name, strategy=strategy)
    step = trainer.train_step(config["batch_size"])
    losses = []
    for mix, targets in get_dataset(config, "train").take(3):
        batch = tf.data.Dataset.from_tensors((mix, targets))
        distributed = next(iter(strategy.experimental_distribute_dataset(batch)))
        losses.append(float(step(*distributed)))
    results[name] = (losses, [w.numpy() for w in trainer.model.weights])
assert strategy.num_replicas_in_sync == 2
print("losses", results["one"][0], results["two"][0])
np.testing.assert_allclose(results["two"][0], results["one"][0], rtol=1e-4)
for a, b in zip(results["one"][1], results["two"][1]):
    np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)
print("SAME")
"""


def test_two_logical_devices_train_like_one(toy_root, tmp_path):
    config = tiny("U1", toy_root, tmp_path, num_initial_filters=4)
    result = subprocess.run(
        [sys.executable, "-c", TWO_DEVICES, json.dumps(config)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0 and "SAME" in result.stdout, result.stdout + result.stderr[-3000:]


def test_unwritable_model_base_dir_is_named_before_any_work(toy_root, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TrainingError, match="cannot write to .*file"):
        Trainer(tiny("U1", toy_root, tmp_path, model_base_dir=str(blocker)), "run")


def test_train_script_writes_the_best_model_and_sacred_record(toy_root, tmp_path):
    script = os.path.join(HERE, "..", "experiments", "train.py")
    config = tiny("J1", toy_root, tmp_path, epoch_it=2)
    updates = [
        f"cfg.model_config.{key}={json.dumps(config[key])}"
        for key in (
            "num_frames",
            "batch_size",
            "epoch_it",
            "musdb_path",
            "data_path",
            "model_base_dir",
            "log_dir",
        )
    ]
    command = [sys.executable, script, "-l", "ERROR", "with", "cfg.J1", "cfg.tiny", *updates]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "runs" / "J1+tiny"  # the named configs name the run, so the same command resumes it
    assert f"starting run {run}" in result.stdout
    assert (run / "best.keras").exists() and "tensorboard --logdir" in result.stdout
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert again.returncode == 0 and f"run {run} is finished" in again.stdout, again.stderr[-3000:]
    with open(run / "sacred" / "1" / "config.json") as handle:  # Sacred's record of the first command
        assert json.load(handle)["cfg"]["model_config"]["freeze_encoder"] is True
    assert (run / "sacred" / "1" / "split.json").exists()
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(
            [sys.executable, script, "with", "cfg.J9"], capture_output=True, check=True, timeout=300
        )
    # The same overrides through ``wavenet-j train`` make the same run.
    cli = os.path.join(os.path.dirname(sys.executable), "wavenet-j")
    sets = [f"--set={update[len('cfg.model_config.') :]}" for update in updates]
    result = subprocess.run(
        [cli, "train", "J1", "tiny", *sets, "--id", "8"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for record in ("model_config.json", "split.json"):
        assert (run / record).read_text() == (tmp_path / "runs" / "8" / record).read_text()


@pytest.mark.parametrize(
    "arguments, experiment_id",
    [
        ([], "U1"),
        (["with", "cfg.J1"], "J1"),
        (["with", "cfg.J1", "cfg.tiny"], "J1+tiny"),
        (["with", "cfg.J1", "cfg.experiment_id=j1"], "j1"),
        (["with", "cfg.J1", "cfg.experiment_id=7"], 7),
    ],
)
def test_the_default_experiment_id_names_the_named_configs_and_a_given_one_needs_no_warning(
    arguments, experiment_id
):
    script = os.path.join(HERE, "..", "experiments", "train.py")
    result = subprocess.run(
        [sys.executable, script, "print_config", *arguments], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # without Sacred's colours
    assert re.search(rf"experiment_id = {re.escape(repr(experiment_id))}\s", printed)
    assert "WARNING - " not in result.stderr, result.stderr[-3000:]


def first_step_losses(config):
    """The losses of a fresh run's first three training steps, and its trainer."""
    from wavenet_j.data.pipeline import get_dataset

    trainer = Trainer(config, "steps")
    step = trainer.train_step(config["batch_size"])
    return [float(step(mix, targets)) for mix, targets in get_dataset(config, "train").take(3)], trainer


def test_xla_step_gives_the_same_numbers(toy_root, tmp_path):
    losses = {
        jit: first_step_losses(
            tiny("J1", toy_root, tmp_path / str(jit), jit_compile=jit, num_initial_filters=4)
        )[0]
        for jit in (False, True)
    }
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)


def test_missing_corpus_is_named_before_any_work(tmp_path):
    config = resolve_config(
        ["U1", "tiny"],
        {
            "musdb_path": str(tmp_path / "nowhere"),
            "model_base_dir": str(tmp_path / "runs"),
            "log_dir": str(tmp_path / "logs"),
        },
    )
    with pytest.raises(ValueError, match="nowhere.* does not exist"):
        Trainer(config, "run")
    with pytest.raises(ValueError, match="musdb_path'\\] is not set"):
        Trainer(config.replace(musdb_path=None), "run")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "logs").exists()  # no empty run folders left


def test_a_finished_run_says_so_and_returns_its_result_without_training(toy_root, tmp_path, capsys):
    config = tiny(
        "U1", toy_root, tmp_path, epoch_it=2, num_initial_filters=4, schedule=[[1, 1e-3], [2, 1e-4]]
    )
    result = Trainer(config, "done").fit()
    assert f"starting run {os.path.join(config['model_base_dir'], 'done')}" in capsys.readouterr().out
    assert Trainer(config, "done").fit() == result
    said = capsys.readouterr().out
    assert re.search(
        r"run .*done is finished \(all 2 stages\): best model .*best\.keras, result .*result\.json", said
    )
    assert "resuming" not in said and "stage 3" not in said


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_steps_stay_close_to_float32(policy, toy_root, tmp_path):
    from wavenet_j.data.pipeline import get_dataset

    losses = {}
    for precision in (None, policy):
        config = tiny(
            "U1", toy_root, tmp_path / str(precision), mixed_precision=precision, num_initial_filters=4
        )
        losses[precision], trainer = first_step_losses(config)
        assert all(w.dtype == "float32" for w in trainer.model.weights)
        validation_loss, per_source = trainer.validate(get_dataset(config, "valid"))
        assert np.isfinite(validation_loss) and all(np.isfinite(v) for v in per_source.values())
    np.testing.assert_allclose(losses[policy], losses[None], rtol=0.05)


def test_a_schedule_restored_under_other_limits_goes_on_or_ends_its_stage():
    finished = Schedule([(1, 1e-4)], worse_epochs=2, max_epochs=1)
    finished.record(1.0)
    assert finished.done
    longer = Schedule([(1, 1e-4)], worse_epochs=2, max_epochs=2)
    longer.restore(finished.state())
    assert (longer.done, longer.stage, longer.epoch, longer.best) == (False, 1, 1, 1.0)
    longer.record(1.1)
    assert longer.done
    shorter = Schedule([(1, 1e-4), (2, 1e-5)], worse_epochs=2, max_epochs=1)
    shorter.restore([1, 2, 0, 0.5])  # two epochs into stage 1: a cap of one ends it
    assert (shorter.stage, shorter.epoch, shorter.best) == (2, 0, 0.5)
    uncounted = Schedule([(1, 1e-4)], worse_epochs=2, max_epochs=5)
    uncounted.restore([2, 0, 0, 0.5])  # finished without its last stage's counters: nothing to go on from
    assert uncounted.done


# What a run is given when it is resumed, as ``--set`` overrides of ``J1 tiny``.
RESUMED_KEYS = (
    "num_frames",
    "batch_size",
    "epoch_it",
    "max_epochs",
    "schedule",
    "num_initial_filters",
    "musdb_path",
    "data_path",
    "model_base_dir",
    "log_dir",
)


@pytest.fixture(scope="module")
def finished_run(toy_root, tmp_path_factory):
    """The config of a finished J1 run ``run``: one stage of one epoch of two steps."""
    folder = tmp_path_factory.mktemp("finished")
    config = tiny("J1", toy_root, folder, epoch_it=2, schedule=[[1, 1e-4]], num_initial_filters=4)
    Trainer(config, "run").fit()
    return config


def copied_run(config, tmp_path, **changes):
    """The finished run's run and log folders copied below ``tmp_path``, and its config there."""
    for key in ("model_base_dir", "log_dir"):
        shutil.copytree(os.path.join(config[key], "run"), tmp_path / key / "run")
    return config.replace(
        model_base_dir=str(tmp_path / "model_base_dir"), log_dir=str(tmp_path / "log_dir"), **changes
    )


def run_files(run):
    """``{path: bytes}`` of a run's model_config.json and checkpoint files."""
    paths = [os.path.join(run, "model_config.json"), *glob.glob(os.path.join(run, "checkpoints", "*"))]
    return {path: pathlib.Path(path).read_bytes() for path in paths if os.path.exists(path)}


def test_resuming_with_other_trained_values_is_one_line_from_the_cli_and_changes_nothing(
    finished_run, tmp_path
):
    config = copied_run(finished_run, tmp_path)
    run, logs = tmp_path / "model_base_dir" / "run", tmp_path / "log_dir" / "run"
    files, events = run_files(run), sorted(os.listdir(logs))
    given = config.replace(epoch_it=30, num_initial_filters=8)
    cli = os.path.join(os.path.dirname(sys.executable), "wavenet-j")
    sets = [f"--set={key}={given[key]}" for key in RESUMED_KEYS]
    result = subprocess.run(
        [cli, "train", "J1", "tiny", "--id", "run", *sets], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.splitlines() == [
        f"wavenet-j train: run {run} was trained with epoch_it 2 (given 30), "
        "num_initial_filters 4 (given 8); use another --id (experiment_id) for a new run, "
        "or the recorded values to continue this one"
    ]
    assert run_files(run) == files and sorted(os.listdir(logs)) == events


@pytest.mark.parametrize("change", [{"freeze_encoder": False}, {"num_initial_filters": 8}])
def test_another_model_in_a_run_folder_is_named_and_its_checkpoint_stays(change, finished_run, tmp_path):
    config = copied_run(finished_run, tmp_path, **change)  # U1, or a wider J1
    run = tmp_path / "model_base_dir" / "run"
    (key, value), files = next(iter(change.items())), run_files(run)
    with pytest.raises(
        TrainingError, match=rf"^run {re.escape(str(run))} was trained with {key} .* \(given {value}\);"
    ):
        Trainer(config, "run").fit()
    assert run_files(run) == files
    os.remove(run / "model_config.json")  # nothing left to compare with: the restore itself fails
    with pytest.raises(
        TrainingError,
        match=rf"^run folder {re.escape(str(run))} holds another model's checkpoint, "
        r"which this config cannot restore; use another --id \(experiment_id\) for this model$",
    ):
        Trainer(config, "run").fit()
    assert run_files(run) == {path: data for path, data in files.items() if "model_config" not in path}


def test_a_finished_run_trains_on_when_max_epochs_allows_more(finished_run, tmp_path, capsys):
    config = copied_run(finished_run, tmp_path, max_epochs=2)
    run = tmp_path / "model_base_dir" / "run"
    result = Trainer(config, "run").fit()
    said = capsys.readouterr().out
    assert f"run {run} continues with max_epochs 2 (recorded 1)\n" in said
    assert f"resuming run {run} at step 2, stage 1, epoch 2" in said
    assert result["steps"] == 4
    with open(run / "model_config.json") as handle:
        assert json.load(handle) == json.loads(json.dumps(config))  # the values the run continued with
    assert Trainer(config, "run").fit() == result and "is finished" in capsys.readouterr().out


def test_a_moved_corpus_resumes_only_while_it_gives_the_same_split(finished_run, toy_root, tmp_path, capsys):
    moved, renamed = str(tmp_path / "moved"), str(tmp_path / "renamed")
    shutil.copytree(toy_root, moved)
    shutil.copytree(toy_root, renamed)
    with open(os.path.join(finished_run["model_base_dir"], "run", "split.json")) as handle:
        last = max(name for names in json.load(handle).values() for name in names)
    os.rename(os.path.join(renamed, "train", last), os.path.join(renamed, "train", last + "x"))  # order kept
    config = copied_run(finished_run, tmp_path, max_epochs=2)
    with pytest.raises(
        TrainingError,
        match=rf"^run .* was trained on other tracks than corpus_root '.*renamed' \(recorded '.*'\) gives "
        rf"\((valid|train): '{last}' recorded, '{last}x' given\); use another --id",
    ):
        Trainer(config.replace(musdb_path=renamed), "run").fit()
    assert Trainer(config.replace(musdb_path=moved), "run").fit()["steps"] == 4
    run = tmp_path / "model_base_dir" / "run"
    assert (
        f"run {run} continues with corpus_root {moved!r} (recorded {toy_root!r}), max_epochs 2 (recorded 1)\n"
        in capsys.readouterr().out
    )


class Killed(Exception):
    """What ends a run that ``KilledAt`` kills."""


class KilledAt(Trainer):
    """A trainer that stops as a kill would after ``step`` steps, its events on disk, its checkpoint older."""

    def __init__(self, step, *args):
        super().__init__(*args)
        self.kill_at = step

    def train_step(self, global_batch):
        step = super().train_step(global_batch)

        def killed_at(mix, targets):
            if self.step == self.kill_at:
                self.writer.flush()
                raise Killed
            return step(mix, targets)

        return killed_at


def append_a_truncated_record(log_dir):
    """What a kill -9 amid a write leaves at the end of an event file: part of a record."""
    path = glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))[0]
    record = os.path.join(os.path.dirname(log_dir), "record")
    with tf.io.TFRecordWriter(record) as writer:
        writer.write(tf.compat.v1.Event(step=99).SerializeToString())
    with open(record, "rb") as source, open(path, "ab") as events:
        events.write(source.read()[:-3])


@pytest.fixture(scope="module")
def killed_and_resumed(toy_root, tmp_path_factory):
    """A run of 12 steps (checkpoints every 2) killed after step 9, then resumed: its config, the
    training seconds its first part recorded at step 8, that part's wall time and the result."""
    config = tiny(
        "U1",
        toy_root,
        tmp_path_factory.mktemp("killed"),
        epoch_it=6,
        max_epochs=2,
        checkpoint_steps=2,
        schedule=[[1, 1e-3]],
        num_initial_filters=4,
    )
    started = time.time()
    killed = KilledAt(9, config, "run")
    with pytest.raises(Killed):
        killed.fit()
    wall = time.time() - started
    killed.writer.close()
    append_a_truncated_record(os.path.join(config["log_dir"], "run"))
    seconds = pathlib.Path(config["model_base_dir"], "run", "checkpoints", "train_seconds.json")
    first_part = json.loads(seconds.read_text())["8"] if seconds.exists() else None
    return config, first_part, wall, Trainer(config, "run").fit()


def test_a_smaller_max_epochs_ends_the_stage_of_a_resumed_run_without_its_partial_epoch(
    toy_root, tmp_path, capsys
):
    config = tiny(
        "U1",
        toy_root,
        tmp_path,
        epoch_it=6,
        max_epochs=2,
        checkpoint_steps=2,
        schedule=[[1, 1e-3], [1, 1e-4]],
        num_initial_filters=4,
    )
    killed = KilledAt(9, config, "run")  # in stage 1's second epoch, its checkpoint at step 8
    with pytest.raises(Killed):
        killed.fit()
    killed.writer.close()
    result = Trainer(config.replace(max_epochs=1), "run").fit()
    said = capsys.readouterr().out
    run = os.path.join(config["model_base_dir"], "run")
    assert (
        f"run {run} continues with max_epochs 1 (recorded 2)\nresuming run {run} at step 8, stage 2, epoch 1"
        in said
    )
    assert result["steps"] == 8 + 6  # stage 2's one epoch, whole


def logged_steps(log_dir):
    """``{tag: [step, ...]}`` of every event in a log folder's event files, read strictly: a damaged
    record fails."""
    steps = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                steps.setdefault(value.tag, []).append(event.step)
    return steps


def test_trimmed_event_files_keep_the_steps_up_to_the_checkpoint_and_drop_a_truncated_record(tmp_path):
    from wavenet_j.training.events import trim_events

    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    with writer.as_default():
        for step in range(1, 6):
            tf.summary.scalar("loss", 1.0 / step, step=step)
    writer.close()
    append_a_truncated_record(str(tmp_path / "logs"))
    trim_events(str(tmp_path / "logs"), 5)  # no event after step 5: only the damaged record goes
    assert logged_steps(str(tmp_path / "logs")) == {"loss": [1, 2, 3, 4, 5]}
    (path,) = glob.glob(str(tmp_path / "logs" / "events.out.tfevents.*"))
    untouched = os.stat(path).st_mtime_ns
    trim_events(str(tmp_path / "logs"), 5)
    assert os.stat(path).st_mtime_ns == untouched  # nothing to cut: the file stays as it is
    trim_events(str(tmp_path / "logs"), 3)
    assert logged_steps(str(tmp_path / "logs")) == {"loss": [1, 2, 3]}
    assert os.listdir(tmp_path / "logs") == [os.path.basename(path)]  # no staging folder left


def test_a_resumed_run_logs_each_step_once_in_tensorboard(killed_and_resumed):
    config, _, _, result = killed_and_resumed
    steps = logged_steps(os.path.join(config["log_dir"], "run"))
    for tag in (
        "train/loss",
        "train/learning_rate",
        "train/stage",
        "train/batch_size",
        "train/steps_per_second",
    ):
        assert sorted(steps[tag]) == list(range(1, 13)), tag
    for tag in ("validation/loss", "validation/vocals_mse", "validation/mix"):
        assert sorted(steps[tag]) == [6, 12], tag
    assert result["steps"] == 12


def test_a_resumed_run_counts_the_training_seconds_of_all_its_parts(killed_and_resumed):
    config, first_part, wall, result = killed_and_resumed
    assert 0 < first_part < wall
    assert result["train_seconds"] >= first_part + result["seconds_this_run"] - 0.1
    assert result["train_seconds"] > result["seconds_this_run"]
    assert Trainer(config, "run").fit()["train_seconds"] == result["train_seconds"]  # a reused run


@pytest.mark.parametrize(
    "kilobytes, checkpoint_steps, failed, kept",
    [
        (1024, 2, "checkpoints/ckpt-2", None),  # a checkpoint is about 2 MB, best.keras 0.8 MB
        (512, None, "best.keras", None),
        (3072, 2, "checkpoints/ckpt-4", "ckpt-2"),
    ],
)
def test_a_full_disk_is_named_and_what_was_saved_stays(
    kilobytes, checkpoint_steps, failed, kept, small_disk, toy_root, tmp_path
):
    runs = small_disk(kilobytes)
    config = tiny(
        "U1",
        toy_root,
        tmp_path,
        checkpoint_steps=checkpoint_steps,
        schedule=[[1, 1e-3]],
        num_initial_filters=4,
        model_base_dir=str(runs),
    )
    with pytest.raises(TrainingError) as raised:
        Trainer(config, "run").fit()
    assert str(raised.value) == (
        f"cannot write {str(runs / 'run' / failed)!r}: no space left on device; "
        "what the run saved before is kept"
    )
    with open(runs / "run" / "model_config.json") as handle:
        assert json.load(handle)["num_initial_filters"] == 4
    checkpoints = runs / "run" / "checkpoints"
    latest = tf.train.latest_checkpoint(str(checkpoints))
    assert latest == (str(checkpoints / kept) if kept else None)
    assert set(os.listdir(runs / "run")) <= {"checkpoints", "model_config.json", "split.json"}
    assert not glob.glob(str(checkpoints / f"{os.path.basename(failed)}[._]*"))  # no partial files left
    if kept:
        assert final_weights(config, "run")
