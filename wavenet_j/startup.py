"""Starting TensorFlow without its native start-up chatter, for commands whose output is for people."""

import os


def import_tensorflow_quietly():
    """Import TensorFlow with stderr's file descriptor silenced: its native libraries log CUDA
    probes, CPU features and oneDNN notices there while they load, whatever TF_CPP_MIN_LOG_LEVEL
    says. Python errors still surface (after stderr is back)."""
    # 3 hides errors too, which reach Python as exceptions anyway.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices()
            tf.get_logger().setLevel("ERROR")
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def keep_xla_compilations():
    """Let XLA's compiled programs persist between processes (``TF_XLA_FLAGS``'
    ``--tf_xla_persistent_cache_directory``, unless already given): compiling U1 for the CPU takes
    about 3 s, which a second ``wavenet-j separate`` then skips. The folder is
    ``$WAVENET_J_CACHE/xla``, by default ``~/.cache/wavenet_j/xla``. Call before TensorFlow compiles."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if "tf_xla_persistent_cache_directory" in flags:
        return
    root = os.environ.get("WAVENET_J_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wavenet_j"
    )
    folder = os.path.join(root, "xla")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:  # nowhere to keep them: each run compiles again
        return
    os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={folder}".strip()
