"""Training-free ("zero-cost") architecture proxies, computed at initialisation.

Each scores a freshly initialised model from a few seeded batches of the training data, with the
separation loss in place of the classifiers' cross-entropy, and is oriented so that a higher score
predicts a better trained model. The gradients go through ``backend.value_and_grad`` with the model's
variables mapped to plain tensors, so no proxy changes the model or leaves gradients on it; the
N x N algebra of jacob_cov and NASWOT runs in NumPy float64. Formulas and sources: docs/study.md.
"""

import itertools
import time

import keras
import numpy as np
from keras import ops

from wavenet_j.backend import float64_enabled, value_and_grad

PROXIES = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "naswot", "params", "flops")
DATA_FREE = ("synflow", "params", "flops")  # computed from the architecture alone, without batches
VOTE = ("synflow", "jacob_cov", "snip")  # Abdelfattah et al.'s vote: the mean of these three's ranks
PROXY_BATCHES = 2  # seeded training batches each data-dependent proxy averages over
GRASP_STEP = 1e-3  # finite-difference step of grasp's Hessian-vector product, relative to |w| / |g|


def _kernels(model):
    """Indices into ``trainable_variables`` of the conv kernels, the weights the proxies score
    (biases and interpolation weights are left out, as the proxies' authors leave out biases)."""
    return [i for i, v in enumerate(model.trainable_variables) if v.path.endswith("kernel")]


def _values(model):
    """The trainable variables' values as tensors no gradient flows back from (PyTorch's would)."""
    return [ops.stop_gradient(v.value) for v in model.trainable_variables]


