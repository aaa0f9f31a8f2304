"""The one random initializer of the models, drawn with NumPy so that a seed gives the same weights
under every Keras backend (Keras's own initializers draw from each backend's generator: the same
seed gives other numbers under TensorFlow, JAX and PyTorch, and a J model's random encoder would
depend on the backend it was built on)."""

import math

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="wavenet_j")
class SeededGlorotUniform(keras.initializers.Initializer):
    """Glorot (Xavier) uniform, as TF1's ``get_variable`` default: U(-l, l), l = sqrt(6 / (fan_in + fan_out)),
    the fans counted as Keras counts them; ``seed`` is an integer."""

    def __init__(self, seed):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in + fan_out))
        values = np.random.default_rng(self.seed).uniform(-limit, limit, shape)
        return keras.ops.convert_to_tensor(values, dtype=dtype or "float32")

    def get_config(self):
        return {"seed": self.seed}


def _fans(shape):
    """``(fan_in, fan_out)`` of a kernel ``[..., in, out]`` (a vector counts its length for both)."""
    if len(shape) < 2:
        size = shape[0] if shape else 1
        return size, size
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive
