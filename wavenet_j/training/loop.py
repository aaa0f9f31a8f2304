"""The training loop: the configured schedule, resumable, monitored, on one device or many.

Everything a run needs to continue after a kill lives in ``<model_base_dir>/<experiment_id>/``:
its checkpoints (``checkpoints.py``) of the model, the optimizer, the global step, the schedule's
state and the position inside the current epoch (the data of an epoch is a pure function of the
seed, stage and epoch, so that position is the pipeline's whole random state), and ``best.keras``,
the best model by validation loss over all stages, which loads under every backend;
``model_config.json`` and ``split.json`` say what was trained on what, and
``checkpoints/train_seconds.json`` how long training took up to each kept checkpoint.

One loop serves every Keras backend: the step (``steps.py``) and the checkpoints are the backend's;
the batches are NumPy everywhere (``tf.data`` over the same batches where ``tf.distribute`` splits
them over several replicas).
"""

import contextlib
import json
import math
import os
import time
from collections.abc import Mapping

import keras
import numpy as np
from tqdm import tqdm

from wavenet_j.atomic import atomic_path, write_text
from wavenet_j.backend import inference_fn, predict_fn
from wavenet_j.configs import ModelConfig, corpus_root, model_config_of
from wavenet_j.data.pipeline import batches, ensure_toy_corpus, get_dataset
from wavenet_j.data.tracks import detect_is_wav
from wavenet_j.models import build_separator, get_padding, rebuild
from wavenet_j.training.checkpoints import Damaged, Mismatch, checkpoints_for, other_format
from wavenet_j.training.errors import TrainingError, writing
from wavenet_j.training.events import SummaryWriter, trim_events
from wavenet_j.training.losses import example_losses, validation_losses
from wavenet_j.training.resume import check_resumable, read_record, track_split
from wavenet_j.training.schedule import Schedule
from wavenet_j.training.steps import train_step_fn

__all__ = [  # the losses and the step are defined beside the loop and reached through it
    "Trainer",
    "TrainingError",
    "choose_distribution",
    "choose_strategy",
    "example_losses",
    "model_and_optimizer",
    "run_paths",
    "step_seconds",
    "train",
    "train_step_fn",
]


