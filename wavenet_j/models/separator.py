"""The Wave-U-Net / J-Net separator (or the original's spectrogram U-Net) in one function, plus
multi-stage (progressive) inference.

Layer names carry their group as a prefix, so what a J or L model freezes is visible and can
be changed (``layer.trainable``):

- ``encoder_*``: down-sampling convs, their MultiRes blocks and the Res paths on their skips
- ``bottleneck_conv``: the conv after the last decimation (always trained)
- ``decoder_*``: up-sampling (learned interpolation weights) and merge convs, MultiRes blocks
- ``output_*``: the input skip and the per-source output convs (always trained)

The spectrogram U-Net's layers are ``encoder_<source>_*`` (and the STFT, ``encoder_stft``),
``decoder_<source>_*`` and ``output_<source>_*`` (mask, magnitude, inverse STFT).
"""

import zlib

import keras

from wavenet_j.models.initializers import SeededGlorotUniform
from wavenet_j.configs import ConfigError, ModelConfig, complete_config, model_config_of, upgrade_saved_config
from wavenet_j.models.layers import (
    AudioClip,
    CenterCrop,
    Decimate,
    DifferenceOutput,
    LearnedUpsample,
    LinearUpsample,
    UpsampleConv,
)
from wavenet_j.models.shapes import get_padding
from wavenet_j.models.spectrogram import spectrogram_unet

GROUPS = ("encoder", "bottleneck", "decoder", "output")


