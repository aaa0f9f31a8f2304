"""The few layers Wave-U-Net needs beyond Keras' own, each matching the original's numerics.

All act on ``[batch, time, channels]`` and are registered, so ``.keras`` files load without
``custom_objects``.
"""
import keras
from keras import ops

_register = keras.saving.register_keras_serializable(package="wavenet_j")


def _length(shape):
    return shape[1]


@_register
class Decimate(keras.layers.Layer):
    """``x[:, ::2, :]``: the original downsamples by dropping every second sample."""

    def call(self, x):
        return x[:, ::2, :]

    def compute_output_shape(self, input_shape):
        n = _length(input_shape)
        return (input_shape[0], None if n is None else (n + 1) // 2, input_shape[2])


def _interleave(x, mid, drop_last):
    """``x[0], mid[0], x[1], mid[1], ...``; ``drop_last`` removes the final ``mid``."""
    n, c = x.shape[1], x.shape[2]
    out = ops.reshape(ops.stack([x, mid], axis=2), (-1, 2 * n, c))
    return out[:, :-1, :] if drop_last else out


@_register
class LinearUpsample(keras.layers.Layer):
    """TF1 ``resize_bilinear`` on a time axis, which TF2's ``tf.image.resize`` does not reproduce.

    ``align_corners=False`` (the original without context): N -> 2N,
    ``out[2k] = x[k]``, ``out[2k+1] = x[k] + (x[min(k+1, N-1)] - x[k]) / 2``.
    ``align_corners=True`` (with context): N -> 2N-1, the same without the repeated last sample.
    The interpolation is written as TF1's kernel computes it, ``a + (b - a) * 0.5``.
    """

    def __init__(self, align_corners=False, **kwargs):
        super().__init__(**kwargs)
        self.align_corners = align_corners

    def call(self, x):
        following = ops.concatenate([x[:, 1:, :], x[:, -1:, :]], axis=1)
        return _interleave(x, x + (following - x) * 0.5, drop_last=self.align_corners)

    def compute_output_shape(self, input_shape):
        n = _length(input_shape)
        return (input_shape[0], None if n is None else 2 * n - int(self.align_corners), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "align_corners": self.align_corners}


@_register
class LearnedUpsample(keras.layers.Layer):
    """The original's learned interpolation (its M5): a per-channel weight ``w`` mixes neighbours.

    ``m[k] = s * x[k] + (1 - s) * x[k+1]`` with ``s = sigmoid(w)``, interleaved with ``x``.
    "same" padding treats ``x[N]`` as 0 (N -> 2N); "valid" has no such sample (N -> 2N-1).
    ``w`` starts glorot-uniform, as TF1's ``get_variable`` default did.
    """

    def __init__(self, padding="same", seed=None, **kwargs):
        super().__init__(**kwargs)
        if padding not in ("same", "valid"):
            raise ValueError(f"LearnedUpsample padding must be 'same' or 'valid', got {padding!r}")
        self.padding = padding
        self.seed = seed

    def build(self, input_shape):
        self.interp = self.add_weight(
            name="interp", shape=(input_shape[-1],),
            initializer=keras.initializers.GlorotUniform(seed=self.seed))

    def call(self, x):
        following = ops.concatenate([x[:, 1:, :], ops.zeros_like(x[:, :1, :])], axis=1)
        weight = ops.sigmoid(self.interp)
        mid = weight * x + (1.0 - weight) * following
        return _interleave(x, mid, drop_last=self.padding == "valid")

    def compute_output_shape(self, input_shape):
        n = _length(input_shape)
        return (input_shape[0], None if n is None else 2 * n - int(self.padding == "valid"), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "seed": self.seed}


def center_crop(x, length):
    """The middle ``length`` samples; an odd surplus is cut one more at the end, as the original."""
    diff = x.shape[1] - length
    if diff < 0:
        raise ValueError(f"cannot crop {x.shape[1]} samples to {length}: the tensor is too short")
    start = diff // 2
    return x if diff == 0 else x[:, start:start + length, :]


@_register
class CenterCrop(keras.layers.Layer):
    """``[x, reference]`` -> ``x`` centre-cropped to the reference's length (context models)."""

    def call(self, inputs):
        x, reference = inputs
        return center_crop(x, reference.shape[1])

    def compute_output_shape(self, input_shapes):
        x, reference = input_shapes
        return (x[0], reference[1], x[2])


def clip_at_inference(x, training):
    """The original's ``AudioClip``: outputs are clipped to [-1, 1] only outside training."""
    return x if training else ops.clip(x, -1.0, 1.0)


@_register
class AudioClip(keras.layers.Layer):
    """Linear output activation: identity while training, clipped to [-1, 1] at inference."""

    def call(self, x, training=None):
        return clip_at_inference(x, training)


@_register
class DifferenceOutput(keras.layers.Layer):
    """``[mix, *other_sources]`` -> the last source, ``crop(mix) - sum(others)``.

    Clipped to [-1, 1] at inference only, so in training the sources sum to the mix exactly.
    """

    def call(self, inputs, training=None):
        mix, *others = inputs
        rest = center_crop(mix, others[0].shape[1])
        for other in others:
            rest = rest - other
        return clip_at_inference(rest, training)

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]