def choose_strategy():
    """TensorFlow's ``tf.distribute`` strategy: MultiWorkerMirrored when TF_CONFIG names a cluster,
    Mirrored over several GPUs, else the default. None under JAX and PyTorch (``choose_distribution``)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def choose_distribution():
    """Under JAX, data parallel over every device of every process (``keras.distribution``) where
    there are several; the processes of several hosts join first where
    ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` names them (``keras.distribution.initialize``). PyTorch
    trains on one device."""
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is not None:
        return
    if os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"):
        keras.distribution.initialize()
    devices = keras.distribution.list_devices()
    if len(devices) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))


def _worker():
    """``(task type, index)`` of this process where it is not the one that writes the run's files."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = tf_config.get("task", {})
    chief = "chief" if "chief" in tf_config.get("cluster", {}) else "worker"
    if task and (task.get("type"), task.get("index", 0)) != (chief, 0):
        return task["type"], task.get("index", 0)
    if keras.backend.backend() == "jax":
        import jax

        if jax.process_index():
            return "process", jax.process_index()
    return None


def run_paths(model_config: Mapping, experiment_id: str | int) -> tuple[str, str]:
    """``(run folder, TensorBoard folder)`` of an experiment.

    With several workers (a TF_CONFIG cluster, several JAX processes) only the chief writes there;
    every other worker (which must still save, for the collective ops) writes below them in
    ``<task type><index>/``.
    """
    paths = [os.path.join(model_config[key], str(experiment_id)) for key in ("model_base_dir", "log_dir")]
    worker = _worker()
    if worker:
        paths = [os.path.join(path, f"{worker[0]}{worker[1]}") for path in paths]
    return tuple(paths)


def model_and_optimizer(config):
    """A fresh separator (in the config's precision) and its built Adam optimizer at stage 1's rate."""
    precision = config["mixed_precision"]
    model = build_separator(config) if not precision else rebuild(build_separator(config), precision)
    rate = Schedule.from_config(config).learning_rate
    optimizer = keras.optimizers.Adam(rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8)  # TF1 Adam's epsilon
    if precision == "mixed_float16":  # float16 gradients underflow without loss scaling
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def step_seconds(config: ModelConfig, steps: int = 3) -> float:
    """Seconds one training step of this model takes here at stage 1's batch size: the median of
    ``steps`` timed steps on random data, after one that traces and compiles."""
    model, optimizer = model_and_optimizer(config)
    step = train_step_fn(model, optimizer, config, config["batch_size"])
    input_frames, output_frames = get_padding(config)
    random = np.random.default_rng(0)

    def audio(frames):
        return random.uniform(-0.5, 0.5, (config["batch_size"], frames, config["num_channels"])).astype(
            np.float32
        )

    mix, targets = audio(input_frames), {source: audio(output_frames) for source in config["source_names"]}
    float(step(mix, targets))
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        float(step(mix, targets))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


KEPT_CHECKPOINTS = 2


class Trainer:
    """One experiment: ``Trainer(config, experiment_id).fit()`` trains, resuming what a killed run left.

    ``strategy`` is TensorFlow's ``tf.distribute`` strategy (``choose_strategy`` when None); under JAX
    the ``keras.distribution`` in effect (``choose_distribution``) spreads the batches.
    """

    def __init__(self, config: ModelConfig, experiment_id: str | int, strategy=None):
        self.config = model_config_of(config, "Trainer")
        self.run_dir, self.log_dir = run_paths(self.config, experiment_id)
        self.strategy = strategy or choose_strategy()
        choose_distribution()
        # A missing or empty corpus fails here, before any work and before the run's folders exist.
        detect_is_wav(corpus_root(config))
        self._check_writable()
        self.schedule = Schedule.from_config(self.config)
        with self.strategy.scope() if self.strategy else contextlib.nullcontext():
            self.model, self.optimizer = model_and_optimizer(self.config)
        self.checkpoints = checkpoints_for(
            os.path.join(self.run_dir, "checkpoints"),
            self.model,
            self.optimizer,
            KEPT_CHECKPOINTS,
            self.strategy,
        )
        self.step, self.position = 0, 0  # global step; steps done in the current epoch
        self.best_path = os.path.join(self.run_dir, "best.keras")
        self.result_path = os.path.join(self.run_dir, "result.json")
        self.seconds_path = os.path.join(self.checkpoints.directory, "train_seconds.json")
        self.writer = None  # opened by fit, once the restored step says which logged events stay
        self._seconds_at = {}  # training seconds up to each kept checkpoint's step
        self._seconds_before = 0.0  # up to the restored checkpoint
        self._steps = {}
        self._predict = predict_fn(self.model)
        self._validation_step = inference_fn(
            lambda mix, targets: validation_losses(self.model, mix, targets, self.config), self.model
        )

    def _check_writable(self):
        for folder in (self.run_dir, self.log_dir):
            try:
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, ".writable"), "w"):
                    pass
                os.remove(os.path.join(folder, ".writable"))
            except OSError as error:
                raise TrainingError(f"cannot write to {folder!r}: {error}") from error

    def _restore(self):
        """Continue from the last checkpoint, if any, saying whether the run starts, resumes or is
        finished; a config that does not continue what the run trained is refused first."""
        if not self.checkpoints.prefixes:
            written_elsewhere = other_format(self.checkpoints.directory)
            if written_elsewhere:
                raise TrainingError(
                    f"run {self.run_dir} has checkpoints of another backend ({written_elsewhere}), which "
                    f"{keras.backend.backend()} cannot resume: run it with the backend that wrote them "
                    "(TensorFlow's tf.train checkpoints resume under TensorFlow, Keras weight files under "
                    "JAX or PyTorch), or use another --id (experiment_id)"
                )
            print(f"starting run {self.run_dir}")
            return
        changed = check_resumable(self.run_dir, self.config)
        saved = self._restore_checkpoint()
        self.schedule.restore(saved["schedule"])
        if self.schedule.stage > int(saved["schedule"][0]):  # the given limits end the stage: its epoch goes
            self.position = 0
        if self.schedule.done:
            print(
                f"run {self.run_dir} is finished (all {len(self.schedule.stages)} stages): best model "
                f"{self.best_path}, result {self.result_path}"
            )
        else:
            if changed:
                print(changed)
            print(
                f"resuming run {self.run_dir} at step {self.step}, stage {self.schedule.stage}, "
                f"epoch {self.schedule.epoch + 1}"
            )

    def _restore_checkpoint(self):
        """Model, optimizer, step, schedule and position from the newest checkpoint that reads whole
        (a damaged one is named and passed over), and the training seconds up to it; returns the
        checkpoint's state."""
        damaged = []
        for prefix in reversed(self.checkpoints.prefixes):
            try:
                state = self.checkpoints.restore(prefix)
                break
            except Mismatch as error:
                raise TrainingError(
                    f"run folder {self.run_dir} holds another model's checkpoint, which this config "
                    "cannot restore; use another --id (experiment_id) for this model"
                ) from error
            except Damaged as error:
                damaged.append(f"{os.path.basename(prefix)} ({error})")
        else:
            raise TrainingError(
                f"every checkpoint of run {self.run_dir} is damaged: {', '.join(damaged)}; use another "
                f"--id (experiment_id), or remove {self.checkpoints.directory} to train the run again"
            )
        if damaged:
            print(f"run {self.run_dir}: checkpoint {', '.join(damaged)} is damaged; resuming from {prefix}")
        self.step, self.position = state["step"], state["position"]
        seconds = read_record(self.seconds_path) or {}
        self._seconds_at = {at: value for at, value in seconds.items() if int(at) <= self.step}
        self._seconds_before = self._seconds_at.get(str(self.step), 0.0)
        return state

    def _train_seconds(self):
        """Seconds this run has trained, over all its resumes."""
        return self._seconds_before + time.time() - self._started

    def _sync(self):
        """The training steps' state written into the model and optimizer (JAX holds it apart)."""
        for step in self._steps.values():
            step.sync()

    def _save(self):
        """A checkpoint at the current step, with the events logged up to it and its training seconds.

        The seconds are written first, so the checkpoint a resume finds always has its entry.
        """
        self._sync()
        with writing(self.log_dir):
            self.writer.flush()
        self._seconds_at[str(self.step)] = round(self._train_seconds(), 3)
        kept = sorted(self._seconds_at, key=int)[-(KEPT_CHECKPOINTS + 1) :]  # and the one being saved
        self._seconds_at = {at: self._seconds_at[at] for at in kept}
        _write_text(self.seconds_path, json.dumps(self._seconds_at, indent=1))
        self.checkpoints.save(
            {"step": self.step, "position": self.position, "schedule": list(self.schedule.state())}
        )

    def train_step(self, global_batch):
        """The compiled step ``(mix, targets) -> loss`` for one global batch size (later stages may
        double it), built once per size."""
        if global_batch not in self._steps:
            self._sync()
            self._steps[global_batch] = train_step_fn(
                self.model, self.optimizer, self.config, global_batch, self.strategy
            )
        return self._steps[global_batch]

    def validate(self, batches):
        """Mean validation loss (the training objective without the identity term), and MSE per source."""
        self._sync()
        totals, per_source = [], {s: [] for s in self.config["source_names"]}
        for mix, targets in batches:
            total, by_source = self._validation_step(mix, targets)
            totals.append(total)
            for s, values in by_source.items():
                per_source[s].append(values)
        return float(np.mean(np.concatenate(totals))), {
            s: float(np.mean(np.concatenate(v))) for s, v in per_source.items()
        }

    def _log_audio(self, snippet, step):
        """The first validation snippet: mix, targets and estimates (the writer clips to [-1, 1])."""
        mix, targets = snippet
        estimates = self._predict(mix)
        rate = self.config["expected_sr"]
        with writing(self.log_dir):
            self.writer.audio("validation/mix", mix[0], rate, step)
            for s in self.config["source_names"]:
                self.writer.audio(f"validation/{s}_target", targets[s][0], rate, step)
                self.writer.audio(f"validation/{s}_estimate", estimates[s][0], rate, step)

    def fit(self) -> dict:
        """Train until the last stage stops early; returns the run's summary (also in ``result.json``).

        A finished run trains nothing: its stored summary is returned.
        """
        self._started = time.time()
        self._restore()
        if self.schedule.done and os.path.exists(self.result_path):
            with open(self.result_path, encoding="utf-8") as handle:
                return json.load(handle)
        self._open_log()
        self._write_run_files()
        mix, targets = next(iter(batches(self.config, "valid", batch_size=1)))
        snippet = mix, targets
        while not self.schedule.done:
            stage, epoch = self.schedule.stage, self.schedule.epoch
            self._train_epoch(stage, epoch)
            validation_loss = self._validate_epoch(snippet)
            if self.schedule.record(validation_loss):
                with writing(self.best_path), atomic_path(self.best_path) as temporary:
                    self.model.save(temporary)
            print(
                f"stage {stage} epoch {epoch + 1}: validation loss {validation_loss:.6f} "
                f"(best {self.schedule.best:.6f})"
            )
            self.position = 0
            self._save()
        with writing(self.log_dir):
            self.writer.close()
        result = {
            "best_validation_loss": self.schedule.best,
            "steps": self.step,
            "best_model": self.best_path,
            "log_dir": self.log_dir,
            "train_seconds": round(self._train_seconds(), 1),
            "seconds_this_run": round(time.time() - self._started, 1),
        }
        _write_text(self.result_path, json.dumps(result, indent=1))
        return result

    def _open_log(self):
        """The summary writer, after the events a killed run logged past the restored step are cut."""
        with writing(self.log_dir):
            trim_events(self.log_dir, self.step)
            self.writer = SummaryWriter(self.log_dir)

    def _write_run_files(self):
        """``model_config.json`` and ``split.json``: what this run trains, on which tracks."""
        config = self.config
        model_config = os.path.join(self.run_dir, "model_config.json")
        _write_text(model_config, json.dumps(config, indent=1, sort_keys=True))
        _write_text(os.path.join(self.run_dir, "split.json"), json.dumps(track_split(config), indent=1))

    def _epoch_batches(self, batch, epoch):
        """The epoch's training batches from the saved position on: NumPy, or over several TensorFlow
        replicas a ``tf.data`` dataset of the same batches that ``tf.distribute`` splits."""
        if self.strategy is not None and self.strategy.num_replicas_in_sync > 1:
            data = get_dataset(self.config, "train", batch_size=batch, epoch=epoch, start=self.position)
            return iter(self.strategy.experimental_distribute_dataset(data))
        return batches(self.config, "train", batch_size=batch, epoch=epoch, start=self.position)

    def _train_epoch(self, stage, epoch):
        """The rest of an epoch's steps, from the position a killed run saved, checkpointing on the way."""
        config = self.config
        batch = self.schedule.batch_size(config["batch_size"])
        self._sync()
        self.optimizer.learning_rate.assign(self.schedule.learning_rate)
        learning_rate = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
        train_step = self.train_step(batch)
        start, steps_per_epoch = self.position, config["epoch_it"]
        data = self._epoch_batches(batch, 1000 * stage + epoch)
        checkpoint_every = config["checkpoint_steps"] or steps_per_epoch
        bar = tqdm(
            range(start, steps_per_epoch),
            initial=start,
            total=steps_per_epoch,
            desc=f"stage {stage} epoch {epoch + 1}",
            unit="step",
            leave=False,
        )
        tick = time.time()
        for position in bar:
            mix, targets = next(data)
            loss = float(train_step(mix, targets))
            self.step += 1
            if not math.isfinite(loss):
                raise TrainingError(
                    f"training loss is {loss} at step {self.step} (stage {stage}, epoch {epoch + 1}); the "
                    f"last checkpoint in {self.checkpoints.directory!r} and {self.best_path!r} are kept"
                )
            bar.set_postfix(loss=f"{loss:.5f}")
            with writing(self.log_dir):
                self.writer.scalar("train/loss", loss, self.step)
                self.writer.scalar("train/learning_rate", learning_rate, self.step)
                self.writer.scalar("train/stage", stage, self.step)
                self.writer.scalar("train/batch_size", batch, self.step)
                self.writer.scalar("train/steps_per_second", 1.0 / max(time.time() - tick, 1e-9), self.step)
            tick = time.time()
            self.position = position + 1
            if (position + 1) % checkpoint_every == 0 and position + 1 < steps_per_epoch:
                self._save()
        bar.close()

    def _validate_epoch(self, snippet):
        """The validation loss after an epoch, logged with the per-source MSE and an audio snippet."""
        validation_loss, per_source = self.validate(batches(self.config, "valid"))
        with writing(self.log_dir):
            self.writer.scalar("validation/loss", validation_loss, self.step)
            for s, value in per_source.items():
                self.writer.scalar(f"validation/{s}_mse", value, self.step)
        self._log_audio(snippet, self.step)
        return validation_loss


def _write_text(path, text):
    with writing(path):
        write_text(path, text)


def train(config: ModelConfig, experiment_id: str | int) -> dict:
    """Train one experiment (resuming it if a checkpoint exists); returns its summary. The toy corpus
    (``musdb_path="toy"``) is generated first where it is missing."""
    ensure_toy_corpus(config)
    return Trainer(config, experiment_id).fit()
