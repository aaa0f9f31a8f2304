"""The error of a run that cannot go on, and the failed writes that become one."""

import contextlib
import errno

import tensorflow as tf


class TrainingError(RuntimeError):
    """A run that cannot go on (a NaN loss, say); what was saved before it is kept."""


@contextlib.contextmanager
def writing(path):
    """Turn a failed write of ``path`` (a full disk, say) into a TrainingError naming it.

    Keras and Python raise OSError, TensorFlow's checkpoints and summaries an OpError
    (ResourceExhaustedError for a full disk) whose message names its own temporary file.
    """
    try:
        yield
    except (OSError, tf.errors.OpError) as error:
        raise TrainingError(
            f"cannot write {path!r}: {write_failure(error)}; what the run saved before is kept"
        ) from error


def write_failure(error):
    """Why a write failed, in one line; a full disk in the same words whoever reports it."""
    text = error.message if isinstance(error, tf.errors.OpError) else error.strerror or str(error)
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in text:
        return "no space left on device"
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
