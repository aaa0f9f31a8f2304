"""Wave-U-Net and its J-Net variants as Keras 3 models."""

from wavenet_j.models.separator import (
    GROUPS,
    Separator,
    build_separator,
    layer_group,
    multi_stage,
    rebuild,
    stage_estimates,
)
from wavenet_j.models.shapes import get_padding

__all__ = [
    "GROUPS",
    "Separator",
    "build_separator",
    "get_padding",
    "layer_group",
    "multi_stage",
    "rebuild",
    "stage_estimates",
]
