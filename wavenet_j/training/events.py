"""TensorBoard event files without TensorFlow: what ``tf.summary`` writes for scalars and audio, on every
Keras backend, and the same files cut back to a run's checkpoint, so that a resumed run logs each step once.

A killed run leaves events of the steps after its last checkpoint (and maybe half a record);
the resumed run trains those steps again and logs them anew.

An event file is a sequence of records: the data's length (uint64), the length's masked CRC-32C, the
data (a serialized ``Event``) and the data's masked CRC-32C, all little-endian.
"""

import errno
import functools
import glob
import io
import itertools
import os
import socket
import struct
import time

import numpy as np
import soundfile
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.audio import metadata as audio_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata

from wavenet_j.atomic import atomic_path, remove_partials

_SCALAR = scalar_metadata.create_summary_metadata(display_name=None, description=None)
_AUDIO = audio_metadata.create_summary_metadata(
    display_name=None, description=None, encoding=audio_metadata.Encoding.Value("WAV")
)
_WRITERS = itertools.count()  # numbers the event files of this process, as TensorFlow's writers do


class SummaryWriter:
    """Scalars and audio clips at training steps, in a new event file in ``log_dir``, as TensorFlow 2's
    ``tf.summary`` writes them (tensor summaries with the scalar and audio plugins' metadata).

    Events wait in memory and reach the file (the OS) at ``flush``, and at the first event ``flush_secs``
    after the last flush, so TensorBoard follows a running run: a killed process loses only the events
    after the last flush. Everything runs in the calling thread, so a failed write (a full disk, a removed
    folder) raises OSError in the call that wrote.
    """

    def __init__(self, log_dir, flush_secs=120.0):
        os.makedirs(log_dir, exist_ok=True)
        started = int(time.time())
        name = f"events.out.tfevents.{started:010d}.{socket.gethostname()}.{os.getpid()}.{next(_WRITERS)}.v2"
        self.path = os.path.join(log_dir, name)
        self.flush_secs = flush_secs
        self._file = open(self.path, "xb", buffering=0)
        self._pending = io.BytesIO()  # framed records not yet written
        self._write(
            event_pb2.Event(
                wall_time=started,
                file_version="brain.Event:2",
                source_metadata=event_pb2.SourceMetadata(writer="wavenet_j.training.events"),
            )
        )
        self.flush()

    def scalar(self, tag, value, step):
        """``value`` at ``step`` as a float32 scalar, as ``tf.summary.scalar`` logs it."""
        value = np.asarray(value, dtype="<f4")
        if value.shape != ():
            raise ValueError(f"scalar summary {tag!r} takes one value, not an array of shape {value.shape}")
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(), tensor_content=value.tobytes()
        )
        self._summary(tag, tensor, _SCALAR, step)

    def audio(self, tag, clip, rate, step):
        """``clip`` ([T, C] samples) at ``step`` as ``tf.summary.audio(tag, clip[None], rate, max_outputs=1)``
        logs it: a 16-bit WAV file, the samples clipped to [-1, 1] and scaled by 2^15 as
        ``tf.audio.encode_wav`` does, with an empty label."""
        clip = np.asarray(clip, dtype=np.float32)
        if clip.ndim != 2:
            raise ValueError(
                f"audio summary {tag!r} takes samples [T, C], not an array of shape {clip.shape}"
            )
        scaled = clip.astype(np.float64) * 2**15  # exact; then rounded half away from zero, as C's roundf
        samples = np.clip(np.trunc(scaled + np.copysign(0.5, scaled)), -(2**15), 2**15 - 1).astype(np.int16)
        wav = io.BytesIO()
        soundfile.write(wav, samples, int(rate), format="WAV", subtype="PCM_16")
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING, tensor_shape=_shape(1, 2), string_val=[wav.getvalue(), b""]
        )
        self._summary(tag, tensor, _AUDIO, step)

    def flush(self):
        """Write the waiting events to the file; OSError if that fails or the file was removed."""
        if os.fstat(self._file.fileno()).st_nlink == 0:
            raise FileNotFoundError(errno.ENOENT, "the event file was removed", self.path)
        pending = memoryview(self._pending.getvalue())
        self._pending = io.BytesIO()
        written = 0
        try:
            while written < len(pending):
                written += self._file.write(pending[written:])
        finally:
            self._pending.write(pending[written:])  # a failed write keeps what it did not write
        self._flushed = time.monotonic()

    def close(self):
        """Flush and close the file; closing again does nothing."""
        if self._file.closed:
            return
        try:
            self.flush()
        finally:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _summary(self, tag, tensor, metadata, step):
        value = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
        self._write(
            event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=[value]))
        )
        if time.monotonic() - self._flushed >= self.flush_secs:
            self.flush()

    def _write(self, event):
        if self._file.closed:
            raise ValueError(f"event file {self.path!r} is closed")
        data = event.SerializeToString()
        length = struct.pack("<Q", len(data))
        self._pending.write(b"".join((length, _masked_crc(length), data, _masked_crc(data))))


