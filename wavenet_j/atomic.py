"""Write files so that a crash or kill never leaves something that looks complete but is not."""

import contextlib
import glob
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yield a path in a hidden staging folder beside ``path``; move it into place only on success.

    Works for a file or a folder (a SavedModel); a folder already at ``path`` is replaced.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    try:
        temporary = os.path.join(staging, os.path.basename(path))
        yield temporary
        if os.path.isdir(path) and not os.path.islink(path):
            os.replace(path, os.path.join(staging, "replaced"))
        os.replace(temporary, path)
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
