"""The training loop: the configured schedule, resumable, monitored, on one device or many.

Everything a run needs to continue after a kill lives in ``<model_base_dir>/<experiment_id>/``:
a ``tf.train.CheckpointManager`` holding the model, the optimizer, the global step, the
schedule's state and the position inside the current epoch (the data of an epoch is a pure
function of the seed, stage and epoch, so that position is the pipeline's whole random state),
and ``best.keras``, the best model by validation loss over all stages; ``model_config.json`` and
``split.json`` say what was trained on what, and ``checkpoints/train_seconds.json`` how long
training took up to each kept checkpoint.
"""

import contextlib
import glob
import json
import math
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from wavenet_j.atomic import atomic_path, write_text
from wavenet_j.configs import complete_config
from wavenet_j.data.pipeline import corpus_root, ensure_toy_corpus, get_dataset
from wavenet_j.data.tracks import detect_is_wav
from wavenet_j.models import build_separator, get_padding, rebuild, stage_estimates
from wavenet_j.models.spectrogram import magnitude, source_magnitudes
from wavenet_j.training.errors import TrainingError, writing
from wavenet_j.training.events import trim_events
from wavenet_j.training.resume import check_resumable, read_record, track_split
from wavenet_j.training.schedule import Schedule


def choose_strategy():
    """MultiWorkerMirrored when TF_CONFIG names a cluster, Mirrored over several GPUs, else the default."""
    if json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def run_paths(model_config, experiment_id):
    """``(run folder, TensorBoard folder)`` of an experiment.

    In a multi-worker cluster only the chief writes there; every other worker (which must still
    save, for the collective ops) writes below them in ``<task type><index>/``.
    """
    paths = [os.path.join(model_config[key], str(experiment_id)) for key in ("model_base_dir", "log_dir")]
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = tf_config.get("task", {})
    chief = "chief" if "chief" in tf_config.get("cluster", {}) else "worker"
    if task and (task.get("type"), task.get("index", 0)) != (chief, 0):
        paths = [os.path.join(path, f"{task['type']}{task.get('index', 0)}") for path in paths]
    return tuple(paths)


def _mse_per_example(target, estimate):
    """MSE of each example over samples and channels, in float32 whatever the model computes in."""
    return tf.reduce_mean(tf.square(tf.cast(estimate, tf.float32) - target), axis=[1, 2])


def _mse_over_sources(targets, estimates, sources):
    """``_mse_per_example`` averaged over the sources."""
    return tf.add_n([_mse_per_example(targets[s], estimates[s]) for s in sources]) / len(sources)


def _magnitude_l1_over_sources(model, mix, targets, sources, training):
    """The original's spectrogram loss (``raw_audio_loss=False``): mean absolute difference between each
    target's magnitude spectrogram and the model's estimate of it, averaged over sources."""
    estimates = source_magnitudes(model, mix, training=training)
    return tf.add_n(
        [
            tf.reduce_mean(tf.abs(magnitude(targets[s]) - tf.cast(estimates[s], tf.float32)), axis=[1, 2])
            for s in sources
        ]
    ) / len(sources)


def separation_loss(model, mix, targets, config, training, stages=None):
    """Per-example separation loss, in training and validation alike: the MSE summed over progressive
    stages (``stages``: their estimates, where the caller has them already), or with
    ``raw_audio_loss=False`` L1 on magnitude spectrograms."""
    sources = config["source_names"]
    if not config["raw_audio_loss"]:
        return _magnitude_l1_over_sources(model, mix, targets, sources, training)
    stages = stages or stage_estimates(model, mix, config["num_stages"], training=training)
    return tf.add_n([_mse_over_sources(targets, estimates, sources) for estimates in stages])


def example_losses(model, mix, targets, config, training=True):
    """Per-example training loss: ``separation_loss`` plus, with waveform losses, the identity loss."""
    loss = separation_loss(model, mix, targets, config, training)
    if config["identity_loss_weight"] and config["raw_audio_loss"]:
        # Each clean source through the network should come back as itself in its own output.
        sources = config["source_names"]
        identity = {s: model(targets[s], training=training)[s] for s in sources}
        loss += config["identity_loss_weight"] * _mse_over_sources(targets, identity, sources)
    return loss


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


