"""Starting the Keras backend for commands whose output is for people: TensorFlow without its native
start-up chatter, and compiled programs kept between processes."""

import os


def start_backend(verbose=False, xla=False):
    """Start the backend ``KERAS_BACKEND`` names (TensorFlow by default); ``verbose`` keeps TensorFlow's
    native messages, ``xla`` keeps its XLA programs (``keep_xla_compilations``). JAX always keeps its
    compilations (``keep_jax_compilations``)."""
    from wavenet_j.backend import requested

    if requested() == "jax":
        keep_jax_compilations()
    if requested() != "tensorflow":
        return
    if xla:
        keep_xla_compilations()
    if not verbose:
        import_tensorflow_quietly()


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
    """Let TensorFlow's XLA programs persist between processes (``TF_XLA_FLAGS``'
    ``--tf_xla_persistent_cache_directory``, unless already given): compiling U1 for the CPU takes
    about 3 s, which a second ``wavenet-j separate`` then skips. The folder is
    ``$WAVENET_J_CACHE/xla``, by default ``~/.cache/wavenet_j/xla``. Call before TensorFlow compiles."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    folder = "tf_xla_persistent_cache_directory" not in flags and _cache_folder("xla")
    if folder:
        os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={folder}".strip()


def keep_jax_compilations():
    """Let JAX's compiled programs persist between processes (``JAX_COMPILATION_CACHE_DIR``, unless
    already set), each however short its compilation: building U1 compiles one program per weight
    shape for its initializers, seconds that a second command then skips. The folder is
    ``$WAVENET_J_CACHE/jax``. Call before JAX is imported."""
    folder = "JAX_COMPILATION_CACHE_DIR" not in os.environ and _cache_folder("jax")
    if folder:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


def cache_root():
    """The project's cache: ``$WAVENET_J_CACHE``, else ``$XDG_CACHE_HOME/wavenet_j``, else
    ``~/.cache/wavenet_j`` (compilations, the released models)."""
    return os.environ.get("WAVENET_J_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wavenet_j"
    )


def _cache_folder(name):
    """``<cache_root()>/<name>``, made; None where it cannot be: each run compiles again."""
    folder = os.path.join(cache_root(), name)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return folder
