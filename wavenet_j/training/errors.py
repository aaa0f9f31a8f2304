"""The error of a run that cannot go on, and the failed writes that become one."""

import contextlib
import os
import sys

from wavenet_j.atomic import ran_out_of_space


class TrainingError(RuntimeError):
    """A run that cannot go on (a NaN loss, say); what was saved before it is kept."""


@contextlib.contextmanager
def writing(path):
    """Turn a failed write of ``path`` (a full disk, say) into a TrainingError naming it.

    Keras, TensorBoard's writer and Python raise OSError, TensorFlow's checkpoints an OpError
    (ResourceExhaustedError for a full disk) whose message names its own temporary file.
    """
    try:
        yield
    except (OSError, *_tensorflow_errors()) as error:
        raise TrainingError(
            f"cannot write {path!r}: {write_failure(error, os.path.dirname(path))}; what the run saved "
            f"before is kept"
        ) from error


def write_failure(error, folder):
    """Why a write into ``folder`` failed, in one line; a full disk in the same words whoever reports it
    (``wavenet_j.atomic.ran_out_of_space`` decides)."""
    if ran_out_of_space(error, folder):
        return "no space left on device"
    text = error.message if isinstance(error, _tensorflow_errors()) else error.strerror or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _tensorflow_errors():
    """TensorFlow's error type where TensorFlow runs in this process (no other backend raises it)."""
    tf = sys.modules.get("tensorflow")
    return (tf.errors.OpError,) if tf is not None and hasattr(tf, "errors") else ()
