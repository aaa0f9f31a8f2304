"""Event files without TensorFlow: what ``tf.summary`` writes, read back by TensorBoard on any backend,
written at flush, failed writes raised, cut back to a checkpoint's step."""

import errno
import glob
import io
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c

from wavenet_j.training.events import SummaryWriter, _crc32c, trim_events

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 8000


def clips():
    """Two stereo clips, a few samples outside [-1, 1] and on halves of a 16-bit step."""
    rng = np.random.default_rng(3)
    clip = rng.uniform(-1.2, 1.2, (3001, 2)).astype(np.float32)
    clip[:6, 0] = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 32766.5]) / 2**15
    return clip, clip[::-1] * 0.5


def log_with_summary_writer(log_dir):
    with SummaryWriter(log_dir) as writer:
        for step, loss in enumerate([0.75, np.float64(0.5), np.float32(0.25)], start=1):
            writer.scalar("train/loss", loss, step)
            writer.scalar("train/stage", 1 + step // 3, step)
        for step, clip in zip((2, 3), clips()):
            writer.audio("validation/vocals_estimate", clip, RATE, step)


def log_with_tf_summary(log_dir):
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for step, loss in enumerate([0.75, np.float64(0.5), np.float32(0.25)], start=1):
            tf.summary.scalar("train/loss", loss, step=step)
            tf.summary.scalar("train/stage", 1 + step // 3, step=step)
        for step, clip in zip((2, 3), clips()):
            tf.summary.audio("validation/vocals_estimate", clip[None], RATE, step=step, max_outputs=1)
    writer.close()


def tensors(log_dir):
    """``{tag: (plugin name, plugin content, [(step, dtype, value), ...])}``, read by EventAccumulator."""
    events = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    events.Reload()
    read = {}
    for tag in events.Tags()["tensors"]:
        plugin = events.SummaryMetadata(tag).plugin_data
        values = [
            (e.step, e.tensor_proto.dtype, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)
        ]
        read[tag] = plugin.plugin_name, plugin.content, values
    return read


def events_of(log_dir):
    """The events of a log folder's one event file, read by TensorFlow's reader (which checks every CRC)."""
    (path,) = glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))
    return [event_pb2.Event.FromString(record.numpy()) for record in tf.data.TFRecordDataset(path)]


def test_summary_writer_writes_what_tf_summary_writes(tmp_path):
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "tf")
    log_with_summary_writer(ours)
    log_with_tf_summary(theirs)
    (path,) = os.listdir(ours)
    assert re.fullmatch(
        rf"events\.out\.tfevents\.\d{{10}}\.{re.escape(socket.gethostname())}\.\d+\.\d+\.v2", path
    )
    read, expected = tensors(ours), tensors(theirs)
    assert sorted(read) == sorted(expected) == ["train/loss", "train/stage", "validation/vocals_estimate"]
    for tag, (plugin, content, values) in expected.items():
        assert read[tag][:2] == (plugin, content)
        assert [(step, dtype, value.shape) for step, dtype, value in read[tag][2]] == [
            (step, dtype, value.shape) for step, dtype, value in values
        ]
        for (_, _, value), (_, _, reference) in zip(read[tag][2], values):
            np.testing.assert_array_equal(value, reference)  # the WAV files too, byte for byte
    assert expected["train/loss"][0] == "scalars" and expected["validation/vocals_estimate"][0] == "audio"
    for (_, _, value), clip in zip(read["validation/vocals_estimate"][2], clips()):
        assert value.shape == (1, 2) and value[0, 1] == b""
        samples, rate = soundfile.read(io.BytesIO(value[0, 0]), dtype="float32")
        assert rate == RATE
        np.testing.assert_allclose(samples, np.clip(clip, -1, 1), atol=2**-15)
    # every field but the writer's name and the wall times is what TensorFlow wrote
    ours_events, tf_events = events_of(ours), events_of(theirs)
    assert ours_events[0].file_version == tf_events[0].file_version == "brain.Event:2"
    for event in ours_events + tf_events:
        event.wall_time = 0
    assert [e.SerializeToString() for e in ours_events[1:]] == [e.SerializeToString() for e in tf_events[1:]]


def test_crc32c_of_whole_lanes_and_the_bytes_after_them():
    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert _crc32c(b"123456789") == 0xE3069283
    for length in (0, 1, 1023, 1024, 1025, 2048, 5000):
        assert _crc32c(data[:length]) == crc32c(data[:length])


def test_events_reach_the_file_at_flush(tmp_path):
    writer = SummaryWriter(str(tmp_path / "logs"))
    writer.scalar("train/loss", 1.0, 1)
    writer.flush()
    writer.scalar("train/loss", 2.0, 2)
    assert [e.step for e in events_of(str(tmp_path / "logs"))] == [0, 1]  # a kill now loses step 2 only
    writer.close()
    writer.close()
    assert [e.step for e in events_of(str(tmp_path / "logs"))] == [0, 1, 2]
    with pytest.raises(ValueError, match="closed"):
        writer.scalar("train/loss", 3.0, 3)
    with SummaryWriter(str(tmp_path / "often"), flush_secs=0) as writer:
        writer.scalar("train/loss", 1.0, 1)
        assert [e.step for e in events_of(str(tmp_path / "often"))] == [0, 1]


