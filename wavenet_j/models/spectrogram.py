"""The original's spectrogram U-Net baseline (Jansson et al. 2017), as its ``UnetSpectrogramSeparator``.

The mix's magnitude spectrogram (log1p, the last of 513 frequency bins cut so that every level
halves evenly) goes through one U-Net per source: strided 5x5 convs with batch norm and
LeakyReLU down, transposed convs with batch norm and ReLU up, each concatenated with the
encoder's map of its size, dropout on the three deepest. A last transposed conv gives a
sigmoid mask (the cut bin set to 0.5) that scales the mix's spectrogram, and the inverse STFT
with the mix's phase gives audio. Spectral layers compute in float32 under any dtype policy.
Of the architecture keys it reads num_layers and num_initial_filters; the Wave-U-Net's filter
sizes, upsampling and output keys do not apply to it.
"""

import keras
from keras import ops

from wavenet_j.models.initializers import SeededGlorotUniform
from wavenet_j.models.shapes import STFT_FRAME, STFT_HOP

_register = keras.saving.register_keras_serializable(package="wavenet_j")


def stft(audio):
    """``(real, imag, magnitude)``, each ``[B, frames, 513]``, of the original's STFT of mono audio
    ``[B, T, 1]``: periodic Hann window, no centring."""
    real, imag = ops.stft(audio[..., 0], STFT_FRAME, STFT_HOP, STFT_FRAME, window="hann", center=False)
    return real, imag, ops.sqrt(real * real + imag * imag)


def magnitude(audio):
    """``[B, frames, 513]`` magnitude spectrogram of mono audio ``[B, T, 1]``."""
    return stft(audio)[2]


@_register
class STFT(keras.layers.Layer):
    """Mono audio ``[B, T, 1]`` -> ``(magnitude, cos, sin)`` of its STFT's angle, each ``[B, frames, 513]``.

    A bin of magnitude 0 has angle 0, as TF's ``angle`` gives it.
    """

    def call(self, audio):
        real, imag, size = stft(audio)
        nonzero = size > 0
        safe = ops.where(nonzero, size, 1.0)
        return size, ops.where(nonzero, real / safe, 1.0), imag / safe


@_register
class LogMagnitude(keras.layers.Layer):
    """``log1p(magnitude)`` without the last bin, ``[B, frames, 512, 1]``: the networks' input."""

    def call(self, size):
        return ops.expand_dims(ops.log1p(size)[:, :, :-1], -1)


@_register
class FullBandMask(keras.layers.Layer):
    """A mask ``[B, frames, 512, 1]`` -> ``[B, frames, 513]``, the cut bin passed at half its magnitude."""

    def call(self, mask):
        return ops.pad(mask[..., 0], [[0, 0], [0, 0], [0, 1]], constant_values=0.5)


@_register
class InverseSTFT(keras.layers.Layer):
    """``[magnitude, cos, sin]`` -> audio ``[B, T, 1]``: a magnitude estimate with the mix's phase."""

    def call(self, inputs):
        estimate, cos, sin = inputs
        audio = ops.istft(
            (estimate * cos, estimate * sin), STFT_FRAME, STFT_HOP, STFT_FRAME, window="hann", center=False
        )
        return audio[..., None]


def spectrogram_unet(mix, config, seed):
    """``{source: audio}`` of the spectrogram U-Net on a mono mix ``[B, T, 1]``; ``seed(name)`` seeds a
    layer."""
    levels, filters = config["num_layers"], config["num_initial_filters"]
    mix_magnitude, cos, sin = STFT(name="encoder_stft", dtype="float32")(mix)
    features = LogMagnitude(name="encoder_log_magnitude", dtype="float32")(mix_magnitude)

    def strided(layer, x, name, width, activation=None):
        return layer(
            width,
            5,
            strides=2,
            padding="same",
            activation=activation,
            name=name,
            kernel_initializer=SeededGlorotUniform(seed(name)),
        )(x)

    def normalized(x, name, activation):
        # tf.contrib.layers.batch_norm's defaults: no scale, decay 0.999, epsilon 0.001.
        x = keras.layers.BatchNormalization(momentum=0.999, epsilon=1e-3, scale=False, name=f"{name}_norm")(x)
        return activation(x)

    outputs = {}
    for source in config["source_names"]:
        x, skips = features, []
        for level in range(levels):
            name = f"encoder_{source}_conv{level}"
            x = strided(keras.layers.Conv2D, x, name, filters * 2**level)
            x = normalized(x, name, keras.layers.LeakyReLU(0.2, name=f"{name}_act"))
            skips.append(x)
        for level in reversed(range(levels - 1)):  # the deepest map is no skip
            name = f"decoder_{source}_deconv{level}"
            x = strided(keras.layers.Conv2DTranspose, x, name, filters * 2**level)
            x = normalized(x, name, keras.layers.ReLU(name=f"{name}_act"))
            x = keras.layers.Concatenate(name=f"decoder_{source}_skip{level}")([skips[level], x])
            if level >= levels - 4:  # the first three upsampling levels
                x = keras.layers.Dropout(
                    0.5,
                    seed=seed(f"decoder_{source}_dropout{level}"),
                    name=f"decoder_{source}_dropout{level}",
                )(x)
        mask = strided(keras.layers.Conv2DTranspose, x, f"output_{source}_mask", 1, "sigmoid")
        mask = FullBandMask(name=f"output_{source}_full_band", dtype="float32")(mask)
        estimate = keras.layers.Multiply(name=f"output_{source}_magnitude", dtype="float32")(
            [mix_magnitude, mask]
        )
        outputs[source] = InverseSTFT(name=f"output_{source}", dtype="float32")([estimate, cos, sin])
    return outputs


def source_magnitudes(separator, mix, training=None):
    """``{source: [B, frames, 513]}``: a spectrogram separator's magnitude estimates, which its
    ``raw_audio_loss=False`` loss compares, computed without the inverse STFT."""
    sources = separator.model_config["source_names"]
    estimates = keras.Model(
        separator.input,
        {source: separator.get_layer(f"output_{source}_magnitude").output for source in sources},
    )
    return estimates(mix, training=training)
