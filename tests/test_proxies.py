"""The training-free proxies: each on a network whose answer is known by construction, then on a real
separator, independent of the batch order and leaving the model's weights and gradients alone."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from networks import SMALL
from test_backends import BACKENDS
from wavenet_j.backend import float64_enabled
from wavenet_j.configs import resolve_config
from wavenet_j.studies import proxies
from wavenet_j.training.losses import mse_per_example


def conv_net(kernel, bias=None, activation=None, length=6, dtype="float32"):
    """``x [B, length, C_in] -> Conv1D`` ('valid') with the given kernel ``[k, C_in, C_out]`` and bias."""
    kernel = np.asarray(kernel, dtype=dtype)
    x = keras.Input((length, kernel.shape[1]), dtype=dtype)
    layer = keras.layers.Conv1D(
        kernel.shape[2], kernel.shape[0], use_bias=bias is not None, activation=activation, dtype=dtype
    )
    model = keras.Model(x, layer(x))
    model.set_weights([kernel] + ([np.asarray(bias, dtype=dtype)] if bias is not None else []))
    return model


def mse(model, mix, targets):
    return mse_per_example(targets["y"], model(mix, training=True))


def regression_data(rng, batches=2, batch=3, length=6, channels=2, out_channels=1, out_length=4):
    return [
        (
            rng.normal(size=(batch, length, channels)).astype("float32"),
            {"y": rng.normal(size=(batch, out_length, out_channels)).astype("float32")},
        )
        for _ in range(batches)
    ]


def windows(x, width):
    """``[B, T_out, width * C]``: the inputs each output of a 'valid' conv of ``width`` reads."""
    steps = x.shape[1] - width + 1
    return np.stack([x[:, t : t + width, :].reshape(len(x), -1) for t in range(steps)], axis=1)


def test_synflow_of_a_single_path_is_its_weights_product_at_each_weight():
    with float64_enabled():
        x = keras.Input((1, 1), dtype="float64")
        y, weights = x, [-0.5, 2.0, -3.0]
        layers = [keras.layers.Conv1D(1, 1, use_bias=False, dtype="float64") for _ in weights]
        for layer in layers:
            y = layer(y)
        model = keras.Model(x, y)
        for layer, w in zip(layers, weights):
            layer.set_weights([np.full((1, 1, 1), w)])
        # One path: R = prod |w|, and w dR/dw = R at every weight, three of them.
        assert proxies.synflow(model) == pytest.approx(3 * 0.5 * 2.0 * 3.0, rel=1e-12)
        assert [float(layer.get_weights()[0].item()) for layer in layers] == weights


def test_synflow_of_the_separator_is_finite_in_float64_where_float32_overflows():
    config = resolve_config(["U3_10", "tiny"])
    result = proxies.compute_proxies(config, ["synflow"])["synflow"]["value"]
    assert np.isfinite(result) and result > float(np.finfo(np.float32).max)


def test_naswot_is_the_log_determinant_of_the_sign_agreement_kernel():
    # One LeakyReLU unit per sample, identity weights: the codes are the inputs' signs.
    model = conv_net([[[1.0]]], bias=[0.0], activation="leaky_relu", length=4)
    signs = np.array([[1, 1, -1, -1], [1, -1, 1, -1], [1, 1, 1, -1]], dtype="float32")
    codes = (signs > 0).astype(float)
    agreement = codes @ codes.T + (1 - codes) @ (1 - codes).T  # [[4, 2, 3], [2, 4, 3], [3, 3, 4]]
    mix = (signs * np.array([0.5, 2.0, 1.5, 3.0], dtype="float32"))[..., None]
    assert proxies.naswot(model, [(mix, None)]) == pytest.approx(np.linalg.slogdet(agreement)[1], abs=1e-6)


def test_grad_norm_and_snip_of_a_linear_regression():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 2, 1))
    model, data = conv_net(kernel), regression_data(rng)
    norms, snips = [], []
    for mix, targets in data:
        inputs = windows(mix, 3)  # [B, T, 6]
        residual = inputs @ kernel.reshape(-1, 1) - targets["y"]
        gradient = 2 * np.mean(inputs * residual, axis=(0, 1))  # MSE over samples, then over examples
        norms.append(np.linalg.norm(gradient))
        snips.append(np.sum(np.abs(gradient * kernel.reshape(-1))))
    assert proxies.grad_norm(model, mse, data) == pytest.approx(np.mean(norms), rel=1e-5)
    assert proxies.snip(model, mse, data) == pytest.approx(np.mean(snips), rel=1e-5)


def test_grasp_of_a_quadratic_loss_is_minus_w_hessian_gradient():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 2, 1))
    model, data = conv_net(kernel), regression_data(rng)
    expected = []
    for mix, targets in data:
        inputs = windows(mix, 3).reshape(-1, 6)
        w = kernel.reshape(-1)
        gradient = 2 * inputs.T @ (inputs @ w - targets["y"].reshape(-1)) / len(inputs)
        hessian = 2 * inputs.T @ inputs / len(inputs)
        expected.append(-w @ hessian @ gradient)
    assert proxies.grasp(model, mse, data) == pytest.approx(np.mean(expected), rel=1e-3)


def test_fisher_is_half_the_mean_squared_channel_saliency():
    rng = np.random.default_rng(2)
    kernel, bias = rng.normal(size=(3, 2, 2)), rng.normal(size=2)
    model = conv_net(kernel, bias)
    data = regression_data(rng, out_channels=2)
    saliencies = []
    for mix, targets in data:
        z = np.einsum("btk,kc->btc", windows(mix, 3), kernel.reshape(-1, 2)) + bias
        dz = 2 * (z - targets["y"]) / z[0].size  # d(per-example MSE)/dz
        saliencies.append(np.sum(z * dz, axis=1))  # [B, channels]
    saliencies = np.concatenate(saliencies)
    expected = np.sum(0.5 * np.mean(saliencies**2, axis=0))
    assert proxies.fisher(model, mse, data) == pytest.approx(expected, rel=1e-4)


def test_jacob_cov_of_a_leaky_unit_from_its_known_jacobian():
    w = 1.5
    model = conv_net([[[w]]], activation="leaky_relu", length=5)
    rng = np.random.default_rng(3)
    mix = rng.normal(size=(4, 5, 1)).astype("float32")
    jacobian = np.where(mix[..., 0] > 0, w, 0.2 * w)  # d sum(y) / dx, one row per example
    eigenvalues = np.linalg.eigvalsh(np.corrcoef(jacobian))
    expected = -np.sum(np.log(eigenvalues + 1e-5) + 1 / (eigenvalues + 1e-5))
    assert proxies.jacob_cov(model, [(mix, None)]) == pytest.approx(expected, rel=1e-5)


def test_params_and_flops_count_the_convs():
    model = conv_net(np.ones((3, 2, 4)), bias=np.zeros(4), length=10)
    assert proxies.flops(model) == 2 * 8 * 3 * 2 * 4
    config = resolve_config(["tiny"], SMALL)
    values = proxies.compute_proxies(config, ["params", "flops"])
    from wavenet_j.models import build_separator

    assert values["params"]["value"] == build_separator(config).count_params()
    assert values["flops"]["value"] > 0 and values["flops"]["seconds"] >= 0


def _separator_and_data():
    from wavenet_j.models import build_separator
    from wavenet_j.training.losses import example_losses

    config = resolve_config(["U2_2_5", "tiny"], dict(SMALL, num_layers=5, multires_levels=2))
    rng = np.random.default_rng(4)
    model = build_separator(config)
    frames_in, frames_out = model.input_shape[1], model.outputs[0].shape[1]
    data = [
        (
            rng.uniform(-0.5, 0.5, (4, frames_in, 2)).astype("float32"),
            {s: rng.uniform(-0.5, 0.5, (4, frames_out, 2)).astype("float32") for s in config["source_names"]},
        )
        for _ in range(2)
    ]
    return model, data, lambda model, mix, targets: example_losses(model, mix, targets, config)


def _data_proxies(model, data, loss_fn):
    return {
        "grad_norm": proxies.grad_norm(model, loss_fn, data),
        "snip": proxies.snip(model, loss_fn, data),
        "grasp": proxies.grasp(model, loss_fn, data),
        "fisher": proxies.fisher(model, loss_fn, data),
        "jacob_cov": proxies.jacob_cov(model, data, ["accompaniment"]),
        "naswot": proxies.naswot(model, data),
    }


def test_proxies_do_not_depend_on_the_batch_order_and_leave_the_weights_alone():
    model, data, loss_fn = _separator_and_data()
    before = [w.copy() for w in model.get_weights()]
    values = _data_proxies(model, data, loss_fn)
    order = np.array([2, 0, 3, 1])
    shuffled = [(mix[order], {s: t[order] for s, t in targets.items()}) for mix, targets in reversed(data)]
    for name, value in _data_proxies(model, shuffled, loss_fn).items():
        assert value == pytest.approx(values[name], rel=1e-4, abs=1e-9), name
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert len(set(values.values())) == len(values)  # six different numbers, none a constant


# Every proxy of one small separator on another backend, printed as JSON; TensorFlow unimportable.
ON_BACKEND = """
import json, sys
sys.modules["tensorflow"] = None
from wavenet_j.configs import resolve_config
from wavenet_j.studies.proxies import compute_proxies
config = resolve_config(["U2_2_5", "tiny"], json.loads(sys.argv[1]))
print("PROXIES", json.dumps({k: v["value"] for k, v in compute_proxies(config).items()}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_proxy_gives_tensorflows_value_on_other_backends(backend, tmp_path):
    overrides = dict(SMALL, num_layers=5, data_path=str(tmp_path / "data"))
    config = resolve_config(["U2_2_5", "tiny"], overrides)
    reference = {k: v["value"] for k, v in proxies.compute_proxies(config).items()}
    result = subprocess.run(
        [sys.executable, "-c", ON_BACKEND, json.dumps(overrides)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROXIES"))
    values = json.loads(line.split(" ", 1)[1])
    for name, value in reference.items():
        assert values[name] == pytest.approx(value, rel=2e-3), name