def test_a_write_into_a_removed_folder_raises(tmp_path):
    writer = SummaryWriter(str(tmp_path / "logs"))
    writer.scalar("train/loss", 1.0, 1)
    shutil.rmtree(tmp_path / "logs")
    with pytest.raises(FileNotFoundError):
        writer.flush()
    with pytest.raises(FileNotFoundError):
        writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.scalar("train/loss", 2.0, 2)


def test_a_full_disk_raises_in_the_flush_and_a_later_flush_writes_the_rest(small_disk):
    disk = small_disk(64)
    writer = SummaryWriter(str(disk / "logs"))
    writer.scalar("train/loss", 1.0, 1)
    writer.flush()
    (disk / "filler").write_bytes(bytes(40_000))
    writer.audio("validation/mix", np.zeros((10_000, 2), np.float32), RATE, 1)  # 40 kB
    with pytest.raises(OSError) as raised:
        writer.flush()
    assert raised.value.errno == errno.ENOSPC
    (disk / "filler").unlink()
    writer.close()
    assert [e.step for e in events_of(str(disk / "logs"))] == [0, 1, 1]


def append_a_truncated_record(log_dir):
    """What a kill -9 amid a write leaves at the end of an event file: part of a record."""
    other = os.path.join(os.path.dirname(log_dir), "other")
    with SummaryWriter(other) as writer:
        writer.scalar("loss", 99.0, 99)
    with open(glob.glob(os.path.join(other, "events.out.tfevents.*"))[0], "rb") as source:
        data = source.read()
    (first,) = struct.unpack("<Q", data[:8])  # the file version's record, then the scalar's
    with open(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))[0], "ab") as events:
        events.write(data[first + 16 : -3])
    shutil.rmtree(other)


def test_trimmed_summary_writer_files_keep_the_steps_up_to_the_checkpoint(tmp_path):
    log_dir = str(tmp_path / "logs")
    with SummaryWriter(log_dir) as writer:
        for step in range(1, 6):
            writer.scalar("loss", 1.0 / step, step)
            writer.audio("estimate", np.full((2000, 1), step / 10, np.float32), RATE, step)
    append_a_truncated_record(log_dir)
    with pytest.raises(tf.errors.DataLossError):
        events_of(log_dir)
    trim_events(log_dir, 5)  # no event after step 5: only the damaged record goes
    assert [e.step for e in events_of(log_dir)] == [0] + [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    (path,) = glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))
    untouched = os.stat(path).st_mtime_ns
    trim_events(log_dir, 5)
    assert os.stat(path).st_mtime_ns == untouched  # nothing to cut: the file stays as it is
    trim_events(log_dir, 3)
    assert [e.step for e in events_of(log_dir)] == [0, 1, 1, 2, 2, 3, 3]
    assert os.listdir(log_dir) == [os.path.basename(path)]  # no staging folder left
    read = tensors(log_dir)
    assert [step for step, _, _ in read["estimate"][2]] == [1, 2, 3]
    samples, _ = soundfile.read(io.BytesIO(read["estimate"][2][-1][2][0, 0]), dtype="float32")
    np.testing.assert_allclose(samples, 0.3, atol=2**-15)


WITHOUT_TENSORFLOW = """
import io
import json
import sys

sys.modules["tensorflow"] = None  # nothing TensorFlow may be imported
import numpy as np
import soundfile

from wavenet_j.training.events import SummaryWriter, trim_events

import keras
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

log_dir = sys.argv[1]
with SummaryWriter(log_dir) as writer:
    for step in (1, 2, 3):
        writer.scalar("train/loss", keras.ops.convert_to_tensor(1.0 / step), step)
        writer.audio("validation/mix", np.full((500, 2), step / 8, np.float32), 8000, step)
trim_events(log_dir, 2)
events = EventAccumulator(log_dir, size_guidance={"tensors": 0})
events.Reload()
read = {"backend": keras.backend.backend()}
for tag in events.Tags()["tensors"]:
    values = [make_ndarray(e.tensor_proto) for e in events.Tensors(tag)]
    read[tag] = {
        "plugin": events.SummaryMetadata(tag).plugin_data.plugin_name,
        "steps": [e.step for e in events.Tensors(tag)],
        "values": [
            value.item() if value.dtype != object else soundfile.read(io.BytesIO(value[0, 0]))[0].tolist()
            for value in values
        ],
    }
print(json.dumps(read))
"""


@pytest.mark.slow
def test_summaries_are_written_and_read_without_tensorflow(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, str(tmp_path / "logs")],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND="jax"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert read.pop("backend") == "jax"
    assert read["train/loss"] == {"plugin": "scalars", "steps": [1, 2], "values": [1.0, 0.5]}
    assert read["validation/mix"]["plugin"] == "audio" and read["validation/mix"]["steps"] == [1, 2]
    for step, samples in zip((1, 2), read["validation/mix"]["values"]):
        np.testing.assert_allclose(samples, np.full((500, 2), step / 8), atol=2**-15)
