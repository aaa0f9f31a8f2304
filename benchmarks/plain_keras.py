"""U1 written as a user would with stock Keras 3 layers: the baseline the project is measured against.

Conv1D with LeakyReLU 0.2, TF1's linear x2 upsampling as a ``Lambda`` of ``keras.ops``, concatenated
skips, a tanh accompaniment output and the vocals as the difference. Layers carry the project's
names, so the project's weights copy over by name and the two models can be checked to agree.
"""

import keras
from keras import ops


def _linear_upsample(x):
    following = ops.concatenate([x[:, 1:, :], x[:, -1:, :]], axis=1)
    middle = x + (following - x) * 0.5
    return ops.reshape(ops.stack([x, middle], axis=2), (-1, 2 * x.shape[1], x.shape[2]))


def plain_u1(frames=16384, channels=2, levels=10, filters=24, width=15, merge_width=5):
    """``{accompaniment, vocals}`` from ``[batch, frames, channels]``, "same" padding (no context)."""
    mix = keras.Input((frames, channels), name="mix")
    x, skips = mix, []
    for level in range(levels):
        x = keras.layers.Conv1D(filters * (level + 1), width, padding="same", name=f"encoder_conv{level}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        skips.append(x)
        x = keras.layers.Lambda(lambda t: t[:, ::2, :])(x)
    x = keras.layers.Conv1D(filters * (levels + 1), width, padding="same", name="bottleneck_conv")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    for level in reversed(range(levels)):
        x = keras.layers.Lambda(_linear_upsample)(x)
        x = keras.layers.Concatenate()([skips[level], x])
        x = keras.layers.Conv1D(
            filters * (level + 1), merge_width, padding="same", name=f"decoder_conv{level}"
        )(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Concatenate()([mix, x])
    accompaniment = keras.layers.Conv1D(channels, 1, activation="tanh", name="output_accompaniment")(x)
    vocals = keras.layers.Subtract(name="vocals")([mix, accompaniment])
    accompaniment = keras.layers.Identity(name="accompaniment")(accompaniment)
    return keras.Model(mix, {"accompaniment": accompaniment, "vocals": vocals}, name="plain_u1")


def copy_weights(source, plain):
    """The project model's weights into ``plain``, layer by name."""
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


def compiled(plain, frozen_encoder=False):
    """Compiled for ``train_on_batch``: Adam, the MSE of each source averaged over sources (the project's
    loss)."""
    for layer in plain.layers:
        if layer.name.startswith("encoder_"):
            layer.trainable = not frozen_encoder
    plain.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss={"accompaniment": "mse", "vocals": "mse"},
        loss_weights={"accompaniment": 0.5, "vocals": 0.5},
    )
    return plain
