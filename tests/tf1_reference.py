"""The original Wave-U-Net's forward graph in TF1 ops, written from DESIGN.md's semantics.

The project's reference for checkpoint import: variables are created with the original's
names in the original's order (``tf.layers.conv1d`` inside the scope ``separator``), the graph
uses ``resize_bilinear`` and the width-2 diagonal conv2d of the learned interpolation as TF1 did,
and the checkpoint is written by ``tf.compat.v1.train.Saver`` with Adam slots and global_step
beside the model variables, as a training run leaves them.
"""
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
            kernel = v1.get_variable("kernel", [width, x.shape[-1], filters], initializer=v1.glorot_uniform_initializer())
            # Non-zero biases, so that a wrong bias mapping cannot pass unnoticed.
            bias = v1.get_variable("bias", [filters], initializer=v1.random_normal_initializer(stddev=0.05))
        y = tf.nn.conv1d(x, kernel, stride=1, padding=padding.upper()) + bias
        return activation(y) if activation else y


def _crop(x, length):
    start = (x.shape[1] - length) // 2
    return x[:, start:start + length, :]


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
            x = conv(x, filters * (level + 1), config["filter_size"], padding, _leaky_relu)  # the first one too
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


def save_original_checkpoint(model_config, directory, mix, seed=0):
    """Build the original graph, save a checkpoint as training would, return (prefix, outputs on ``mix``)."""
    config = complete_config(model_config)
    input_frames, _ = get_padding(config)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        placeholder = v1.placeholder(tf.float32, [None, input_frames, config["num_channels"]])
        outputs = original_separator(placeholder, config)
        loss = tf.add_n([tf.reduce_mean(tf.square(y)) for y in outputs.values()])
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer(1e-4).minimize(loss, global_step=step)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            session.run(train, {placeholder: mix})  # slots and global_step hold values, as after training
            values = session.run(outputs, {placeholder: mix})
            prefix = v1.train.Saver().save(session, str(directory / "model"), global_step=step)
    return prefix, {name: np.asarray(value) for name, value in values.items()}
