"""Checkpoints and configs of the original TF1 Wave-U-Net (Stoller et al.), loaded exactly.

The original creates its variables with ``tf.layers.conv1d`` inside the scope ``separator``,
so a checkpoint names them by creation order (``separator/conv1d``, ``separator/conv1d_1``, ...):
the encoder convs, the bottleneck, then per decoder level (deepest first) the learned
interpolation weight ``separator/interp_{i}`` and the merge conv, then the output convs in
source order. Kernels are ``[width, in, out]``, as Keras' Conv1D keeps them.
"""
import os

import numpy as np
import tensorflow as tf

from wavenet_j.configs import BASE_CONFIG, NAMED_CONFIGS, ConfigError, complete_config

# The original's keys that say nothing about the network or that we do not use.
_IGNORED_ORIGINAL_KEYS = {
    "musdb_path", "estimates_path", "cache_size", "num_workers", "num_snippets_per_track",
    "raw_audio_loss", "duration", "source_names", "num_sources", "num_channels",
}
# The J-Net extensions that change the weights, which the original cannot express.
_EXTENSIONS = {"skip_levels": None, "res_path_units": 0, "res_path_levels": 0, "multires_levels": 0}


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit the model it is loaded into."""


def from_original_config(original):
    """Our model_config for one of the original's ``model_config`` dicts.

    Missing keys take the original's defaults (its base config, our M1), not U1's; the keys are
    the same otherwise. Keys about its data pipeline are dropped; the spectrogram U-Net is refused.
    """
    network = original.get("network", "unet")
    if network != "unet":
        raise ConfigError(f"original network {network!r} is not supported: only the Wave-U-Net ('unet') is")
    overrides = {}
    for key, value in original.items():
        if key in _IGNORED_ORIGINAL_KEYS or key == "network":
            continue
        if key not in BASE_CONFIG:
            raise ConfigError(f"original config key {key!r} is not one of the original Wave-U-Net's keys")
        overrides[key] = value
    return complete_config({**NAMED_CONFIGS["M1"], **overrides})


def original_variable_names(model_config):
    """``[(checkpoint name, layer name, weight attribute)]`` in the original's creation order."""
    config = complete_config(model_config)
    changed = {key: config[key] for key, default in _EXTENSIONS.items() if config[key] != default}
    if changed:
        raise ConfigError(f"the original Wave-U-Net has no equivalent of {changed}; its checkpoints cannot fill this model")
    names = []

    def add_conv(layer):
        index = sum(name.endswith("/kernel") for name, _, _ in names)
        prefix = "separator/conv1d" + (f"_{index}" if index else "")
        names.extend([(f"{prefix}/kernel", layer, "kernel"), (f"{prefix}/bias", layer, "bias")])

    levels = config["num_layers"]
    for level in range(levels):
        add_conv(f"encoder_conv{level}")
    add_conv("bottleneck_conv")
    for i, level in enumerate(reversed(range(levels))):
        if config["upsampling"] == "learned":
            names.append((f"separator/interp_{i}", f"decoder_upsample{level}", "interp"))
        add_conv(f"decoder_conv{level}")
    sources = config["source_names"]
    for source in sources[:-1] if config["output_type"] == "difference" else sources:
        add_conv(f"output_{source}")
    return names


def checkpoint_prefix(path):
    """The prefix of a TF1 checkpoint given as its prefix, its ``.index`` or a ``.data-*`` file."""
    path = os.fspath(path)
    if path.endswith(".index"):
        return path[: -len(".index")]
    if ".data-" in os.path.basename(path):
        return path[: path.rindex(".data-")]
    return path


def _is_model_variable(name):
    return name.startswith("separator/") and "/Adam" not in name


def import_original_checkpoint(model, ckpt_path, model_config):
    """Fill ``model`` (from ``build_separator(model_config)``) with an original TF1 checkpoint.

    Every ``separator/...`` variable is matched by creation order; optimizer slots,
    ``beta*_power`` and ``global_step`` are ignored. Everything is checked before anything is
    assigned, so on a mismatch the model is left as it was and the error names the variable.
    """
    expected = original_variable_names(model_config)
    prefix = checkpoint_prefix(ckpt_path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as error:
        raise CheckpointMismatch(f"cannot read a TF1 checkpoint at {prefix!r}: {error}") from error
    found = {name: shape for name, shape in reader.get_variable_to_shape_map().items() if _is_model_variable(name)}
    extra = sorted(set(found) - {name for name, _, _ in expected})
    missing = [name for name, _, _ in expected if name not in found]
    if missing or extra:
        raise CheckpointMismatch(
            f"checkpoint {prefix!r} does not match the config: missing {missing or 'nothing'}, "
            f"unexpected {extra or 'nothing'}; is it a checkpoint of another config?")
    assignments = []
    for name, layer_name, attribute in expected:
        variable = getattr(model.get_layer(layer_name), attribute)
        if tuple(found[name]) != tuple(variable.shape):
            raise CheckpointMismatch(
                f"checkpoint variable {name!r} has shape {tuple(found[name])}, but layer {layer_name!r} "
                f"expects {tuple(variable.shape)} for its {attribute}; is it a checkpoint of another config?")
        assignments.append((variable, reader.get_tensor(name)))
    for variable, value in assignments:
        variable.assign(np.asarray(value, dtype=variable.dtype))
    return model