@keras.saving.register_keras_serializable(package="wavenet_j")
class Separator(keras.Model):
    """A functional Keras model that carries its model_config, so a ``.keras`` file alone says its
    sample rate, sources and architecture to whoever separates, evaluates or exports with it."""

    def __init__(self, *args, model_config=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_config = model_config

    def __setattr__(self, name, value):
        if name == "model_config":  # past Keras's attribute tracking, which makes a dict a mutable copy
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def get_config(self):
        return {**super().get_config(), "model_config": self.model_config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        model_config = config.pop("model_config", None)
        model = super().from_config(config, custom_objects)
        model.model_config = (
            None if model_config is None else complete_config(upgrade_saved_config(model_config))
        )
        return model


def layer_group(layer: keras.layers.Layer) -> str:
    """Which of GROUPS a separator layer belongs to."""
    return layer.name.split("_", 1)[0]


def build_separator(model_config: ModelConfig) -> Separator:
    """A Keras functional model ``[B, input_frames, C] -> {source: [B, output_frames, C]}``.

    ``model_config`` is a ``ModelConfig`` (``resolve_config``, ``complete_config``). ``network`` picks the
    Wave-U-Net or the original's spectrogram U-Net. Random weights are drawn from
    ``model_config["seed"]`` (one NumPy stream per layer name), so the same seed builds
    the same model on every backend, and a J model's frozen encoder equals its U twin's initial encoder.
    """
    config = model_config_of(model_config, "build_separator")
    input_frames, _ = get_padding(config)
    net = _Builder(config)
    mix = keras.Input((input_frames, config["num_channels"]), name="mix")
    if config["network"] == "unet_spectrogram":
        outputs, name = spectrogram_unet(mix, config, net.seed), "unet_spectrogram"
    else:
        outputs, name = _wave_u_net(net, mix), "wave_u_net"
    model = Separator(mix, outputs, model_config=config, name=name)
    frozen = {"encoder": config["freeze_encoder"], "decoder": config["freeze_decoder"]}
    for layer in model.layers:
        if frozen.get(layer_group(layer)):
            layer.trainable = False
    return model


def _wave_u_net(net, mix):
    """``{source: estimate}`` of the Wave-U-Net on ``mix``."""
    config = net.config
    levels = config["num_layers"]
    filters = [config["num_initial_filters"] * (level + 1) for level in range(levels + 1)]

    x, skips = mix, []
    for level in range(levels):
        width = config[
            "filter_size"
        ]  # the first conv too, as the original's graph (input_filter_size == filter_size)
        x = net.level_conv(x, f"encoder_conv{level}", filters[level], width, level)
        skip = x
        if level < config["res_path_levels"]:
            for unit in range(config["res_path_units"]):
                skip = net.res_path_unit(skip, f"encoder_respath{level}_unit{unit}", filters[level], width)
        skips.append(skip)
        x = Decimate(name=f"encoder_decimate{level}")(x)

    x = net.conv(x, "bottleneck_conv", filters[levels], config["filter_size"], net.padding, "leaky_relu")

    kept = (
        {level % levels for level in config["skip_levels"]}
        if config["skip_levels"] is not None
        else set(range(levels))
    )
    for level in reversed(range(levels)):
        skip = [skips[level]] if level in kept else []
        if config["upsampling"] == "linear" and level >= config["multires_levels"]:
            x = net.upsample_conv(skip + [x], f"decoder_conv{level}", filters[level])
            continue
        x = net.upsample(x, level)
        if skip:
            x = net.crop_concat(skip[0], x, f"decoder_skip{level}")
        x = net.level_conv(x, f"decoder_conv{level}", filters[level], config["merge_filter_size"], level)

    x = net.crop_concat(mix, x, "output_skip")
    return net.outputs(mix, x)


class _Builder:
    """Adds the repeated pieces of the network, with names and seeds, to a functional graph."""

    def __init__(self, config):
        self.config = config
        self.padding = "valid" if config["context"] else "same"

    def seed(self, name):
        return zlib.crc32(f"{self.config['seed']}:{name}".encode()) & 0x7FFFFFFF

    def conv(self, x, name, filters, width, padding, activation=None):
        return keras.layers.Conv1D(
            filters,
            width,
            padding=padding,
            activation=activation,
            name=name,
            kernel_initializer=SeededGlorotUniform(self.seed(name)),
        )(x)

    def level_conv(self, x, name, filters, width, level):
        """The conv of one level, or the MultiRes block that replaces it on shallow levels.

        MultiRes: ``c1 = conv(x); c2 = conv(c1); LeakyReLU(concat(c1, c2) + conv_1(x))``, both
        convs the replaced layer's (filters, width, LeakyReLU). ``c1`` keeps the level's padding
        so lengths match the plain network; ``c2`` and the shortcut are length-preserving.
        """
        c1 = self.conv(x, name, filters, width, self.padding, "leaky_relu")
        if level >= self.config["multires_levels"]:
            return c1
        block = name.replace("_conv", "_multires")
        c2 = self.conv(c1, f"{block}_conv2", filters, width, "same", "leaky_relu")
        shortcut = self.conv(x, f"{block}_shortcut", 2 * filters, 1, "same")
        if self.padding == "valid":
            shortcut = CenterCrop(name=f"{block}_crop")([shortcut, c1])
        both = keras.layers.Concatenate(name=f"{block}_concat")([c1, c2])
        summed = keras.layers.Add(name=f"{block}_add")([both, shortcut])
        return keras.layers.LeakyReLU(0.2, name=f"{block}_act")(summed)

    def res_path_unit(self, x, name, filters, width):
        """MultiResUNet's Res path unit, 1-D without batch norm: ``LeakyReLU(conv_k(x) + conv_1(x))``."""
        main = self.conv(x, f"{name}_conv", filters, width, "same")
        shortcut = self.conv(x, f"{name}_shortcut", filters, 1, "same")
        summed = keras.layers.Add(name=f"{name}_add")([main, shortcut])
        return keras.layers.LeakyReLU(0.2, name=f"{name}_act")(summed)

    def upsample_conv(self, inputs, name, filters):
        """Upsampling, skip concatenation and merge conv of a plain decoder level, fused
        (``UpsampleConv``)."""
        return UpsampleConv(
            filters,
            self.config["merge_filter_size"],
            self.padding,
            name=name,
            kernel_initializer=SeededGlorotUniform(self.seed(name)),
        )(inputs)

    def upsample(self, x, level):
        name = f"decoder_upsample{level}"
        if self.config["upsampling"] == "learned":
            return LearnedUpsample(self.padding, seed=self.seed(name), name=name)(x)
        return LinearUpsample(align_corners=self.config["context"], name=name)(x)

    def crop_concat(self, skip, x, name):
        """``concat([crop(skip), x])`` on channels, skip first, as the original."""
        if skip.shape[1] != x.shape[1]:
            skip = CenterCrop(name=f"{name}_crop")([skip, x])
        return keras.layers.Concatenate(name=f"{name}_concat")([skip, x])

    def outputs(self, mix, features):
        config = self.config
        channels, width = config["num_channels"], config["output_filter_size"]
        activation = "tanh" if config["output_activation"] == "tanh" else None
        sources = config["source_names"]
        learned = sources[:-1] if config["output_type"] == "difference" else sources
        outputs = {}
        for source in learned:
            y = self.conv(features, f"output_{source}", channels, width, self.padding, activation)
            if activation is None:
                y = AudioClip(name=f"output_{source}_clip")(y)
            outputs[source] = y
        if config["output_type"] == "difference":
            outputs[sources[-1]] = DifferenceOutput(name=f"output_{sources[-1]}")([mix, *outputs.values()])
        return outputs


def rebuild(separator: Separator, policy: str | None = None, num_frames: int | None = None) -> Separator:
    """The same separator (weights copied) under another Keras dtype policy or window length.

    ``policy`` (e.g. ``"mixed_bfloat16"``) keeps float32 weights but computes activations and
    products in the policy's dtype, which processors and GPUs with bf16 or fp16 arithmetic run
    much faster. ``num_frames`` asks for another output length (see ``get_padding``); the
    weights of a Wave-U-Net do not depend on it.
    """
    config = separator.model_config
    if num_frames is not None:
        config = config.replace(num_frames=num_frames)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy or previous)
    try:
        clone = build_separator(config)
    finally:
        keras.config.set_dtype_policy(previous)
    clone.set_weights(separator.get_weights())
    return clone


def stage_estimates(separator, mix, num_stages, training=None):
    """Source estimates after each of ``num_stages`` passes through one shared network.

    Stage 1 separates the mix; stage s+1 feeds each source's stage-s estimate back through the
    same weights and keeps that source's output (the paper's progressive learning).
    """
    estimates = separator(mix, training=training)
    stages = [estimates]
    for _ in range(num_stages - 1):
        estimates = {
            name: separator(estimate, training=training)[name] for name, estimate in estimates.items()
        }
        stages.append(estimates)
    return stages


def multi_stage(separator: Separator, num_stages: int) -> Separator:
    """A model running ``separator`` for ``num_stages`` inference stages (the paper's U1_k, U4_k)."""
    if num_stages < 1:
        raise ConfigError(f"num_stages = {num_stages} must be at least 1")
    in_shape, out_shape = separator.input_shape, separator.outputs[0].shape
    if num_stages > 1 and in_shape[1] != out_shape[1]:
        raise ConfigError(
            f"{num_stages} stages need a model whose output is as long as its input; this one maps "
            f"{in_shape[1]} to {out_shape[1]} samples (context=True), so estimates cannot be fed back"
        )
    mix = keras.Input(in_shape[1:], name="mix")
    return Separator(
        mix,
        stage_estimates(separator, mix, num_stages)[-1],
        model_config=separator.model_config,
        name=f"{separator.name}_x{num_stages}",
    )
