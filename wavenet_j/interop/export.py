"""Models out of the project: a SavedModel that serves without wavenet_j, and TFLite (both TensorFlow's:
under another backend ``export_model`` says so in one line)."""

import os
import tempfile

import keras

from wavenet_j.atomic import atomic_path
from wavenet_j.backend import require_tensorflow
from wavenet_j.configs import ConfigError

FORMATS = ("savedmodel", "tflite")


def _archive(model, batch_windows):
    """Two endpoints: ``serve`` on a batch of windows, ``separate_track`` on a whole signal."""
    import tensorflow as tf

    from wavenet_j.separation.graph import separate_signal

    input_frames, channels = model.input_shape[1:]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve",
        lambda windows: model(windows, training=False),
        input_signature=[tf.TensorSpec([None, input_frames, channels], tf.float32, name="windows")],
    )
    archive.add_endpoint(
        "separate_track",
        lambda mix: separate_signal(model, mix, batch_windows),
        input_signature=[tf.TensorSpec([None, channels], tf.float32, name="mix")],
    )
    return archive


def export_model(model, path, export_format="savedmodel", batch_windows=8):
    """Write ``model`` to ``path`` atomically, as a SavedModel folder or a ``.tflite`` file.

    The SavedModel's ``separate_track`` takes ``[samples, channels]`` at the model's sample rate
    and channel count and returns ``{source: [samples, channels]}``, windowed and stitched as
    ``wavenet_j.separation.separate_signal`` does. TFLite holds the ``serve`` endpoint only.
    """
    require_tensorflow("exporting a SavedModel or TFLite file")
    if export_format not in FORMATS:
        raise ValueError(f"export format {export_format!r} is not one of {list(FORMATS)}")
    if export_format == "tflite" and (model.model_config or {}).get("network") == "unet_spectrogram":
        raise ConfigError(
            "the spectrogram U-Net cannot be exported to TFLite: its complex STFT ops are not TFLite "
            "builtins (they need the Flex delegate); export it as a SavedModel"
        )
    archive = _archive(model, batch_windows)
    with atomic_path(path) as temporary:
        if export_format == "savedmodel":
            archive.write_out(temporary, verbose=False)
            return path
        import tensorflow as tf

        with tempfile.TemporaryDirectory() as saved:
            archive.write_out(os.path.join(saved, "model"), verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(
                os.path.join(saved, "model"), signature_keys=["serve"]
            )
            flatbuffer = converter.convert()
        with open(temporary, "wb") as handle:
            handle.write(flatbuffer)
    return path
