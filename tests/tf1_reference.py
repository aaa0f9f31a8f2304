"""The original Wave-U-Net's forward graph in TF1 ops, written from its ``UnetAudioSeparator``, and
its spectrogram U-Net's, written from its ``UnetSpectrogramSeparator``.

The project's reference for checkpoint import: variables are created with the original's
names in the original's order (``tf.layers.conv1d``, ``conv2d``, ``conv2d_transpose`` and
``tf.contrib.layers.batch_norm`` inside the scope ``separator``), the graph uses
``resize_bilinear`` and the width-2 diagonal conv2d of the learned interpolation as TF1 did, and
``tf.signal``'s STFT with complex numbers and angles as ``tf.contrib.signal`` did; the checkpoint is
written by ``tf.compat.v1.train.Saver`` with Adam slots and global_step beside the model
variables, as a training run leaves them.
"""

import collections
import functools

import numpy as np
import tensorflow as tf

from wavenet_j.configs import complete_config
from wavenet_j.models import get_padding

v1 = tf.compat.v1


def _leaky_relu(x):
    return tf.maximum(0.2 * x, x)


class _Convs:
    """``tf.layers.conv1d`` variable naming: conv1d, conv1d_1, conv1d_2, ... in creation order."""

    def __init__(self):
        self.count = 0

    def __call__(self, x, filters, width, padding, activation=None):
        name = "conv1d" + (f"_{self.count}" if self.count else "")
        self.count += 1
        with v1.variable_scope(name):
            kernel = v1.get_variable(
                "kernel", [width, x.shape[-1], filters], initializer=v1.glorot_uniform_initializer()
            )
            # Non-zero biases, so that a wrong bias mapping cannot pass unnoticed.
            bias = v1.get_variable("bias", [filters], initializer=v1.random_normal_initializer(stddev=0.05))
        y = tf.nn.conv1d(x, kernel, stride=1, padding=padding.upper()) + bias
        return activation(y) if activation else y


def _crop(x, length):
    start = (x.shape[1] - length) // 2
    return x[:, start : start + length, :]


def _learned_interpolation(x, padding, index):
    features, n = x.shape[-1], x.shape[1]
    weight = v1.get_variable(f"interp_{index}", [features], initializer=v1.random_normal_initializer())
    scaled = tf.sigmoid(weight)
    kernel = tf.stack([tf.linalg.diag(scaled), tf.linalg.diag(1.0 - scaled)])[None]  # [1, 2, F, F]
    mid = tf.nn.conv2d(x[:, None], kernel, strides=[1, 1, 1, 1], padding=padding.upper())[:, 0]
    outputs = 2 * n - 1 if padding == "valid" else 2 * n
    order = [k // 2 if k % 2 == 0 else n + k // 2 for k in range(outputs)]
    return tf.gather(tf.concat([x, mid], axis=1), order, axis=1)


def _clip(x, training):
    return x if training else tf.clip_by_value(x, -1.0, 1.0)


def original_separator(mix, config, training=False):
    """The original's ``get_output``: ``{source: tensor}`` for a ``[B, T, C]`` mix placeholder."""
    padding = "valid" if config["context"] else "same"
    levels, filters = config["num_layers"], config["num_initial_filters"]
    conv = _Convs()
    with v1.variable_scope("separator"):
        x, skips = mix, []
        for level in range(levels):
            x = conv(
                x, filters * (level + 1), config["filter_size"], padding, _leaky_relu
            )  # the first one too
            skips.append(x)
            x = x[:, ::2, :]
        x = conv(x, filters * (levels + 1), config["filter_size"], padding, _leaky_relu)
        for i in range(levels):
            if config["upsampling"] == "learned":
                x = _learned_interpolation(x, padding, i)
            else:
                n = x.shape[1]
                size = [1, 2 * n - 1] if config["context"] else [1, 2 * n]
                x = v1.image.resize_bilinear(x[:, None], size, align_corners=config["context"])[:, 0]
            x = tf.concat([_crop(skips[-i - 1], x.shape[1]), x], axis=2)
            x = conv(x, filters * (levels - i), config["merge_filter_size"], padding, _leaky_relu)
        x = tf.concat([_crop(mix, x.shape[1]), x], axis=2)

        if config["output_activation"] == "tanh":
            activation = tf.tanh
        else:

            def activation(y):
                return _clip(y, training)

        sources, channels = config["source_names"], config["num_channels"]
        width = config["output_filter_size"]
        if config["output_type"] == "direct":
            return {s: conv(x, channels, width, padding, activation) for s in sources}
        outputs = {s: conv(x, channels, width, padding, activation) for s in sources[:-1]}
        rest = _crop(mix, x.shape[1]) - tf.add_n(list(outputs.values()))
        outputs[sources[-1]] = _clip(rest, training)
        return outputs


class _Scopes:
    """``tf.layers`` / ``tf.contrib.layers`` scope naming: ``conv2d``, ``conv2d_1``, ... counted per kind."""

    def __init__(self):
        self.created = collections.Counter()

    def __call__(self, kind):
        name = kind + (f"_{self.created[kind]}" if self.created[kind] else "")
        self.created[kind] += 1
        return v1.variable_scope(name)


def _batch_norm(x, scope, activation):
    """``tf.contrib.layers.batch_norm`` at inference: beta, moving statistics, epsilon 0.001, no scale."""
    with scope("BatchNorm"):
        features = [x.shape[-1]]
        beta = v1.get_variable("beta", features, initializer=v1.random_normal_initializer(stddev=0.1))
        # Not the initial 0 and 1, so that a wrong mapping of the statistics cannot pass unnoticed.
        mean = v1.get_variable(
            "moving_mean", features, trainable=False, initializer=v1.random_normal_initializer(stddev=0.1)
        )
        variance = v1.get_variable(
            "moving_variance", features, trainable=False, initializer=v1.random_uniform_initializer(0.5, 1.5)
        )
    return activation(tf.nn.batch_normalization(x, mean, variance, beta, None, 1e-3))


def _strided(x, scope, filters, transposed=False, activation=None):
    """``tf.layers.conv2d`` or ``conv2d_transpose``: 5x5, stride 2, "same"."""
    with scope("conv2d_transpose" if transposed else "conv2d"):
        shape = [5, 5, filters, x.shape[-1]] if transposed else [5, 5, x.shape[-1], filters]
        kernel = v1.get_variable("kernel", shape, initializer=v1.glorot_uniform_initializer())
        bias = v1.get_variable("bias", [filters], initializer=v1.random_normal_initializer(stddev=0.05))
    if transposed:
        size = tf.stack([tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], filters])
        y = tf.nn.conv2d_transpose(x, kernel, size, strides=[1, 2, 2, 1], padding="SAME")
    else:
        y = tf.nn.conv2d(x, kernel, strides=[1, 2, 2, 1], padding="SAME")
    y = y + bias
    return activation(y) if activation else y


