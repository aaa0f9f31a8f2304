"""Models in and out of the project: the original Wave-U-Net's TF1 checkpoints and configs, exports."""

from wavenet_j.interop.export import FORMATS, export_model
from wavenet_j.interop.load import load_separator
from wavenet_j.interop.original import (
    CheckpointMismatch,
    from_original_config,
    import_original_checkpoint,
    original_variable_names,
)

__all__ = [
    "FORMATS",
    "CheckpointMismatch",
    "export_model",
    "from_original_config",
    "import_original_checkpoint",
    "load_separator",
    "original_variable_names",
]
