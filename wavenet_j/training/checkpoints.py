"""A run's checkpoints: the model, the optimizer (Adam's moments and step) and the run's state
(global step, position in the epoch, schedule), each written whole or not at all.

Under TensorFlow they are ``tf.train`` checkpoints (``ckpt-<step>.index`` and its data file), as
``tf.distribute`` saves and restores them on every worker. Under JAX and PyTorch they are Keras weight
files, ``ckpt-<step>.weights.h5``, holding the model's and the optimizer's variables and the run's state
as a JSON attribute; such a checkpoint resumes under either of the two.
"""

import glob
import json
import os
import re
import shutil

import keras
import numpy as np

from wavenet_j.atomic import atomic_path, remove_partials
from wavenet_j.training.errors import writing


class Damaged(Exception):
    """A checkpoint cut short, or with a file missing."""


class Mismatch(Exception):
    """A checkpoint of another model or optimizer, which these variables cannot take."""


def checkpoints_for(directory, model, optimizer, kept, strategy=None):
    """The checkpoints of a run on this backend."""
    if keras.backend.backend() == "tensorflow":
        return TensorFlowCheckpoints(directory, model, optimizer, kept, strategy)
    return KerasCheckpoints(directory, model, optimizer, kept)


def latest_step(directory):
    """The step of the newest checkpoint in ``directory`` on this backend, or None."""
    suffix = ".index" if keras.backend.backend() == "tensorflow" else _SUFFIX
    return max(_steps(directory, suffix), default=None)


def other_format(directory):
    """The newest checkpoint in ``directory`` that this backend cannot read (a ``tf.train`` one under
    JAX or PyTorch, a Keras weight file under TensorFlow), or None."""
    suffix = _SUFFIX if keras.backend.backend() == "tensorflow" else ".index"
    steps = _steps(directory, suffix)
    return os.path.join(directory, f"ckpt-{steps[-1]}{suffix}") if steps else None


def _steps(directory, suffix):
    steps = []
    for path in glob.glob(os.path.join(glob.escape(directory), f"ckpt-*{suffix}")):
        match = re.fullmatch(rf"ckpt-(\d+){re.escape(suffix)}", os.path.basename(path))
        if match:
            steps.append(int(match[1]))
    return sorted(steps)


class TensorFlowCheckpoints:
    """``tf.train.CheckpointManager`` over the model, the optimizer and the run's state variables."""

    def __init__(self, directory, model, optimizer, kept, strategy):
        import tensorflow as tf

        with (strategy or tf.distribute.get_strategy()).scope():
            self._step = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._position = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._schedule = tf.Variable([1.0, 0.0, 0.0, np.inf], dtype=tf.float64, trainable=False)
        checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            step=self._step,
            position=self._position,
            schedule=self._schedule,
        )
        self._manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=kept)
        self.directory = self._manager.directory

    @property
    def prefixes(self):
        """The kept checkpoints, oldest first."""
        return list(self._manager.checkpoints)

    def restore(self, prefix):
        """``{"step", "position", "schedule"}`` of checkpoint ``prefix``, whose variables are loaded."""
        import tensorflow as tf

        try:
            self._manager.checkpoint.restore(prefix).assert_existing_objects_matched()
        except (AssertionError, ValueError) as error:  # variables missing, or of other shapes
            raise Mismatch(str(error)) from error
        except (IndexError, tf.errors.OpError) as error:  # a data file cut short or missing
            raise Damaged(type(error).__name__) from error
        return {
            "step": int(self._step.numpy()),
            "position": int(self._position.numpy()),
            "schedule": [float(x) for x in self._schedule.numpy()],
        }

    def save(self, state):
        """A checkpoint at ``state["step"]``; a failed save leaves the checkpoints before it."""
        import tensorflow as tf

        self._step.assign(state["step"])
        self._position.assign(state["position"])
        self._schedule.assign(state["schedule"])
        prefix = os.path.join(self.directory, f"ckpt-{state['step']}")
        with writing(prefix):
            try:
                self._manager.save(checkpoint_number=state["step"])
            except (OSError, tf.errors.OpError):
                for path in glob.glob(glob.escape(prefix) + ".*") + glob.glob(glob.escape(prefix) + "_temp"):
                    if os.path.isdir(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.remove(path)
                raise


_SUFFIX = ".weights.h5"


class _RunVariables(keras.layers.Layer):
    """What a Keras checkpoint holds: the model's and the optimizer's variables, by Keras's saving."""

    def __init__(self, model, optimizer):
        super().__init__(name="run")
        self.separator, self.optimizer = model, optimizer
        self.built = True


class KerasCheckpoints:
    """``ckpt-<step>.weights.h5`` files, the newest ``kept`` of them, written atomically."""

    def __init__(self, directory, model, optimizer, kept):
        self.directory, self.kept = directory, kept
        self._variables = _RunVariables(model, optimizer)

    @property
    def prefixes(self):
        """The kept checkpoints (paths without the suffix), oldest first."""
        return [os.path.join(self.directory, f"ckpt-{step}") for step in _steps(self.directory, _SUFFIX)]

    def restore(self, prefix):
        """``{"step", "position", "schedule"}`` of checkpoint ``prefix``, whose variables are loaded."""
        import h5py

        path = prefix + _SUFFIX
        try:
            with h5py.File(path, "r") as handle:
                state = json.loads(handle.attrs["run_state"])
        except (OSError, KeyError, ValueError) as error:  # cut short, or not a whole checkpoint
            raise Damaged(type(error).__name__) from error
        try:
            keras.saving.load_weights(self._variables, path)
        except ValueError as error:
            raise Mismatch(str(error)) from error
        return state

    def save(self, state):
        """A checkpoint at ``state["step"]``, then the oldest beyond ``kept`` removed."""
        import h5py

        path = os.path.join(self.directory, f"ckpt-{state['step']}{_SUFFIX}")
        with writing(path):
            remove_partials(path)
            with atomic_path(path) as temporary:
                keras.saving.save_weights(self._variables, temporary)
                with h5py.File(temporary, "a") as handle:
                    handle.attrs["run_state"] = json.dumps(state)
            for old in self.prefixes[: -self.kept]:
                os.remove(old + _SUFFIX)
