"""One way to get a separator from wherever it lives: a released model's name, a ``.keras`` file or an
original TF1 checkpoint."""

import os
import zipfile
from collections.abc import Callable

import keras

from wavenet_j.configs import ConfigError, ModelConfig
from wavenet_j.interop.original import import_original_checkpoint
from wavenet_j.interop.pretrained import RELEASED, released_model
from wavenet_j.models import build_separator


def load_separator(
    path: str | os.PathLike,
    config: ModelConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> keras.Model:
    """The separator at ``path``: a released model's name (``M4``, ``M5-HighSR``, ``M6``: downloaded on
    first use, ``progress(done, total)`` in bytes), a ``.keras`` file, or an original checkpoint prefix
    (which needs the ``ModelConfig`` it was trained with; a name or ``.keras`` file carries its own).
    Its config is ``model.model_config``."""
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
        return model
    if config is None:
        raise ConfigError(
            f"{path!r} is neither a released model ({', '.join(RELEASED)}) nor a .keras file; an original "
            f"checkpoint needs its config (e.g. --config M5)"
        )
    return import_original_checkpoint(build_separator(config), path)
