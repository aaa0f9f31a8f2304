"""The Keras backend a process runs on, and the few things that differ between backends.

Keras reads ``KERAS_BACKEND`` once, when it is first imported: ``use_backend`` sets it before that
(``wavenet-j --backend``). TensorFlow is the default and the reference; JAX and PyTorch run the same
models, training, separation and evaluation. Exporting a SavedModel / TFLite file and importing a TF1
checkpoint need TensorFlow: ``require_tensorflow`` says so in one line.
"""

import contextlib
import importlib.util
import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")


class BackendError(RuntimeError):
    """A backend that is unknown, not installed, or not the one a feature needs."""


def use_backend(name):
    """Make ``name`` the Keras backend of this process; must run before Keras is imported."""
    if name not in BACKENDS:
        raise BackendError(f"backend {name!r} is not one of {list(BACKENDS)}")
    if importlib.util.find_spec(name) is None:
        extra = "" if name == "tensorflow" else f" (pip install 'wavenet_j[{name}]')"
        raise BackendError(f"backend {name!r} is not installed{extra}")
    if "keras" in sys.modules and current() != name:
        raise BackendError(f"Keras is already running on {current()}; set KERAS_BACKEND={name} instead")
    os.environ["KERAS_BACKEND"] = name


def requested():
    """The backend Keras will start on (or runs on): ``KERAS_BACKEND``, else TensorFlow."""
    if "keras" in sys.modules:
        return current()
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def current():
    import keras

    return keras.backend.backend()


def require_tensorflow(feature):
    """Raise a BackendError unless this process runs on TensorFlow, which ``feature`` needs."""
    if current() != "tensorflow":
        raise BackendError(
            f"{feature} needs TensorFlow: run it with KERAS_BACKEND=tensorflow (or --backend tensorflow); "
            f"this process runs on {current()}"
        )


def predict_fn(model, jit_compile=False):
    """``mix [B, T, C] (NumPy) -> {output: NumPy array}``: one compiled inference call of ``model``."""
    return inference_fn(lambda mix: model(mix, training=False), model, jit_compile)


def inference_fn(fn, model, jit_compile=False):
    """``fn(*arrays)``, which calls ``model``, compiled for inference here: NumPy (or nested dicts of it)
    in and out. The model's current weights are read at every call, so a model trained further computes
    with them. ``jit_compile`` asks TensorFlow for XLA; JAX always compiles with XLA; PyTorch runs eagerly
    without building a graph for gradients."""
    import keras

    def to_numpy(outputs):
        return keras.tree.map_structure(keras.ops.convert_to_numpy, outputs)

    backend = current()
    if backend == "tensorflow":
        import tensorflow as tf

        call = tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
        return lambda *arrays: to_numpy(call(*arrays))
    if backend == "jax":
        import jax

        variables = model.variables

        @jax.jit
        def pure(values, *arrays):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*arrays)

        return lambda *arrays: to_numpy(pure([v.value for v in variables], *arrays))
    import torch

    def call(*arrays):
        with torch.no_grad():  # on Keras's device: the GPU (CUDA or MPS) where there is one
            return to_numpy(fn(*keras.tree.map_structure(keras.ops.convert_to_tensor, arrays)))

    return call


def value_and_grad(fn, tensors):
    """``(fn(tensors), [d fn / d tensor, ...])`` for a scalar function of a list of tensors, on this
    backend; a tensor ``fn`` does not depend on gets zeros. Only ``tensors`` are differentiated, so a
    model whose variables ``fn`` maps to them (``keras.StatelessScope``) keeps its own gradients unset."""
    import keras

    backend = current()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(t) for t in tensors]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = fn(tensors)
        gradients = tape.gradient(value, tensors)
    elif backend == "jax":
        import jax

        value, gradients = jax.value_and_grad(fn)([keras.ops.convert_to_tensor(t) for t in tensors])
    else:
        import torch

        tensors = [keras.ops.convert_to_tensor(t).detach().requires_grad_(True) for t in tensors]
        value = fn(tensors)
        gradients = torch.autograd.grad(value, tensors, allow_unused=True)
        value = value.detach()
    return value, [keras.ops.zeros_like(t) if g is None else g for t, g in zip(tensors, gradients)]


@contextlib.contextmanager
def float64_enabled():
    """Within it, float64 tensors are float64 on every backend (JAX otherwise computes them in float32)."""
    if current() != "jax":
        yield
        return
    import jax

    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)