def original_spectrogram_separator(mix, config):
    """The original's spectrogram U-Net at inference: ``{source: audio}`` for a ``[B, T, 1]`` mix
    placeholder."""
    window = functools.partial(tf.signal.hann_window, periodic=True)
    stfts = tf.signal.stft(tf.squeeze(mix, 2), 1024, 768, 1024, window_fn=window)
    magnitude, angle = tf.abs(stfts), tf.math.angle(stfts)
    features = tf.math.log1p(magnitude[..., None])[:, :, :-1, :]
    levels, filters = config["num_layers"], config["num_initial_filters"]
    scope = _Scopes()
    outputs = {}
    with v1.variable_scope("separator"):
        for source in config["source_names"]:
            x, skips = features, []
            for level in range(levels):
                x = _batch_norm(_strided(x, scope, filters * 2**level), scope, _leaky_relu)
                skips.append(x)
            for level in reversed(range(levels - 1)):
                x = _batch_norm(_strided(x, scope, filters * 2**level, transposed=True), scope, tf.nn.relu)
                x = tf.concat([skips[level], x], axis=3)  # dropout is off at inference
            mask = _strided(x, scope, 1, transposed=True, activation=tf.sigmoid)
            mask = tf.squeeze(tf.pad(mask, [(0, 0), (0, 0), (0, 1), (0, 0)], constant_values=0.5), 3)
            spectrum = tf.complex(magnitude * mask, 0.0) * tf.exp(tf.complex(0.0, angle))
            inverse_window = tf.signal.inverse_stft_window_fn(768, forward_window_fn=window)
            outputs[source] = tf.signal.inverse_stft(spectrum, 1024, 768, 1024, window_fn=inverse_window)[
                ..., None
            ]
    return outputs


def save_original_checkpoint(model_config, directory, mix, seed=0):
    """Build the original graph, save a checkpoint as training would, return (prefix, outputs on ``mix``)."""
    config = complete_config(model_config)
    input_frames, _ = get_padding(config)
    separator = (
        original_spectrogram_separator if config["network"] == "unet_spectrogram" else original_separator
    )
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        placeholder = v1.placeholder(tf.float32, [None, input_frames, config["num_channels"]])
        outputs = separator(placeholder, config)
        loss = tf.add_n([tf.reduce_mean(tf.square(y)) for y in outputs.values()])
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer(1e-4).minimize(loss, global_step=step)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            session.run(train, {placeholder: mix})  # slots and global_step hold values, as after training
            values = session.run(outputs, {placeholder: mix})
            prefix = v1.train.Saver().save(session, str(directory / "model"), global_step=step)
    return prefix, {name: np.asarray(value) for name, value in values.items()}
