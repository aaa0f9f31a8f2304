"""wavenet_j: Wave-U-Net and the J-Net study of randomly weighted U-Nets, in TensorFlow 2 / Keras 3."""
from wavenet_j.models import layers as _layers  # noqa: F401 (registers the custom layers for keras.saving.load_model)

__version__ = "0.1.0"
