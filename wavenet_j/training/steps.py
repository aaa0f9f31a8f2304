"""One training step per Keras backend behind one interface: ``step(mix, targets) -> loss``.

Every backend differentiates ``example_losses`` (``losses.py``) with respect to the trainable
variables only, so frozen groups (J, L, the J models' Res paths) get no gradient, and the backward
pass stops where no trainable variable lies behind it. The loss is the per-example mean over the
global batch; a LossScaleOptimizer (``mixed_float16``) scales it before the gradient.

- TensorFlow: a ``tf.function`` (XLA with ``jit_compile``) run on each replica of a
  ``tf.distribute`` strategy.
- JAX: one jitted pure function of (trainable, non-trainable, optimizer) values, whose buffers
  are donated; the values live in the step between ``sync`` calls, which write them back into the
  Keras variables (before validation, a checkpoint, or a change of learning rate).
- PyTorch: autograd, then the optimizer's update without a graph.
"""

import keras
from keras import ops

from wavenet_j.training.losses import example_losses


def train_step_fn(model, optimizer, config, global_batch, strategy=None):
    """The training step ``(mix, targets) -> loss`` for one global batch size on this backend;
    ``strategy`` is TensorFlow's ``tf.distribute`` strategy (the default one when None)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _TensorFlowStep(model, optimizer, config, global_batch, strategy)
    if backend == "jax":
        return _JaxStep(model, optimizer, config, global_batch)
    return _TorchStep(model, optimizer, config, global_batch)


class _TensorFlowStep:
    def __init__(self, model, optimizer, config, global_batch, strategy):
        import tensorflow as tf

        strategy = strategy or tf.distribute.get_strategy()

        def replica_step(mix, targets):
            with tf.GradientTape() as tape:
                per_example = example_losses(model, mix, targets, config)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                scaled = optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        @tf.function(jit_compile=config["jit_compile"])
        def step(mix, targets):
            losses = strategy.run(replica_step, args=(mix, targets))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        self._step = step

    def __call__(self, mix, targets):
        return self._step(mix, targets)

    def sync(self):
        """The variables are the state: nothing to write back."""


class _JaxStep:
    def __init__(self, model, optimizer, config, global_batch):
        import jax

        self.variables = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
        self.state = None  # the variables' values while the step holds them
        trainable, non_trainable, optimizer_variables = self.variables

        def scaled_loss(trainable_values, non_trainable_values, optimizer_values, mix, targets):
            mapping = [
                *zip(trainable, trainable_values),
                *zip(non_trainable, non_trainable_values),
                *zip(optimizer_variables, optimizer_values),  # a LossScaleOptimizer's scale
            ]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                loss = ops.sum(example_losses(model, mix, targets, config)) / global_batch
                scaled = optimizer.scale_loss(loss)
            updated = [scope.get_current_value(v) for v in non_trainable]  # batch norm's statistics
            updated = [new if new is not None else old for new, old in zip(updated, non_trainable_values)]
            return scaled, (loss, updated)

        gradient = jax.value_and_grad(scaled_loss, has_aux=True)

        def step(state, mix, targets):
            trainable_values, non_trainable_values, optimizer_values = state
            (_, (loss, non_trainable_values)), gradients = gradient(
                trainable_values, non_trainable_values, optimizer_values, mix, targets
            )
            trainable_values, optimizer_values = optimizer.stateless_apply(
                optimizer_values, gradients, trainable_values
            )
            return loss, (trainable_values, non_trainable_values, optimizer_values)

        self._step = jax.jit(step, donate_argnums=0)
        self._distribute = _jax_data_placement()

    def __call__(self, mix, targets):
        if self.state is None:
            self.state = tuple([v.value for v in group] for group in self.variables)
        loss, self.state = self._step(self.state, self._distribute(mix), self._distribute(targets))
        return loss

    def sync(self):
        """Write the values the step holds back into the Keras variables."""
        if self.state is not None:
            for group, values in zip(self.variables, self.state):
                for variable, value in zip(group, values):
                    variable.assign(value)
            self.state = None


def _jax_data_placement():
    """Batches split over the devices of the Keras distribution where one is set (data parallel),
    else left for JAX to place."""
    import jax

    distribution = keras.distribution.distribution()
    if distribution is None:
        return lambda batch: batch

    def place(batch):
        return jax.tree_util.tree_map(
            lambda x: jax.device_put(x, distribution.get_data_layout(x.shape).backend_layout), batch
        )

    return place


class _TorchStep:
    def __init__(self, model, optimizer, config, global_batch):
        self.model, self.optimizer, self.config, self.global_batch = model, optimizer, config, global_batch

    def __call__(self, mix, targets):
        import torch

        mix, targets = keras.tree.map_structure(ops.convert_to_tensor, (mix, targets))
        trainable = self.model.trainable_variables
        for variable in trainable:
            variable.value.grad = None
        loss = ops.sum(example_losses(self.model, mix, targets, self.config)) / self.global_batch
        self.optimizer.scale_loss(loss).backward()
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in trainable], trainable)
        return loss.detach()

    def sync(self):
        """The variables are the state: nothing to write back."""