def _shape(*sizes):
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in sizes]
    )


def trim_events(log_dir, step):
    """Remove every event after ``step`` from the event files in ``log_dir`` (not in folders below
    it), and a damaged last record; a file is replaced whole, or left as it is."""
    for path in sorted(glob.glob(os.path.join(glob.escape(log_dir), "events.out.tfevents.*"))):
        remove_partials(path)
        with open(path, "rb") as source:
            records = list(_records(source))
            kept = [(start, size) for start, size, at in records if at <= step]
            whole = sum(size for _, size, _ in records)
            if len(kept) == len(records) and whole == os.fstat(source.fileno()).st_size:
                continue
            with atomic_path(path) as temporary, open(temporary, "wb") as target:
                for start, size in kept:
                    source.seek(start)
                    target.write(source.read(size))


def _records(source):
    """``(start, size, step)`` of each record of an open event file, up to a truncated or damaged one."""
    start = 0
    while True:
        header = source.read(12)
        if len(header) < 12 or header[8:] != _masked_crc(header[:8]):
            return
        (length,) = struct.unpack("<Q", header[:8])
        data = source.read(length + 4)
        if len(data) < length + 4 or data[length:] != _masked_crc(data[:length]):
            return
        yield start, length + 16, event_pb2.Event.FromString(data[:length]).step
        start += length + 16


def _masked_crc(data):
    """The masked CRC-32C of ``data`` that frames a TFRecord, as 4 little-endian bytes."""
    crc = _crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


# CRC-32C, computed _LANE bytes at a time in NumPy: data a few times _LANE long (an audio clip) checks in
# about 10 ms per MiB, 30 times faster than byte by byte in Python.
_CASTAGNOLI = 0x82F63B78  # the CRC-32C polynomial, bits reversed
_LANE = 1024


@functools.cache
def _crc_tables():
    """The byte table of CRC-32C (an array and a list), and the four tables of its register after _LANE
    zero bytes: that is linear in the register, so each of the register's bytes adds its own part."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_CASTAGNOLI), table >> 1)
    registers = np.arange(256, dtype=np.uint32) << (8 * np.arange(4, dtype=np.uint32)[:, None])
    shifted = _crc_rows(table, registers.ravel(), np.zeros((registers.size, _LANE), np.uint8))
    return table, table.tolist(), shifted.reshape(4, 256).tolist()


def _crc_rows(table, registers, rows):
    """CRC registers, each after the bytes of its row of ``rows``."""
    for column in rows.T:
        registers = table[(registers ^ column) & 0xFF] ^ (registers >> 8)
    return registers


def _crc32c(data):
    """CRC-32C of ``data``: its whole lanes each from a zero register side by side, then joined in order
    (the register so far shifted over a lane of zeros, plus the lane's), then the last bytes one by one."""
    table, byte_table, (shift0, shift1, shift2, shift3) = _crc_tables()
    data = np.frombuffer(data, np.uint8)
    lanes = len(data) // _LANE
    crc = 0xFFFFFFFF
    if lanes:
        rows = data[: lanes * _LANE].reshape(lanes, _LANE)
        for lane in _crc_rows(table, np.zeros(lanes, np.uint32), rows).tolist():
            crc = (
                shift0[crc & 0xFF]
                ^ shift1[crc >> 8 & 0xFF]
                ^ shift2[crc >> 16 & 0xFF]
                ^ shift3[crc >> 24]
                ^ lane
            )
    for byte in data[lanes * _LANE :].tolist():
        crc = byte_table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
