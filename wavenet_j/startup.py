"""Starting TensorFlow without its native start-up chatter, for commands whose output is for people."""

import os


def import_tensorflow_quietly():
    """Import TensorFlow with stderr's file descriptor silenced: its native libraries log CUDA
    probes, CPU features and oneDNN notices there while they load, whatever TF_CPP_MIN_LOG_LEVEL
    says. Python errors still surface (after stderr is back)."""
    os.environ.setdefault(
        "TF_CPP_MIN_LOG_LEVEL", "3"
    )  # 3: errors too, which reach Python as exceptions anyway
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