def _loss_of_values(model, loss_fn, mix, targets):
    """The mean of ``loss_fn(model, mix, targets)`` (per-example losses) as a function of the values
    of the model's trainable variables."""
    variables = model.trainable_variables
    mix, targets = keras.tree.map_structure(ops.convert_to_tensor, (mix, targets))  # NumPy - torch fails

    def loss(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return ops.mean(loss_fn(model, mix, targets))

    return loss


def _gradients(model, loss_fn, batch, values=None):
    values = _values(model) if values is None else values
    return value_and_grad(_loss_of_values(model, loss_fn, *batch), values)[1]


def _total(tensors):
    return float(sum(float(ops.convert_to_numpy(ops.sum(t))) for t in tensors))


def grad_norm(model, loss_fn, data):
    """Sum over kernels of the gradient's Euclidean norm (Abdelfattah et al., 2021)."""
    scores = []
    for batch in data:
        gradients = _gradients(model, loss_fn, batch)
        scores.append(_total([ops.sqrt(ops.sum(ops.square(gradients[i]))) for i in _kernels(model)]))
    return float(np.mean(scores))


def snip(model, loss_fn, data):
    """Sum over kernel weights of |dL/dw * w| (Lee et al., 2019, as scored by Abdelfattah et al.)."""
    values, scores = _values(model), []
    for batch in data:
        gradients = _gradients(model, loss_fn, batch)
        scores.append(_total([ops.abs(gradients[i] * values[i]) for i in _kernels(model)]))
    return float(np.mean(scores))


def grasp(model, loss_fn, data):
    """Sum over kernel weights of -w * (H g) (Wang et al., 2020, as scored by Abdelfattah et al.): g is
    the kernels' gradient, H the loss's Hessian. H g is the central difference of the gradient along g,
    ``(grad(w + d g) - grad(w - d g)) / 2d``, exact for a quadratic loss and backend-neutral."""
    values, kernels, scores = _values(model), _kernels(model), []
    for batch in data:
        gradients = _gradients(model, loss_fn, batch)
        direction = [gradients[i] if i in kernels else ops.zeros_like(v) for i, v in enumerate(values)]
        norm = np.sqrt(_total([ops.square(direction[i]) for i in kernels]))
        if norm == 0:
            scores.append(0.0)
            continue
        weights = np.sqrt(_total([ops.square(values[i]) for i in kernels]))
        step = GRASP_STEP * weights / norm
        ahead = _gradients(model, loss_fn, batch, [v + step * d for v, d in zip(values, direction)])
        behind = _gradients(model, loss_fn, batch, [v - step * d for v, d in zip(values, direction)])
        scores.append(_total([-values[i] * (ahead[i] - behind[i]) / (2 * step) for i in kernels]))
    return float(np.mean(scores))


def fisher(model, loss_fn, data):
    """Sum over conv channels of 0.5 * mean over examples of (sum_t z_t dL/dz_t)^2, z the channel's
    pre-activation (Theis et al., 2018; Turner et al., 2020, as scored by Abdelfattah et al.).

    z is linear in the channel's kernel and bias, so ``sum_t z_t dL/dz_t`` equals the sum of
    ``p * dL/dp`` over them: computed from per-example weight gradients, with no hook in the model.
    """
    variables, values = model.trainable_variables, _values(model)
    index = {v.path: i for i, v in enumerate(variables)}
    layers = [
        (index[v.path], index.get(v.path[: -len("kernel")] + "bias"))
        for v in variables
        if v.path.endswith("kernel")
    ]
    flows = []  # per example: [per layer: sum of p * dL/dp of each output channel]
    for mix, targets in data:
        for n in range(len(mix)):
            one = (mix[n : n + 1], {s: t[n : n + 1] for s, t in targets.items()})
            gradients = _gradients(model, loss_fn, one)
            per_layer = []
            for kernel, bias in layers:
                flow = ops.sum(
                    ops.reshape(values[kernel] * gradients[kernel], (-1, values[kernel].shape[-1])), 0
                )
                if bias is not None:
                    flow = flow + values[bias] * gradients[bias]
                per_layer.append(ops.convert_to_numpy(flow).astype(np.float64))
            flows.append(per_layer)
    return float(sum(np.sum(0.5 * np.mean(np.square(np.stack(layer)), axis=0)) for layer in zip(*flows)))


def _selected(outputs, output_names):
    if isinstance(outputs, dict):
        return [outputs[name] for name in (output_names or outputs)]
    return [outputs]


def synflow(model, output_names=None):
    """Sum over kernel weights of w * dR/dw with every weight replaced by |w| and R the sum of the
    outputs for an all-ones input (Tanaka et al., 2020). Run it on a float64 model (``float64_enabled``):
    R is a sum over paths of products of weights, which overflows float32 in deep U-Nets."""
    values = [ops.abs(v) for v in _values(model)]
    ones = ops.ones((1, *model.input_shape[1:]), dtype=model.trainable_variables[0].dtype)
    variables = model.trainable_variables

    def flow(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return sum(ops.sum(y) for y in _selected(model(ones, training=True), output_names))

    _, gradients = value_and_grad(flow, values)
    return _total([values[i] * gradients[i] for i in _kernels(model)])


def jacob_cov(model, data, output_names=None):
    """-sum_i [log(l_i + k) + 1 / (l_i + k)], k = 1e-5, over the eigenvalues l_i of the correlation
    matrix of the examples' input Jacobians of the summed output (Mellor et al., 2021, first version)."""
    scores = []
    for mix, _ in data:

        def summed(inputs):
            return sum(ops.sum(y) for y in _selected(model(inputs[0], training=True), output_names))

        _, (jacobian,) = value_and_grad(summed, [mix])
        rows = ops.convert_to_numpy(jacobian).reshape(len(mix), -1).astype(np.float64)
        eigenvalues = np.linalg.eigvalsh(np.corrcoef(rows))
        scores.append(-float(np.sum(np.log(eigenvalues + 1e-5) + 1.0 / (eigenvalues + 1e-5))))
    return float(np.mean(scores))


def _leaky_outputs(model):
    """The outputs of every LeakyReLU in ``model``: standalone layers, convs activated by it, and the
    fused upsampling convs (``UpsampleConv``)."""
    from wavenet_j.models.layers import UpsampleConv

    def leaky(layer):
        if isinstance(layer, (keras.layers.LeakyReLU, UpsampleConv)):
            return True
        return isinstance(layer, keras.layers.Conv1D) and layer.get_config()["activation"] == "leaky_relu"

    return [layer.output for layer in model.layers if leaky(layer)]


def naswot(model, data):
    """log|det K|, K[i, j] the number of LeakyReLU units on which examples i and j have the same
    sign (Mellor et al., 2021). A LeakyReLU keeps its input's sign, so its output's sign is the
    pre-activation's."""
    features = keras.Model(model.input, _leaky_outputs(model))
    scores = []
    for mix, _ in data:
        outputs = features(mix, training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        codes = ops.concatenate(
            [ops.reshape(ops.cast(y > 0, "float32"), (len(mix), -1)) for y in outputs], axis=1
        )
        kernel = ops.matmul(codes, ops.transpose(codes)) + ops.matmul(1 - codes, ops.transpose(1 - codes))
        scores.append(float(np.linalg.slogdet(ops.convert_to_numpy(kernel).astype(np.float64))[1]))
    return float(np.mean(scores))


def flops(model):
    """Floating-point operations of one forward pass, counted on the convs (2 per multiply-add), which
    carry nearly all of a Wave-U-Net's arithmetic."""
    from wavenet_j.models.layers import UpsampleConv

    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv1D, UpsampleConv)):
            total += 2 * layer.output.shape[1] * int(np.prod(layer.kernel.shape))
    return float(total)


def vote(values):
    """Each candidate's mean rank (1 = lowest) by the ``VOTE`` proxies: ``values`` is
    ``{proxy: [value of each candidate]}``. Ranks turn three scales of many decades into one score."""
    from scipy import stats

    return np.mean([stats.rankdata(values[proxy]) for proxy in VOTE], axis=0).tolist()


def proxy_batches(config, count=PROXY_BATCHES):
    """The first ``count`` training batches of ``config``'s seed: the same for every proxy and run."""
    from wavenet_j.data.pipeline import batches

    return list(itertools.islice(batches(config, "train", workers=1), count))


def _learned_sources(config):
    """The outputs a conv computes; a difference output (the mix minus the others) sums them away."""
    sources = config["source_names"]
    return sources[:-1] if config["output_type"] == "difference" else sources


def _synflow_of_separator(model, config):
    """``synflow`` of a float64 copy of the separator with linear outputs (tanh would saturate)."""
    from wavenet_j.models import build_separator

    previous = keras.config.dtype_policy()
    with float64_enabled():
        keras.config.set_dtype_policy("float64")
        try:
            linear = build_separator(config.replace(output_activation="linear"))
        finally:
            keras.config.set_dtype_policy(previous)
        linear.set_weights([w.astype(np.float64) for w in model.get_weights()])
        return synflow(linear, _learned_sources(config))


def compute_proxies(config, names=PROXIES, count=PROXY_BATCHES):
    """``{proxy: {"value", "seconds"}}`` of the model ``config`` describes, at its initial weights.

    ``seconds`` is the proxy's own time plus the shared set-up (building the model, cutting the
    batches where a proxy needs them), i.e. what computing that proxy alone costs.
    """
    from wavenet_j.models import build_separator
    from wavenet_j.training.losses import example_losses

    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise ValueError(f"unknown proxies {unknown}; known: {', '.join(PROXIES)}")
    config = config.replace(freeze_encoder=False, freeze_decoder=False)  # the architecture's every weight
    started = time.perf_counter()
    model = build_separator(config)
    data = None if set(names) <= set(DATA_FREE) else proxy_batches(config, count)
    setup = time.perf_counter() - started

    def loss_fn(model, mix, targets):
        return example_losses(model, mix, targets, config)

    learned = _learned_sources(config)
    measures = {
        "grad_norm": lambda: grad_norm(model, loss_fn, data),
        "snip": lambda: snip(model, loss_fn, data),
        "grasp": lambda: grasp(model, loss_fn, data),
        "fisher": lambda: fisher(model, loss_fn, data),
        "synflow": lambda: _synflow_of_separator(model, config),
        "jacob_cov": lambda: jacob_cov(model, data, learned),
        "naswot": lambda: naswot(model, data),
        "params": lambda: float(model.count_params()),
        "flops": lambda: flops(model),
    }
    results = {}
    for name in names:
        started = time.perf_counter()
        value = measures[name]()
        results[name] = {"value": value, "seconds": round(setup + time.perf_counter() - started, 3)}
    return results