def train_step_fn(model, optimizer, config, global_batch, strategy):
    """The compiled training step ``(mix, targets) -> loss`` for one global batch size."""

    def replica_step(mix, targets):
        with tf.GradientTape() as tape:
            per_example = example_losses(model, mix, targets, config)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            scaled = optimizer.scale_loss(loss)
        # Only trainable variables: frozen groups get no gradients and need no backward pass.
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function(jit_compile=config["jit_compile"])
    def train_step(mix, targets):
        losses = strategy.run(replica_step, args=(mix, targets))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return train_step


def step_seconds(model_config, steps=3):
    """Seconds one training step of this model takes here at stage 1's batch size: the median of
    ``steps`` timed steps on random data, after one that traces and compiles."""
    config = complete_config(model_config)
    model, optimizer = model_and_optimizer(config)
    step = train_step_fn(model, optimizer, config, config["batch_size"], tf.distribute.get_strategy())
    input_frames, output_frames = get_padding(config)
    random = np.random.default_rng(0)

    def audio(frames):
        return tf.constant(
            random.uniform(-0.5, 0.5, (config["batch_size"], frames, config["num_channels"])), tf.float32
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
    """One experiment: ``Trainer(config, experiment_id).fit()`` trains, resuming what a killed run left."""

    def __init__(self, model_config, experiment_id, strategy=None):
        self.config = complete_config(model_config)
        self.run_dir, self.log_dir = run_paths(self.config, experiment_id)
        self.strategy = strategy or choose_strategy()
        # A missing or empty corpus fails here, before any work and before the run's folders exist.
        self.config["musdb_path"] = corpus_root(self.config)
        detect_is_wav(self.config["musdb_path"])
        self._check_writable()
        self.schedule = Schedule.from_config(self.config)
        with self.strategy.scope():
            self.model, self.optimizer = model_and_optimizer(self.config)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.position = tf.Variable(0, dtype=tf.int64, trainable=False)  # steps done in this epoch
            self.schedule_state = tf.Variable([1.0, 0.0, 0.0, math.inf], dtype=tf.float64, trainable=False)
        checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            step=self.step,
            position=self.position,
            schedule=self.schedule_state,
        )
        self.manager = tf.train.CheckpointManager(
            checkpoint, os.path.join(self.run_dir, "checkpoints"), max_to_keep=KEPT_CHECKPOINTS
        )
        self.best_path = os.path.join(self.run_dir, "best.keras")
        self.result_path = os.path.join(self.run_dir, "result.json")
        self.seconds_path = os.path.join(self.manager.directory, "train_seconds.json")
        self.writer = None  # opened by fit, once the restored step says which logged events stay
        self._seconds_at = {}  # training seconds up to each kept checkpoint's step
        self._seconds_before = 0.0  # up to the restored checkpoint
        self._steps = {}
        self._validation_step = self._validation_fn()

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
        if not self.manager.latest_checkpoint:
            print(f"starting run {self.run_dir}")
            return
        changed = check_resumable(self.run_dir, self.config)
        self._restore_checkpoint()
        saved = self.schedule_state.numpy()
        self.schedule.restore(saved)
        if self.schedule.stage > int(saved[0]):  # the given limits end the stage: its partial epoch goes
            self.position.assign(0)
        if self.schedule.done:
            print(
                f"run {self.run_dir} is finished (all {len(self.schedule.stages)} stages): best model "
                f"{self.best_path}, result {self.result_path}"
            )
        else:
            if changed:
                print(changed)
            print(
                f"resuming run {self.run_dir} at step {int(self.step.numpy())}, stage {self.schedule.stage}, "
                f"epoch {self.schedule.epoch + 1}"
            )

    def _restore_checkpoint(self):
        """Model, optimizer, step, schedule and position from the newest checkpoint that reads whole
        (a damaged one is named and passed over), and the training seconds up to it."""
        damaged = []
        for prefix in reversed(self.manager.checkpoints):
            try:
                self.manager.checkpoint.restore(prefix).assert_existing_objects_matched()
                break
            except (AssertionError, ValueError) as error:  # variables missing, or of other shapes
                raise TrainingError(
                    f"run folder {self.run_dir} holds another model's checkpoint, which this config "
                    "cannot restore; use another --id (experiment_id) for this model"
                ) from error
            except (IndexError, tf.errors.OpError) as error:  # a data file cut short or missing
                damaged.append(f"{os.path.basename(prefix)} ({type(error).__name__})")
        else:
            raise TrainingError(
                f"every checkpoint of run {self.run_dir} is damaged: {', '.join(damaged)}; use another "
                f"--id (experiment_id), or remove {self.manager.directory} to train the run again"
            )
        if damaged:
            print(f"run {self.run_dir}: checkpoint {', '.join(damaged)} is damaged; resuming from {prefix}")
        step = int(self.step.numpy())
        seconds = read_record(self.seconds_path) or {}
        self._seconds_at = {at: value for at, value in seconds.items() if int(at) <= step}
        self._seconds_before = self._seconds_at.get(str(step), 0.0)

    def _train_seconds(self):
        """Seconds this run has trained, over all its resumes."""
        return self._seconds_before + time.time() - self._started

    def _save(self):
        """A checkpoint at the current step, with the events logged up to it and its training seconds.

        The seconds are written first, so the checkpoint a resume finds always has its entry.
        """
        step = int(self.step.numpy())
        self.schedule_state.assign(self.schedule.state())
        with writing(self.log_dir):
            self.writer.flush()
        self._seconds_at[str(step)] = round(self._train_seconds(), 3)
        kept = sorted(self._seconds_at, key=int)[-(KEPT_CHECKPOINTS + 1) :]  # and the one being saved
        self._seconds_at = {at: self._seconds_at[at] for at in kept}
        _write_text(self.seconds_path, json.dumps(self._seconds_at, indent=1))
        prefix = os.path.join(self.manager.directory, f"ckpt-{step}")
        with writing(prefix):
            try:
                self.manager.save(checkpoint_number=step)
            except (OSError, tf.errors.OpError):
                _remove_partial_checkpoint(prefix)
                raise

    def train_step(self, global_batch):
        """The compiled step ``(mix, targets) -> loss`` for one global batch size (later stages may
        double it), built once per size."""
        if global_batch not in self._steps:
            self._steps[global_batch] = train_step_fn(
                self.model, self.optimizer, self.config, global_batch, self.strategy
            )
        return self._steps[global_batch]

    def _validation_fn(self):
        config = self.config

        @tf.function(reduce_retracing=True)  # the last batch of a partition is smaller
        def batch_losses(mix, targets):
            stages = stage_estimates(self.model, mix, config["num_stages"], training=False)
            total = separation_loss(self.model, mix, targets, config, training=False, stages=stages)
            return total, {s: _mse_per_example(targets[s], stages[-1][s]) for s in config["source_names"]}

        return batch_losses

    def validate(self, dataset):
        """Mean validation loss (the training objective without the identity term), and MSE per source."""
        totals, per_source = [], {s: [] for s in self.config["source_names"]}
        for mix, targets in dataset:
            total, by_source = self._validation_step(mix, targets)
            totals.append(total.numpy())
            for s, values in by_source.items():
                per_source[s].append(values.numpy())
        return float(np.mean(np.concatenate(totals))), {
            s: float(np.mean(np.concatenate(v))) for s, v in per_source.items()
        }

    def _log_audio(self, snippet, step):
        mix, targets = snippet
        estimates = self.model(mix, training=False)
        rate = self.config["expected_sr"]
        with self._logging(step):
            tf.summary.audio("validation/mix", tf.clip_by_value(mix, -1, 1), rate, max_outputs=1)
            for s in self.config["source_names"]:
                tf.summary.audio(
                    f"validation/{s}_target", tf.clip_by_value(targets[s], -1, 1), rate, max_outputs=1
                )
                tf.summary.audio(
                    f"validation/{s}_estimate", tf.clip_by_value(estimates[s], -1, 1), rate, max_outputs=1
                )

    def fit(self):
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
        valid = get_dataset(self.config, "valid")
        snippet = next(iter(valid.unbatch().batch(1)))
        while not self.schedule.done:
            stage, epoch = self.schedule.stage, self.schedule.epoch
            self._train_epoch(stage, epoch)
            validation_loss = self._validate_epoch(valid, snippet)
            if self.schedule.record(validation_loss):
                with writing(self.best_path), atomic_path(self.best_path) as temporary:
                    self.model.save(temporary)
            print(
                f"stage {stage} epoch {epoch + 1}: validation loss {validation_loss:.6f} "
                f"(best {self.schedule.best:.6f})"
            )
            self.position.assign(0)
            self._save()
        with writing(self.log_dir):
            self.writer.flush()
        result = {
            "best_validation_loss": self.schedule.best,
            "steps": int(self.step.numpy()),
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
            trim_events(self.log_dir, int(self.step.numpy()))
            self.writer = tf.summary.create_file_writer(self.log_dir)

    @contextlib.contextmanager
    def _logging(self, step):
        """The summary writer at ``step``; a failed write to the log folder is a TrainingError."""
        with writing(self.log_dir), self.writer.as_default(step=step):
            yield

    def _write_run_files(self):
        """``model_config.json`` and ``split.json``: what this run trains, on which tracks."""
        config = self.config
        model_config = os.path.join(self.run_dir, "model_config.json")
        _write_text(model_config, json.dumps(config, indent=1, sort_keys=True))
        _write_text(os.path.join(self.run_dir, "split.json"), json.dumps(track_split(config), indent=1))

    def _train_epoch(self, stage, epoch):
        """The rest of an epoch's steps, from the position a killed run saved, checkpointing on the way."""
        config = self.config
        batch = self.schedule.batch_size(config["batch_size"])
        self.optimizer.learning_rate.assign(self.schedule.learning_rate)
        train_step = self.train_step(batch)
        data = get_dataset(config, "train", batch_size=batch, epoch=1000 * stage + epoch)
        start, steps_per_epoch = int(self.position.numpy()), config["epoch_it"]
        checkpoint_every = config["checkpoint_steps"] or steps_per_epoch
        batches = iter(self.strategy.experimental_distribute_dataset(data.skip(start)))
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
            mix, targets = next(batches)
            loss = float(train_step(mix, targets).numpy())
            step = int(self.step.assign_add(1).numpy())
            if not math.isfinite(loss):
                raise TrainingError(
                    f"training loss is {loss} at step {step} (stage {stage}, epoch {epoch + 1}); the last "
                    f"checkpoint in {self.manager.directory!r} and {self.best_path!r} are kept"
                )
            bar.set_postfix(loss=f"{loss:.5f}")
            with self._logging(step):
                tf.summary.scalar("train/loss", loss)
                tf.summary.scalar("train/learning_rate", float(self.optimizer.learning_rate.numpy()))
                tf.summary.scalar("train/stage", stage)
                tf.summary.scalar("train/batch_size", batch)
                tf.summary.scalar("train/steps_per_second", 1.0 / max(time.time() - tick, 1e-9))
            tick = time.time()
            self.position.assign(position + 1)
            if (position + 1) % checkpoint_every == 0 and position + 1 < steps_per_epoch:
                self._save()
        bar.close()

    def _validate_epoch(self, valid, snippet):
        """The validation loss after an epoch, logged with the per-source MSE and an audio snippet."""
        validation_loss, per_source = self.validate(valid)
        step = int(self.step.numpy())
        with self._logging(step):
            tf.summary.scalar("validation/loss", validation_loss)
            for s, value in per_source.items():
                tf.summary.scalar(f"validation/{s}_mse", value)
        self._log_audio(snippet, step)
        return validation_loss


def _write_text(path, text):
    with writing(path):
        write_text(path, text)


def _remove_partial_checkpoint(prefix):
    """The files a failed save of checkpoint ``prefix`` left; the checkpoints saved before stay."""
    for path in glob.glob(glob.escape(prefix) + ".*") + glob.glob(glob.escape(prefix) + "_temp"):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)


def train(model_config, experiment_id):
    """Train one experiment (resuming it if a checkpoint exists); returns its summary. The toy corpus
    (``musdb_path="toy"``) is generated first where it is missing."""
    ensure_toy_corpus(complete_config(model_config))
    return Trainer(model_config, experiment_id).fit()
