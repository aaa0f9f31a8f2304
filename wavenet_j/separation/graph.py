"""Whole-signal separation by windows in TensorFlow ops, for the exported SavedModel.

Written with TF ops on dynamic shapes so it runs eagerly, inside a ``tf.function`` and inside a
SavedModel that serves without wavenet_j. It cuts a signal by ``window_layout``, as
``separate_windows`` does, so the exported model gives the project's numbers.
"""

import tensorflow as tf

from wavenet_j.separation.windows import window_layout


def separate_signal(model, mix, batch_windows=8, hop=None, jit_compile=False, given=(0, 0)):
    """``mix`` ``[T, C]`` (a tensor) at the model's rate and channels -> ``{source: [T - sum(given), C]}``.

    The windows, ``hop`` and ``given`` of ``separate_windows``. Windows run ``batch_windows`` at a
    time in a ``tf.while_loop`` and each keeps only its part. ``jit_compile`` compiles the model's
    pass on a batch with XLA, on whole batches (the last one padded with repeats that keep nothing).
    """
    input_frames, output_frames = model.input_shape[1], model.outputs[0].shape[1]
    layout = window_layout(tf.shape(mix)[0], input_frames, output_frames, hop, given, tf.maximum)
    starts = tf.minimum(tf.range(layout.count) * layout.step, layout.last)
    ends = tf.concat([starts[1:], [layout.length]], axis=0)
    padded = tf.pad(
        mix[tf.maximum(layout.first, 0) :], [[tf.maximum(-layout.first, 0), layout.after], [0, 0]]
    )
    offsets, positions = tf.range(input_frames), tf.range(output_frames)
    batches = (layout.count + batch_windows - 1) // batch_windows
    names = list(model.output)
    forward = (
        tf.function(lambda windows: model(windows, training=False), jit_compile=True)
        if jit_compile
        else lambda windows: model(windows, training=False)
    )

    def run_batch(batch, parts):
        index = tf.range(batch * batch_windows, (batch + 1) * batch_windows)
        if not jit_compile:
            index = index[index < layout.count]
        window = tf.minimum(index, layout.count - 1)  # past the end: repeats of the last, kept nowhere
        lengths = tf.where(index < layout.count, tf.gather(ends - starts, window), 0)
        keep = positions[None, :] < lengths[:, None]
        batch_starts = tf.gather(starts, window)
        estimates = forward(tf.gather(padded, batch_starts[:, None] + offsets[None, :]))
        return batch + 1, {
            name: parts[name].write(batch, tf.cast(tf.boolean_mask(estimates[name], keep), mix.dtype))
            for name in names
        }

    parts = {
        name: tf.TensorArray(
            mix.dtype, size=batches, infer_shape=False, element_shape=tf.TensorShape([None, mix.shape[-1]])
        )
        for name in names
    }
    _, parts = tf.while_loop(lambda batch, _: batch < batches, run_batch, (0, parts), parallel_iterations=1)
    return {name: part.concat() for name, part in parts.items()}
