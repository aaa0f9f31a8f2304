"""The few layers Wave-U-Net needs beyond Keras' own, each matching the original's numerics.

All act on ``[batch, time, channels]`` and are registered, so ``.keras`` files load without
``custom_objects``. Lengths may be unknown (``None``) except where a layer says it needs them.
"""

import keras
import numpy as np
from keras import ops

from wavenet_j.models.initializers import SeededGlorotUniform

_register = keras.saving.register_keras_serializable(package="wavenet_j")


def _length(shape):
    return shape[1]


@_register
class Decimate(keras.layers.Layer):
    """``x[:, ::2, :]``: the original downsamples by dropping every second sample.

    Input shape: ``(batch, steps, channels)``.
    Output shape: ``(batch, ceil(steps / 2), channels)``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def call(self, x):
        return x[:, ::2, :]

    def compute_output_shape(self, input_shape):
        n = _length(input_shape)
        return (input_shape[0], None if n is None else (n + 1) // 2, input_shape[2])


def _interleave(x, mid, drop_last):
    """``x[0], mid[0], x[1], mid[1], ...``; ``drop_last`` removes the final ``mid``."""
    n = x.shape[1]  # static where known, so the layers after see the length
    shape = (-1, 2 * n, x.shape[2]) if n is not None else (ops.shape(x)[0], -1, x.shape[2])
    out = ops.reshape(ops.stack([x, mid], axis=2), shape)
    return out[:, :-1, :] if drop_last else out


@_register
class LinearUpsample(keras.layers.Layer):
    """TF1 ``resize_bilinear`` on a time axis, which TF2's ``tf.image.resize`` does not reproduce.

    ``align_corners=False`` (the original without context): N -> 2N,
    ``out[2k] = x[k]``, ``out[2k+1] = x[k] + (x[min(k+1, N-1)] - x[k]) / 2``.
    ``align_corners=True`` (with context): N -> 2N-1, the same without the repeated last sample.
    The interpolation is written as TF1's kernel computes it, ``a + (b - a) * 0.5``.

    Args:
        align_corners: as TF1's ``resize_bilinear``; False for models without context.

    Input shape: ``(batch, steps, channels)``.
    Output shape: ``(batch, 2 * steps - align_corners, channels)``.
    """

    def __init__(self, align_corners=False, **kwargs):
        super().__init__(**kwargs)
        self.align_corners = align_corners
        self.input_spec = keras.layers.InputSpec(ndim=3)

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

    Args:
        padding: "same" (models without context) or "valid" (context models).
        seed: of ``w``'s initializer.

    Input shape: ``(batch, steps, channels)``.
    Output shape: ``(batch, 2 * steps, channels)``, or ``2 * steps - 1`` with "valid".
    """

    def __init__(self, padding="same", seed=None, **kwargs):
        super().__init__(**kwargs)
        if padding not in ("same", "valid"):
            raise ValueError(f"LearnedUpsample padding must be 'same' or 'valid', got {padding!r}")
        self.padding = padding
        self.seed = seed
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        self.interp = self.add_weight(
            name="interp",
            shape=(input_shape[-1],),
            initializer=SeededGlorotUniform(self.seed),
        )

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


