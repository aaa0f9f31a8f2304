"""Write files so that a crash or kill never leaves something that looks complete but is not."""

import contextlib
import errno
import glob
import os
import shutil
import tempfile

# A failed write with less than this free on its file system ran out of space, whatever the writer said:
# libsndfile says "System error", TensorFlow raises ResourceExhaustedError without a message.
_NEARLY_FULL = 1 << 20


class DiskFull(OSError):
    """A write that ran out of space; the message names the path."""

    def __init__(self, path):
        super().__init__(errno.ENOSPC, f"cannot write {path!r}: no space left on device", path)

    def __str__(self):
        return self.strerror


def _free_bytes(folder):
    stats = os.statvfs(folder)
    blocks = stats.f_bfree if os.geteuid() == 0 else stats.f_bavail  # root may use the reserved blocks
    return blocks * stats.f_frsize


def ran_out_of_space(error, folder):
    """Whether ``error``, raised while writing into ``folder``, means its file system is full: the
    error says so (errno 28, or the words of TensorFlow's messages), or too little is left free.
    Bad input (a ValueError) is never taken for a full disk."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    if "No space left on device" in (getattr(error, "message", None) or str(error)):
        return True
    if isinstance(error, ValueError):
        return False
    try:
        return _free_bytes(folder) < _NEARLY_FULL
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(path):
    """Yield a path in a hidden staging folder beside ``path``; move it into place only on success.

    Works for a file or a folder (a SavedModel); a folder already at ``path`` is replaced. A write
    that fails for want of space raises DiskFull naming ``path``, and leaves nothing behind.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise DiskFull(path) from error
        raise
    try:
        temporary = os.path.join(staging, os.path.basename(path))
        yield temporary
        if os.path.isdir(path) and not os.path.islink(path):
            os.replace(path, os.path.join(staging, "replaced"))
        os.replace(temporary, path)
    except Exception as error:
        if isinstance(error, DiskFull) or not ran_out_of_space(error, staging):
            raise
        raise DiskFull(path) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_partials(path):
    """Remove the staging folders a killed writer of ``path`` left beside it."""
    path = os.path.abspath(os.fspath(path))
    for staging in glob.glob(
        os.path.join(glob.escape(os.path.dirname(path)), f".{glob.escape(os.path.basename(path))}.partial-*")
    ):
        shutil.rmtree(staging, ignore_errors=True)


def write_text(path, text):
    """Write ``text`` to ``path`` (UTF-8) so a reader sees the old file or the whole new one."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
