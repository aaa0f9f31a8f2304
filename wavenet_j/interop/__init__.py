"""Models in and out of the project: the original Wave-U-Net's TF1 checkpoints, configs and released
models, exports."""

from wavenet_j.interop.export import FORMATS, export_model
from wavenet_j.interop.load import load_separator
from wavenet_j.interop.original import (
    CheckpointMismatch,
    checkpoint_config,
    from_original_config,
    import_original_checkpoint,
    original_variable_names,
)
from wavenet_j.interop.pretrained import RELEASED, PretrainedError

__all__ = [
    "FORMATS",
    "RELEASED",
    "PretrainedError",
    "CheckpointMismatch",
    "checkpoint_config",
    "export_model",
    "from_original_config",
    "import_original_checkpoint",
    "load_separator",
    "original_variable_names",
]
