"""One way to get a separator from wherever it lives: a released model's name, a ``.keras`` file or an
original TF1 checkpoint."""

import os
import zipfile

import keras

from wavenet_j.configs import ConfigError
from wavenet_j.interop.original import import_original_checkpoint
from wavenet_j.interop.pretrained import RELEASED, released_model
from wavenet_j.models import build_separator


def load_separator(path, model_config=None, progress=None):
    """``(model, model_config)`` from a released model's name (``M4``, ``M5-HighSR``, ``M6``: downloaded
    on first use, ``progress(done, total)`` in bytes), a ``.keras`` file, or an original checkpoint
    prefix (which needs the ``model_config`` it was trained with; a name or ``.keras`` file carries its
    own)."""
    path = os.fspath(path)
    if path in RELEASED:
        path = released_model(path, progress)
    if path.endswith(".keras"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no model at {path!r}")
        if not zipfile.is_zipfile(path):  # Keras reports any other file as "File not found"
            raise ConfigError(f"{path!r} is not a Keras model file (a .keras file is a zip archive)")
        model = keras.saving.load_model(path)
        if getattr(model, "model_config", None) is None:
            raise ConfigError(f"{path!r} is not a wavenet_j separator: it carries no model_config")
        return model, model.model_config
    if model_config is None:
        raise ConfigError(
            f"{path!r} is neither a released model ({', '.join(RELEASED)}) nor a .keras file; an original "
            f"checkpoint needs its config (e.g. --config M5)"
        )
    return import_original_checkpoint(build_separator(model_config), path, model_config), model_config
