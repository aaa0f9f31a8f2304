"""TensorBoard event files cut back to a run's checkpoint, so that a resumed run logs each step once.

A killed run leaves events of the steps after its last checkpoint (and maybe half a record);
the resumed run trains those steps again and logs them anew.
"""

import glob
import os

import tensorflow as tf
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

from wavenet_j.atomic import atomic_path, remove_partials

_FRAMING = 16  # bytes around each TFRecord's data: its length, the length's CRC and the data's CRC


def trim_events(log_dir, step):
    """Remove every event after ``step`` from the event files in ``log_dir`` (not in folders below
    it), and a damaged last record; a file is replaced whole, or left as it is."""
    for path in sorted(glob.glob(os.path.join(glob.escape(log_dir), "events.out.tfevents.*"))):
        remove_partials(path)
        if _holds_more(path, step):
            with atomic_path(path) as temporary, tf.io.TFRecordWriter(temporary) as writer:
                for record in _records(path):
                    if _step(record) <= step:
                        writer.write(record)


def _records(path):
    """The raw records of an event file, up to a truncated or damaged one."""
    return RawEventFileLoader(path).Load()


def _step(record):
    return tf.compat.v1.Event.FromString(record).step


def _holds_more(path, step):
    """Whether the file holds an event after ``step``, or bytes after its last whole record."""
    whole = 0
    for record in _records(path):
        if _step(record) > step:
            return True
        whole += len(record) + _FRAMING
    return whole < os.path.getsize(path)
