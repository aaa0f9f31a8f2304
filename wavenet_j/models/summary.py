"""What a named model is: its parameters (trained and frozen), lengths and receptive field."""

import contextlib
from collections.abc import Sequence

import keras
import numpy as np

from wavenet_j.configs import ModelConfig, resolve_config
from wavenet_j.models.separator import build_separator
from wavenet_j.models.shapes import get_padding


def describe(config: ModelConfig) -> dict:
    """A dict of the numbers ``wavenet-j models`` prints for one model_config.

    Frozen parameters are those of frozen layers; batch norm's moving statistics, which training
    updates without gradients, count as trainable.
    """
    model = build_separator(config)
    frozen = sum(
        int(np.prod(w.shape)) for layer in model.layers if not layer.trainable for w in layer.weights
    )
    total = model.count_params()
    input_frames, output_frames = get_padding(config)
    return {
        "params": total,
        "trainable": total - frozen,
        "frozen": frozen,
        "input_frames": input_frames,
        "output_frames": output_frames,
        "receptive_field": receptive_field(config),
    }


@contextlib.contextmanager
def _float64():
    """Keras in float64; JAX has 64-bit types only where ``jax_enable_x64`` says so."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        with _jax_x64():
            yield
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def _jax_x64():
    if keras.backend.backend() != "jax":
        return contextlib.nullcontext()
    import jax

    return jax.enable_x64(True)


def receptive_field(config: ModelConfig) -> int | None:
    """Input samples that the centre output sample depends on, zero padding aside.

    Measured, not derived: a one-filter copy of the architecture with positive weights (so no
    dependency cancels; LeakyReLU's slope is never 0) is differentiated at the centre output
    sample, in float64 so that deep products stay representable. Without context the copy's
    input is made long enough that the field never touches its edges.

    None for the spectrogram U-Net: the probe differentiates at a silent input, where the STFT
    magnitude has no derivative.
    """
    if config["network"] == "unet_spectrogram":
        return None
    probe = config.replace(
        num_initial_filters=1,
        output_type="direct",
        output_activation="linear",
        freeze_encoder=False,
        freeze_decoder=False,
    )
    block = 2 ** config["num_layers"]
    if not config["context"]:
        probe = probe.replace(num_frames=block * max(64, -(-4096 // block)))
    while True:
        span, touches_edge = _dependency_span(probe)
        if config["context"] or not touches_edge:
            return span
        probe = probe.replace(num_frames=probe["num_frames"] * 2)


def _dependency_span(probe_config):
    with _float64():
        model = build_separator(probe_config)
        for weight in model.weights:
            weight.assign(
                np.full(weight.shape, 1.0 / max(1, weight.shape[0]) if len(weight.shape) > 1 else 0.0)
            )
        x = np.zeros((1,) + tuple(model.input_shape[1:]), "float64")
        gradient = _centre_gradient(model, x)[0]
    support = np.flatnonzero(np.any(gradient != 0, axis=-1))
    return int(support[-1] - support[0] + 1), bool(support[0] == 0 or support[-1] == gradient.shape[0] - 1)


def _centre_gradient(model, x):
    """The gradient of the first output's centre sample (first channel) at ``x``, as NumPy."""

    def centre(inputs):
        first = next(iter(model(inputs).values()))
        return first[0, first.shape[1] // 2, 0]

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            output = centre(inputs)
        return tape.gradient(output, inputs).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.jit(jax.grad(centre))(x))  # one compilation, not one per operation
    inputs = keras.ops.convert_to_tensor(x)
    inputs.requires_grad_(True)
    centre(inputs).backward()
    return keras.ops.convert_to_numpy(inputs.grad)


def models_table(names: Sequence[str]) -> str:
    """A plain-text table of ``describe`` for each named config (``J1+tiny`` combines several)."""
    header = ("model", "params", "trainable", "frozen", "input", "output", "receptive field")
    rows = []
    for name in names:
        info = describe(resolve_config(name))
        rows.append(
            (
                name,
                f"{info['params']:,}",
                f"{info['trainable']:,}",
                f"{info['frozen']:,}",
                str(info["input_frames"]),
                str(info["output_frames"]),
                str(info["receptive_field"] or "-"),
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
