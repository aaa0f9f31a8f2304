"""Checkpoints and configs of the original TF1 Wave-U-Net (Stoller et al.), loaded exactly.

The original creates its variables with ``tf.layers`` inside the scope ``separator``, so a
checkpoint names them by creation order, counted per kind (``separator/conv1d``,
``separator/conv1d_1``, ...). Wave-U-Net: the encoder convs, the bottleneck, then per decoder
level (deepest first) the learned interpolation weight ``separator/interp_{i}`` and the merge
conv, then the output convs in source order. Spectrogram U-Net, one source after the other:
per encoder level a ``conv2d`` and a ``BatchNorm`` (``tf.contrib.layers.batch_norm``: beta and
moving statistics), per decoder level a ``conv2d_transpose`` and a ``BatchNorm``, then the mask's
``conv2d_transpose``. Kernels are laid out as Keras keeps them.

Reading a checkpoint needs TensorFlow (its checkpoint reader); the names and configs do not.
"""

from __future__ import annotations

import collections
import json
import os
import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from wavenet_j.backend import require_tensorflow
from wavenet_j.configs import (
    BASE_CONFIG,
    NAMED_CONFIGS,
    ORIGINAL_NAMES,
    ORIGINAL_SCHEDULE,
    ConfigError,
    ModelConfig,
    complete_config,
    resolve_config,
)

if TYPE_CHECKING:
    import keras

# The original's keys that say nothing about the network or that we do not use.
_IGNORED_ORIGINAL_KEYS = {
    "musdb_path",
    "estimates_path",
    "cache_size",
    "num_workers",
    "num_snippets_per_track",
    "duration",
    "source_names",
    "num_sources",
    "num_channels",
}
# tf.contrib.layers.batch_norm's variables (no gamma: it does not scale by default).
_BATCH_NORM = ("beta", "moving_mean", "moving_variance")
# The J-Net extensions that change the weights, which the original cannot express.
_EXTENSIONS = {"skip_levels": None, "res_path_units": 0, "res_path_levels": 0, "multires_levels": 0}


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit the model it is loaded into."""


def from_original_config(original: Mapping) -> ModelConfig:
    """Our model_config for one of the original's ``model_config`` dicts.

    Missing keys take the original's defaults (its base config, our M1), not U1's; the keys are
    the same otherwise. Keys about its data pipeline are dropped.
    """
    overrides = {}
    for key, value in original.items():
        if key in _IGNORED_ORIGINAL_KEYS:
            continue
        if key == "init_sup_sep_lr":  # the original's first-stage rate; its second stage always uses 1e-5
            overrides["schedule"] = [[1, value], *ORIGINAL_SCHEDULE[1:]]
            continue
        if key not in BASE_CONFIG:
            raise ConfigError(f"original config key {key!r} is not one of the original Wave-U-Net's keys")
        overrides[key] = value
    return complete_config({**NAMED_CONFIGS["M1"], **overrides})


def checkpoint_config(spec: str) -> ModelConfig:
    """The ``ModelConfig`` an original checkpoint was trained with: a named config (``M5``,
    ``full_44KHz``, ``J1+tiny``), or a JSON file holding one of the original's model_config dicts, for
    a checkpoint trained with settings no named config has."""
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as handle:
            return from_original_config(json.load(handle))
    return resolve_config(spec)


def original_variable_names(config: ModelConfig) -> list[tuple[str, str, str]]:
    """``[(checkpoint name, layer name, weight attribute)]`` in the original's creation order."""
    changed = {key: config[key] for key, default in _EXTENSIONS.items() if config[key] != default}
    if changed:
        raise ConfigError(
            f"the original Wave-U-Net has no equivalent of {changed}; its checkpoints cannot fill this model"
        )
    names, created = [], collections.Counter()

    def add(kind, layer, attributes=("kernel", "bias")):
        """The variables of one ``tf.layers`` call, scoped by its kind's next unique name."""
        prefix = f"separator/{kind}" + (f"_{created[kind]}" if created[kind] else "")
        created[kind] += 1
        names.extend((f"{prefix}/{attribute}", layer, attribute) for attribute in attributes)

    levels, sources = config["num_layers"], config["source_names"]
    if config["network"] == "unet_spectrogram":
        for source in sources:
            for level in range(levels):
                add("conv2d", f"encoder_{source}_conv{level}")
                add("BatchNorm", f"encoder_{source}_conv{level}_norm", _BATCH_NORM)
            for level in reversed(range(levels - 1)):
                add("conv2d_transpose", f"decoder_{source}_deconv{level}")
                add("BatchNorm", f"decoder_{source}_deconv{level}_norm", _BATCH_NORM)
            add("conv2d_transpose", f"output_{source}_mask")
        return names

    for level in range(levels):
        add("conv1d", f"encoder_conv{level}")
    add("conv1d", "bottleneck_conv")
    for i, level in enumerate(reversed(range(levels))):
        if config["upsampling"] == "learned":
            names.append((f"separator/interp_{i}", f"decoder_upsample{level}", "interp"))
        add("conv1d", f"decoder_conv{level}")
    for source in sources[:-1] if config["output_type"] == "difference" else sources:
        add("conv1d", f"output_{source}")
    return names