def _polyphase_taps(width, pad):
    """``(taps [2, D, width], first)``: output ``2m + phase`` of a width-``width`` conv (``pad`` zeros on
    the left) over ``x`` linearly upsampled equals
    ``sum_d sum_j taps[phase, d, j] kernel[j] x[m + first + d]``.

    Tap ``j`` reads upsampled sample ``t = 2m + phase + j - pad``: ``x[t/2]`` if ``t`` is even,
    ``(x[q] + x[q+1]) / 2`` with ``q = (t-1)/2`` if it is odd.
    """
    shares = []
    for phase in range(2):
        for j in range(width):
            t = phase + j - pad
            shares += (
                [(phase, t // 2, j, 1.0)]
                if t % 2 == 0
                else [(phase, t // 2, j, 0.5), (phase, t // 2 + 1, j, 0.5)]
            )
    first = min(d for _, d, _, _ in shares)
    taps = np.zeros((2, max(d for _, d, _, _ in shares) - first + 1, width), np.float32)
    for phase, d, j, share in shares:
        taps[phase, d - first, j] += share
    return taps, first


def _edge_taps(width, pad, rows_from_end):
    """``[R, 2, width]`` coefficients of ``kernel[j]`` on one edge sample of ``x`` for the first (or,
    ``rows_from_end``, the last) ``R`` output pairs, where "same" padding breaks the upsampling rule.

    The upsampled sample before the start should be a padding zero, not ``x[0] / 2``: ``-1/2`` of
    ``x[0]`` at the outputs whose taps reach it. TF1's upsampling repeats the last sample, ``x[N-1]``
    where the rule gives ``x[N-1] / 2``: ``+1/2`` of ``x[N-1]`` at the last outputs.
    """
    reach = pad if not rows_from_end else width - pad  # outputs whose taps reach the broken sample
    rows = (reach + 1) // 2
    taps = np.zeros((rows, 2, width), np.float32)
    for k in range(reach):
        if rows_from_end:  # output n = 2N-1-k reads t = 2N-1 with tap j = pad + k
            taps[rows - 1 - k // 2, 1 - k % 2, pad + k] += 0.5
        else:  # output n = k reads t = -1 with tap j = pad - 1 - k
            taps[k // 2, k % 2, pad - 1 - k] -= 0.5
    return taps


@_register
class UpsampleConv(keras.layers.Layer):
    """A decoder level as one layer: ``LeakyReLU(conv(concat([crop(skip), LinearUpsample(x)])))``.

    It holds the conv's weights (``kernel [width, skip + x channels, filters]``, ``bias``) and gives
    the same numbers, within float rounding, as the three layers it stands for, computed polyphase:
    the even and the odd outputs are each a convolution of ``x`` at its own rate, with kernels derived
    from the upsampled channels' part of ``kernel``. One conv with ``2 * filters`` outputs over ``N``
    positions (4 taps for a width of 5) replaces a width-5 conv over ``2N``, and neither the
    upsampled nor the concatenated map is made.

    Args:
        filters: output channels.
        kernel_size: the merge conv's width.
        padding: "same" upsamples N -> 2N (TF1's ``align_corners=False``) and keeps that length;
            "valid" upsamples N -> 2N-1 (context models) and convolves without padding.
        kernel_initializer: of ``kernel``; ``bias`` starts at zero.

    Input shape: ``[skip, x]`` or ``[x]``: ``x`` is ``(batch, steps, channels)``, ``skip`` is
        ``(batch, skip_steps, skip_channels)``, centre-cropped to the upsampled length. Lengths
        must be known when the layer is built.
    Output shape: ``(batch, 2 * steps, filters)``, or ``(batch, 2 * steps - kernel_size, filters)``
        with "valid".
    """

    def __init__(self, filters, kernel_size, padding="same", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if padding not in ("same", "valid"):
            raise ValueError(f"UpsampleConv padding must be 'same' or 'valid', got {padding!r}")
        self.filters, self.kernel_size, self.padding = filters, kernel_size, padding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        pad = (kernel_size - 1) // 2 if padding == "same" else 0
        self._taps, self._first = _polyphase_taps(kernel_size, pad)
        self._edges = (
            [_edge_taps(kernel_size, pad, end) for end in (False, True)] if padding == "same" else None
        )

    def build(self, input_shapes):
        self.input_spec = [keras.layers.InputSpec(ndim=3) for _ in input_shapes]
        channels = sum(shape[-1] for shape in input_shapes)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def _lengths(self, n):
        """``(upsampled, output)`` lengths for ``n`` input samples."""
        upsampled = 2 * n - int(self.padding == "valid")
        return upsampled, upsampled if self.padding == "same" else upsampled - self.kernel_size + 1

    def call(self, inputs):
        *skip, x = inputs
        n, channels = x.shape[1], x.shape[2]
        upsampled, length = self._lengths(n)
        rows = (length + 1) // 2  # output pairs: [out[2m], out[2m+1]] side by side on channels
        upsampled_kernel = self.kernel[:, self.kernel.shape[1] - channels :, :]
        derived = ops.reshape(
            ops.einsum("pdj,jcf->dcpf", ops.cast(self._taps, x.dtype), upsampled_kernel),
            (len(self._taps[0]), channels, 2 * self.filters),
        )
        first, last = self._first, self._first + len(self._taps[0]) - 1
        padded = ops.pad(x, [(0, 0), (max(-first, 0), max(rows - 1 + last - (n - 1), 0)), (0, 0)])
        pairs = ops.conv(padded[:, max(first, 0) :, :], derived)
        if self._edges is not None:
            pairs = pairs + self._edge_correction(x, upsampled_kernel, rows)
        y = ops.reshape(pairs, (-1, 2 * rows, self.filters))
        y = y[:, :length, :] if length < 2 * rows else y
        if skip:
            skip = center_crop(skip[0], upsampled)
            y = y + ops.conv(skip, self.kernel[:, : skip.shape[2], :], padding=self.padding)
        return ops.leaky_relu(y + self.bias, 0.2)

    def _edge_correction(self, x, kernel, rows):
        """What "same" padding and the repeated last sample change in the first and last output pairs."""
        parts = []
        for taps, sample in zip(self._edges, (x[:, 0, :], x[:, -1, :])):
            weights = ops.reshape(
                ops.einsum("rpj,jcf->rcpf", ops.cast(taps, x.dtype), kernel),
                (len(taps), x.shape[2], 2 * self.filters),
            )
            parts.append(ops.einsum("bc,rcg->brg", sample, weights))
        (left, right), (before, after) = parts, (len(taps) for taps in self._edges)
        if rows >= before + after:
            middle = ops.zeros((ops.shape(x)[0], rows - before - after, 2 * self.filters), left.dtype)
            return ops.concatenate([left, middle, right], axis=1)
        left, right = left[:, :rows], right[:, max(after - rows, 0) :]  # outputs shorter than an edge's reach
        return ops.pad(left, [(0, 0), (0, rows - min(before, rows)), (0, 0)]) + ops.pad(
            right, [(0, 0), (rows - min(after, rows), 0), (0, 0)]
        )

    def compute_output_shape(self, input_shapes):
        n = input_shapes[-1][1]
        return (input_shapes[-1][0], None if n is None else self._lengths(n)[1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "padding": self.padding,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def center_crop(x, length):
    """The middle ``length`` samples; an odd surplus is cut one more at the end, as the original."""
    diff = x.shape[1] - length
    if diff < 0:
        raise ValueError(f"cannot crop {x.shape[1]} samples to {length}: the tensor is too short")
    start = diff // 2
    return x if diff == 0 else x[:, start : start + length, :]


@_register
class CenterCrop(keras.layers.Layer):
    """``[x, reference]`` -> ``x`` centre-cropped to the reference's length (context models).

    Input shape: ``[(batch, steps, channels), (batch, reference_steps, any)]``, lengths known.
    Output shape: ``(batch, reference_steps, channels)``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = [keras.layers.InputSpec(ndim=3), keras.layers.InputSpec(ndim=3)]

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
    """Linear output activation: identity while training, clipped to [-1, 1] at inference.

    Input shape: any. Output shape: the input's.
    """

    def call(self, x, training=None):
        return clip_at_inference(x, training)

    def compute_output_shape(self, input_shape):
        return input_shape


@_register
class DifferenceOutput(keras.layers.Layer):
    """``[mix, *other_sources]`` -> the last source, ``crop(mix) - sum(others)``.

    Clipped to [-1, 1] at inference only, so in training the sources sum to the mix exactly.

    Input shape: ``[(batch, mix_steps, channels), (batch, steps, channels), ...]``, lengths known.
    Output shape: ``(batch, steps, channels)``.
    """

    def call(self, inputs, training=None):
        mix, *others = inputs
        rest = center_crop(mix, others[0].shape[1])
        for other in others:
            rest = rest - other
        return clip_at_inference(rest, training)

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]