def checkpoint_prefix(path):
    """The prefix of a TF1 checkpoint given as its prefix, its ``.index`` or a ``.data-*`` file."""
    path = os.fspath(path)
    if path.endswith(".index"):
        return path[: -len(".index")]
    if ".data-" in os.path.basename(path):
        return path[: path.rindex(".data-")]
    return path


# What a TF1 checkpoint cannot tell: the rate and layout it was trained for, beside its shapes.
_CHECKPOINT_BLIND_KEYS = (
    "task",
    "mono_downmix",
    "expected_sr",
    "num_layers",
    "num_initial_filters",
    "filter_size",
    "input_filter_size",
    "merge_filter_size",
    "output_filter_size",
    "context",
    "upsampling",
    "output_type",
    "output_activation",
)


def _named_after(prefix):
    """The original config a checkpoint's file or folder is named after (``full_44KHz/full_44KHz-236118``)."""
    for part in (os.path.basename(prefix), os.path.basename(os.path.dirname(prefix))):
        name = re.sub(r"-\d+$", "", part)
        if name in ORIGINAL_NAMES:
            return name
    return None


def _warn_if_named_otherwise(prefix, config):
    named = _named_after(prefix)
    if named is None:
        return
    expected = resolve_config(named)
    differing = {
        key: (expected[key], config[key]) for key in _CHECKPOINT_BLIND_KEYS if expected[key] != config[key]
    }
    if not differing:
        return
    matches = [
        name
        for name in ORIGINAL_NAMES
        if all(resolve_config(name)[key] == config[key] for key in _CHECKPOINT_BLIND_KEYS)
    ]
    given = f"config {matches[0]!r}" if matches else "a config"
    details = ", ".join(f"{key} {theirs!r} there, {ours!r} here" for key, (theirs, ours) in differing.items())
    warnings.warn(
        f"checkpoint {prefix!r} is named after the original's config {named!r} but is loaded with "
        f"{given} ({details}); a checkpoint holds no sample rate, so give the config {named!r} if that "
        f"is what it was trained with",
        stacklevel=3,
    )


def _is_model_variable(name):
    return name.startswith("separator/") and "/Adam" not in name


def import_original_checkpoint(model: keras.Model, ckpt_path: str | os.PathLike) -> keras.Model:
    """Fill ``model`` (a separator, e.g. ``build_separator(config)``) with an original TF1 checkpoint.

    Every ``separator/...`` variable is matched by creation order; optimizer slots,
    ``beta*_power`` and ``global_step`` are ignored. A checkpoint named after one of the
    original's configs (``full_44KHz-236118``) but loaded with another gets a warning naming
    both, since the shapes alone cannot tell, say, a 44.1 kHz model from a 22.05 kHz one.
    Everything is checked before anything is assigned, so on a mismatch the model is left as it
    was and the error names the variable. Runs on the TensorFlow backend only (BackendError).
    """
    require_tensorflow("reading an original TF1 checkpoint")
    import tensorflow as tf

    expected = original_variable_names(model.model_config)
    prefix = checkpoint_prefix(ckpt_path)
    _warn_if_named_otherwise(prefix, model.model_config)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as error:
        raise CheckpointMismatch(f"cannot read a TF1 checkpoint at {prefix!r}: {error}") from error
    found = {
        name: shape for name, shape in reader.get_variable_to_shape_map().items() if _is_model_variable(name)
    }
    extra = sorted(set(found) - {name for name, _, _ in expected})
    missing = [name for name, _, _ in expected if name not in found]
    if missing or extra:
        raise CheckpointMismatch(
            f"checkpoint {prefix!r} does not match the config: {_few(missing)} of its variables missing, "
            f"{_few(extra)} unexpected; is it a checkpoint of another config?"
        )
    assignments = []
    for name, layer_name, attribute in expected:
        variable = getattr(model.get_layer(layer_name), attribute)
        if tuple(found[name]) != tuple(variable.shape):
            raise CheckpointMismatch(
                f"checkpoint variable {name!r} has shape {tuple(found[name])}, but layer {layer_name!r} "
                f"expects {tuple(variable.shape)} for its {attribute}; is it a checkpoint of another config?"
            )
        assignments.append((variable, reader.get_tensor(name)))
    for variable, value in assignments:
        variable.assign(np.asarray(value, dtype=variable.dtype))
    return model


def _few(names, shown=3):
    """A count of variable names and the first few of them: a line, where 60 names would be a screen."""
    more = ", ..." if len(names) > shown else ""
    return f"{len(names)} ({', '.join(names[:shown])}{more})" if names else "none"
